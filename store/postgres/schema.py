"""The tables of an index in PostgreSQL, which rows a generation sees, and rows to and from the shared types.

Every row carries the generations it is visible in: from `added_in` up to, not including, `removed_in` (NULL: still
there). `state` names the published generation; a reader pins the one that was published when it opened, so a new
publish never changes what it sees, and a writer builds generation current + 1 in one transaction.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from urllib.parse import quote

import numpy as np
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from citewise.core.index import TermMatch
from citewise.core.lexemes import index_terms, index_terms_of, lexical_form
from citewise.core.types import Passage, PassageVectors, Source
from citewise.store.sqlite_faiss.schema import decode_sentence_vectors, year_out

# 4: what the SQLite index of schema 4 holds, Chinese lexical search included. 5: the lexemes are core's
# (core/lexemes.py, FTS5's own analysis), no longer PostgreSQL's `english` configuration, which dropped "can" and
# "t" and read "_History_." as `history._`, so that both backends count and rank the same words alike.
SCHEMA_VERSION = "5"

TABLES = """
CREATE TABLE IF NOT EXISTS state (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), generation bigint NOT NULL, token text NOT NULL
);
CREATE TABLE IF NOT EXISTS generations (
    generation bigint PRIMARY KEY, token text NOT NULL, meta jsonb NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sources (
    row_id bigserial PRIMARY KEY, id text NOT NULL, file text NOT NULL, title text NOT NULL, author text NOT NULL,
    year text, licence text NOT NULL, origin text NOT NULL, file_sha256 text NOT NULL, chars integer NOT NULL,
    text text NOT NULL, pages jsonb NOT NULL, headings jsonb NOT NULL, kind text NOT NULL, aliases jsonb NOT NULL,
    passages integer NOT NULL DEFAULT 0, added_in bigint NOT NULL, removed_in bigint
);
CREATE INDEX IF NOT EXISTS sources_id ON sources (id);
CREATE TABLE IF NOT EXISTS passages (
    row_id bigserial PRIMARY KEY, id text NOT NULL, source_id text NOT NULL, ordinal integer NOT NULL,
    start_offset integer NOT NULL, end_offset integer NOT NULL, text text NOT NULL, search_text text NOT NULL,
    tokens integer NOT NULL, page integer, heading text, text_hash text NOT NULL, embedding vector NOT NULL,
    sentence_spans integer[] NOT NULL, sentence_vectors bytea NOT NULL,
    lexical_text text NOT NULL,
    lexemes tsvector GENERATED ALWAYS AS (lexical_text::tsvector) STORED,
    lexical_length integer NOT NULL,
    added_in bigint NOT NULL, removed_in bigint
);
CREATE INDEX IF NOT EXISTS passages_id ON passages (id);
CREATE INDEX IF NOT EXISTS passages_source ON passages (source_id, ordinal);
CREATE INDEX IF NOT EXISTS passages_hash ON passages (text_hash);
CREATE INDEX IF NOT EXISTS passages_lexemes ON passages USING gin (lexemes);
CREATE TABLE IF NOT EXISTS postings (
    lexeme text NOT NULL, row_id bigint NOT NULL, tf integer NOT NULL, length integer NOT NULL,
    added_in bigint NOT NULL, removed_in bigint
);
CREATE INDEX IF NOT EXISTS postings_lexeme ON postings (lexeme) INCLUDE (row_id, tf, length, added_in, removed_in);
CREATE INDEX IF NOT EXISTS postings_row ON postings (row_id);
"""


def visible(alias: str = "") -> str:
    """The condition for the rows a generation sees; its one parameter is %(generation)s."""
    prefix = f"{alias}." if alias else ""
    return (f"{prefix}added_in <= %(generation)s AND ({prefix}removed_in IS NULL OR {prefix}removed_in >"
            " %(generation)s)")


VISIBLE = visible()

SOURCE_COLUMNS = ("id, file, title, author, year, licence, origin, file_sha256, chars, kind, aliases, passages")
PASSAGE_COLUMNS = "id, source_id, ordinal, start_offset, end_offset, text, tokens, page, heading"


def hnsw_index_name(dim: int) -> str:
    return f"passages_embedding_hnsw_{dim}"


def embedding_expression(dim: int) -> sql.Composable:
    """The indexed expression: the column holds vectors of any length, the HNSW index one length (the meta's dim)."""
    return sql.SQL("(embedding::vector({}))").format(sql.Literal(dim))


def redacted(url: str, schema: str) -> str:
    """The database as a user would name it in a message: never its password."""
    try:
        parts = conninfo_to_dict(url)
    except Exception:  # psycopg's ProgrammingError for a malformed URL; the message must still not leak it
        return "postgresql://(unparseable URL)"
    user = quote(parts.get("user", ""), safe="")
    host = parts.get("host", "")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user + '@' if user else ''}{host}{port}/{parts.get('dbname', '')} (schema {schema})"


# FTS5's bm25() constants, so that both backends rank alike.
BM25_K1, BM25_B = 1.2, 0.75
# The tables an index of this schema is made of, dropped when a rebuild starts from an older schema.
TABLE_NAMES = ("state", "generations", "sources", "passages", "postings")


def _quoted(lexeme: str) -> str:
    """A lexeme as a tsvector or tsquery literal writes it, so that no word is ever read as syntax."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(terms: list[str]) -> str:
    """The passage's index terms with their positions (1-based), as PostgreSQL reads a tsvector. PostgreSQL keeps
    256 positions of a lexeme at most: far more than a passage of a few hundred tokens holds."""
    positions: dict[str, list[int]] = {}
    for position, term in enumerate(terms, start=1):
        positions.setdefault(term, []).append(min(position, 16383))
    return " ".join(f"{_quoted(term)}:{','.join(map(str, found[:256]))}" for term, found in positions.items())


def lexical_columns_of(search_texts: list[str]) -> list[tuple[str, int]]:
    """Each passage's lexical_text (its lexemes as a tsvector literal, from which the `lexemes` column is generated)
    and lexical_length (BM25's document length: its tokens, as FTS5 counts them)."""
    return [(tsvector_literal(terms), len(terms))
            for terms in index_terms_of([lexical_form(text) for text in search_texts])]


def idf(passages: int, containing: int) -> float:
    """FTS5's inverse document frequency, floored at a small positive weight for very common terms."""
    value = math.log((passages - containing + 0.5) / (containing + 0.5))
    return value if value > 0 else 1e-6


def phrases_of(terms: Sequence[str], match: TermMatch) -> list[list[str]]:
    """What the terms ask for, as lexemes, as the embedded index's FTS5 expressions ask for it: each term a phrase of
    its lexemes (a hyphenated term, a Chinese word), a long run of such a script in "any" mode its overlapping
    character pairs, and with "phrase" all the words in a row."""
    if match == "phrase":
        together = index_terms(lexical_form(" ".join(terms)))
        return [together] if together else []
    phrases: list[list[str]] = []
    for term in terms:
        form = lexical_form(term)
        lexemes = index_terms(form)
        if match == "any" and len(lexemes) > 2 and form != term:
            phrases.extend([a, b] for a, b in zip(lexemes, lexemes[1:], strict=False))
        elif lexemes:
            phrases.append(lexemes)
    return phrases


def tsquery(phrases: Sequence[Sequence[str]], match: TermMatch) -> tuple[sql.Composable, dict[str, str]]:
    """A tsquery of the phrases (any of them, or all), written as a literal of quoted lexemes and sent as a
    parameter: no text search configuration touches it, and no word is read as query syntax."""
    joiner = " | " if match == "any" else " & "
    literal = joiner.join("(" + " <-> ".join(_quoted(lexeme) for lexeme in phrase) + ")" for phrase in phrases)
    return sql.SQL("%(query)s::tsquery"), {"query": literal}


def source_from_row(row: dict) -> Source:
    return Source(
        id=row["id"], file=row["file"], title=row["title"], author=row["author"], year=year_out(row["year"]),
        licence=row["licence"], origin=row["origin"], file_sha256=row["file_sha256"], chars=row["chars"],
        passages=row["passages"], kind=row["kind"], aliases=tuple(row["aliases"]),
    )


def source_values(source: Source) -> tuple[object, ...]:
    return (source.id, source.file, source.title, source.author, None if source.year is None else str(source.year),
            source.licence, source.origin, source.file_sha256, source.chars, source.kind,
            json.dumps(list(source.aliases)))


def passage_from_row(row: dict) -> Passage:
    return Passage(
        id=row["id"], source_id=row["source_id"], ordinal=row["ordinal"], start=row["start_offset"],
        end=row["end_offset"], text=row["text"], tokens=row["tokens"], page=row["page"], heading=row["heading"],
    )


def vectors_from_row(row: dict) -> PassageVectors:
    vector = np.asarray(row["embedding"].to_numpy(), dtype=np.float32)
    flat = row["sentence_spans"]
    spans = tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
    return PassageVectors(vector, spans, decode_sentence_vectors(bytes(row["sentence_vectors"]), len(spans),
                                                                 len(vector)))
