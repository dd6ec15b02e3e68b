"""The SQLite file of a generation: its tables, rows to and from the shared types, and FTS5 expressions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from citewise.core.index import TermMatch
from citewise.core.lexemes import TOKENIZER, lexical_form
from citewise.core.types import Passage, PassageVectors, Source
from citewise.store.sqlite_faiss.lexical import term_expression

# 2: passages carry their sentences' spans and vectors. 3: sources carry a kind and aliases.
# 4: FTS5 is given each character of scripts written without spaces apart (lexical.py), so Chinese can be found.
SCHEMA_VERSION = "4"
# What each schema brought, for the message that asks for a rebuild or an upgrade.
SCHEMA_CHANGES = {"4": "lexical search of Chinese, Japanese, Thai and other text written without spaces"}
# Older schemas an ingest upgrades in place, without embedding anything again (lexical.upgrade_fts).
UPGRADABLE = frozenset({"3"})
DB_NAME = "index.sqlite"
FAISS_NAME = "vectors.faiss"

# FTS5 splits, folds and stems as core/lexemes.py says every backend must (TOKENIZER).
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    id TEXT PRIMARY KEY, file TEXT NOT NULL UNIQUE, title TEXT NOT NULL, author TEXT NOT NULL,
    year TEXT, licence TEXT NOT NULL, origin TEXT NOT NULL, file_sha256 TEXT NOT NULL,
    chars INTEGER NOT NULL, text TEXT NOT NULL, pages TEXT NOT NULL, headings TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '', aliases TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS passages (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source_id TEXT NOT NULL REFERENCES sources(id),
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL,
    search_text TEXT NOT NULL, tokens INTEGER NOT NULL, page INTEGER, heading TEXT,
    text_hash TEXT NOT NULL, embedding BLOB NOT NULL, sentence_spans TEXT NOT NULL, sentence_vectors BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_source ON passages(source_id, ordinal);
CREATE INDEX IF NOT EXISTS passages_hash ON passages(text_hash);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    search_text, content='passages', content_rowid='rowid', tokenize='{TOKENIZER}'
);
"""
# SQLite bounds the parameters of one statement; IN lists are sent in slices of this many.
IN_BATCH = 500


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def rows_where_in(conn: sqlite3.Connection, select: str, column: str, values: Sequence) -> Iterator[sqlite3.Row]:
    """`select` + `WHERE column IN (values)`, in slices that stay under SQLite's limit on bound parameters."""
    values = list(values)
    for i in range(0, len(values), IN_BATCH):
        batch = values[i : i + IN_BATCH]
        yield from conn.execute(f"{select} WHERE {column} IN ({','.join('?' * len(batch))})", batch)


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM meta")}


def fts_expression(terms: Sequence[str], match: TermMatch) -> str:
    """An FTS5 MATCH expression for plain words: each one quoted, so no word can be read as FTS5 syntax."""
    cleaned = [term.replace('"', " ").strip() for term in terms]
    quoted = [term_expression(term, match) for term in cleaned if term]
    if not quoted:
        return ""
    if match == "phrase":
        return '"' + " ".join(lexical_form(" ".join(cleaned)).split()) + '"'
    return (" AND " if match == "all" else " OR ").join(quoted)


def schema_message(location: object, found: str | None) -> str:
    """Why an index of another schema cannot be read, and how to repair it."""
    change = SCHEMA_CHANGES.get(SCHEMA_VERSION, "")
    repair = ("run `citewise ingest PATH...` to upgrade it in place (nothing is embedded again), or "
              "`citewise ingest --rebuild PATH...`" if found in UPGRADABLE else "run `citewise ingest --rebuild`")
    return (f"the index at {location} has schema {found!r}, and this version of citewise reads schema "
            f"{SCHEMA_VERSION!r}{f' ({change})' if change else ''}; {repair}")


def year_out(value: str | None) -> int | str | None:
    if value is None or value == "":
        return None
    return int(value) if value.isdigit() else value


def source_from_row(row: sqlite3.Row, passages: int = 0) -> Source:
    return Source(
        id=row["id"], file=row["file"], title=row["title"], author=row["author"], year=year_out(row["year"]),
        licence=row["licence"], origin=row["origin"], file_sha256=row["file_sha256"], chars=row["chars"],
        passages=passages, kind=row["kind"], aliases=tuple(json.loads(row["aliases"])),
    )


def pages_from_json(stored: str) -> list[tuple[int, int, int]]:
    """A source's page table as its `pages` column holds it (JSON lists) back as tuples."""
    return [tuple(page) for page in json.loads(stored)]


def headings_from_json(stored: str) -> list[tuple[int, str]]:
    """A source's headings as its `headings` column holds them (JSON lists) back as (offset, heading)."""
    return [(int(offset), str(heading)) for offset, heading in json.loads(stored)]


def passage_from_row(row: sqlite3.Row) -> Passage:
    return Passage(
        id=row["id"], source_id=row["source_id"], ordinal=row["ordinal"], start=row["start"], end=row["end"],
        text=row["text"], tokens=row["tokens"], page=row["page"], heading=row["heading"],
    )


def encode_sentence_vectors(vectors: np.ndarray) -> bytes:
    """int8 with one float32 scale per row: a quarter of float32's bytes, cosines within ~0.003 of exact."""
    vectors = np.asarray(vectors, dtype=np.float32)
    scales = np.abs(vectors).max(axis=1) / 127.0 if len(vectors) else np.zeros(0, dtype=np.float32)
    safe = np.where(scales > 0, scales, 1.0)[:, None]
    quantised = np.clip(np.rint(vectors / safe), -127, 127).astype(np.int8)
    return scales.astype(np.float32).tobytes() + quantised.tobytes()


def decode_sentence_vectors(blob: bytes, count: int, dim: int) -> np.ndarray:
    scales = np.frombuffer(blob, dtype=np.float32, count=count)
    quantised = np.frombuffer(blob, dtype=np.int8, offset=4 * count).reshape(count, dim)
    return quantised.astype(np.float32) * scales[:, None]


def vectors_from_row(row: sqlite3.Row) -> PassageVectors:
    vector = np.frombuffer(row["embedding"], dtype=np.float32)
    spans = tuple(tuple(span) for span in json.loads(row["sentence_spans"]))
    return PassageVectors(vector, spans, decode_sentence_vectors(row["sentence_vectors"], len(spans), len(vector)))
