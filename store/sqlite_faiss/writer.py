"""Writes one generation: edits its SQLite file, then builds the FAISS file from the stored vectors and publishes."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import faiss
import numpy as np

from citewise.core.errors import CitewiseError
from citewise.core.index import NewPassage, NewSource
from citewise.core.lexemes import lexical_form
from citewise.core.types import PassageVectors, Source
from citewise.store.sqlite_faiss.layout import IndexLayout
from citewise.store.sqlite_faiss.schema import (
    DB_NAME,
    FAISS_NAME,
    SCHEMA,
    SCHEMA_VERSION,
    connect,
    encode_sentence_vectors,
    read_meta,
    rows_where_in,
    source_from_row,
    vectors_from_row,
)


class SqliteIndexWriter:
    """Edits one generation's SQLite file; `publish()` builds its FAISS file and makes it the live one."""

    def __init__(self, layout: IndexLayout, generation: Path, exact_limit: int) -> None:
        self.layout = layout
        self.generation = generation
        self.exact_limit = exact_limit
        self.conn = connect(generation / DB_NAME)
        self.conn.executescript(SCHEMA)
        self.published = False

    def meta(self) -> dict[str, str]:
        return read_meta(self.conn)

    def set_meta(self, values: Mapping[str, str]) -> None:
        self.conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            list(values.items()),
        )

    def sources_by_file(self) -> dict[str, Source]:
        rows = self.conn.execute("SELECT * FROM sources").fetchall()
        return {row["file"]: source_from_row(row) for row in rows}

    def remove_source(self, source_id: str) -> None:
        rows = self.conn.execute(
            "SELECT rowid, search_text FROM passages WHERE source_id = ?", (source_id,)
        ).fetchall()
        self.conn.executemany(
            "INSERT INTO passages_fts(passages_fts, rowid, search_text) VALUES ('delete', ?, ?)",
            [(row["rowid"], lexical_form(row["search_text"])) for row in rows],
        )
        self.conn.execute("DELETE FROM passages WHERE source_id = ?", (source_id,))
        self.conn.execute("DELETE FROM sources WHERE id = ?", (source_id,))

    def cached_vectors(self, text_hashes: Collection[str]) -> dict[str, PassageVectors]:
        rows = rows_where_in(self.conn, "SELECT text_hash, embedding, sentence_spans, sentence_vectors FROM passages",
                             "text_hash", list(text_hashes))
        return {row["text_hash"]: vectors_from_row(row) for row in rows}

    def add_source(self, new: NewSource) -> None:
        s = new.source
        self.conn.execute(
            "INSERT INTO sources(id, file, title, author, year, licence, origin, file_sha256, chars, text, pages,"
            " headings, kind, aliases) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (s.id, s.file, s.title, s.author, None if s.year is None else str(s.year), s.licence, s.origin,
             s.file_sha256, s.chars, new.text, json.dumps(new.pages), json.dumps(new.headings), s.kind,
             json.dumps(list(s.aliases))),
        )

    def add_passages(self, passages: Sequence[NewPassage]) -> None:
        for new in passages:
            p, vectors = new.passage, new.vectors
            cursor = self.conn.execute(
                "INSERT INTO passages(id, source_id, ordinal, start, end, text, search_text, tokens, page, heading,"
                " text_hash, embedding, sentence_spans, sentence_vectors) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (p.id, p.source_id, p.ordinal, p.start, p.end, p.text, new.search_text, p.tokens, p.page, p.heading,
                 new.text_hash, np.asarray(vectors.vector, dtype=np.float32).tobytes(), json.dumps(vectors.spans),
                 encode_sentence_vectors(vectors.sentence_vectors.reshape(len(vectors.spans), -1))),
            )
            self.conn.execute(
                "INSERT INTO passages_fts(rowid, search_text) VALUES (?, ?)",
                (cursor.lastrowid, lexical_form(new.search_text)),
            )

    def publish(self) -> dict[str, str]:
        """Builds vectors.faiss from every stored vector, then swaps CURRENT to this generation."""
        dim = self.meta().get("dim")
        if not dim:
            raise CitewiseError("internal: an index is published without its vector dimension in meta")
        rows = self.conn.execute("SELECT rowid, embedding FROM passages ORDER BY rowid").fetchall()
        ids = np.array([row["rowid"] for row in rows], dtype=np.int64)
        vectors = (
            np.frombuffer(b"".join(row["embedding"] for row in rows), dtype=np.float32).reshape(-1, int(dim))
            if rows else np.zeros((0, int(dim)), dtype=np.float32)
        )
        index, kind = build_faiss_index(vectors, ids, self.exact_limit)
        faiss.write_index(index, str(self.generation / FAISS_NAME))
        facts = {"index_kind": kind, "passages": str(len(ids))}
        self.set_meta({"schema": SCHEMA_VERSION, "faiss_index": kind, "passages": str(len(ids))})
        self.conn.commit()
        self.conn.execute("PRAGMA optimize")
        self.conn.close()
        self.layout.publish(self.generation)
        self.published = True
        return facts

    def close(self) -> None:
        if not self.published:
            self.conn.close()


def build_faiss_index(vectors: np.ndarray, ids: np.ndarray, exact_limit: int) -> tuple[faiss.Index, str]:
    """Exact inner product while small; HNSW past `exact_limit`, where exact search gets slow."""
    dim = vectors.shape[1]
    if len(vectors) <= exact_limit:
        base: faiss.Index = faiss.IndexFlatIP(dim)
        kind = "flat-ip"
    else:
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        # efSearch 256: recall@10 0.955 at p50 1.1 ms on 1M synthetic passages (128 gave 0.916); docs/PERFORMANCE.md
        hnsw.hnsw.efSearch = 256
        base, kind = hnsw, "hnsw32-ip"
    index = faiss.IndexIDMap2(base)
    if len(vectors):
        # Readers search with one thread (reader.py); building a graph is worth every core.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        try:
            index.add_with_ids(vectors, ids)
        finally:
            faiss.omp_set_num_threads(threads)
    return index, kind
