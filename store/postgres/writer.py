"""Builds the next generation inside one transaction; `publish()` makes it current and commits."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import psycopg
from pgvector import Vector
from psycopg import sql

from citewise.core.errors import CitewiseError
from citewise.core.index import NewPassage, NewSource
from citewise.core.types import PassageVectors, Source
from citewise.store.postgres.lexical import PUBLISH_POSTINGS
from citewise.store.postgres.schema import (
    SCHEMA_VERSION,
    SOURCE_COLUMNS,
    VISIBLE,
    embedding_expression,
    hnsw_index_name,
    lexical_columns_of,
    source_from_row,
    source_values,
    vectors_from_row,
)
from citewise.store.sqlite_faiss.schema import encode_sentence_vectors

# pgvector's defaults; efSearch is set per connection (settings.store.ef_search).
HNSW_M, HNSW_EF_CONSTRUCTION = 16, 64
PASSAGE_COPY = ("COPY passages (id, source_id, ordinal, start_offset, end_offset, text, search_text, tokens,"
                " page, heading, text_hash, embedding, sentence_spans, sentence_vectors, lexical_text, lexical_length,"
                " added_in)"
                " FROM STDIN (FORMAT BINARY)")
PASSAGE_TYPES = ["text", "text", "int4", "int4", "int4", "text", "text", "int4", "int4", "text", "text", "vector",
                 "int4[]", "bytea", "text", "int4", "int8"]


class PostgresIndexWriter:
    """Writes generation `previous + 1` on a connection holding the writers' lock and an open transaction."""

    def __init__(self, conn: psycopg.Connection, previous: int, meta: dict[str, str]) -> None:
        self.conn = conn
        self.previous = previous
        self.generation = previous + 1
        self._meta = dict(meta)
        self.published = False

    def _visible(self, **extra: object) -> dict[str, object]:
        return {"generation": self.generation, **extra}

    def meta(self) -> dict[str, str]:
        return dict(self._meta)

    def set_meta(self, values: Mapping[str, str]) -> None:
        self._meta.update({key: str(value) for key, value in values.items()})

    def sources_by_file(self) -> dict[str, Source]:
        rows = self.conn.execute(f"SELECT {SOURCE_COLUMNS} FROM sources WHERE {VISIBLE}", self._visible()).fetchall()
        return {row["file"]: source_from_row(row) for row in rows}

    def remove_source(self, source_id: str) -> None:
        for table in ("sources", "passages"):
            column = "id" if table == "sources" else "source_id"
            # Rows of earlier generations end here; rows this session added never existed for anyone else.
            self.conn.execute(f"UPDATE {table} SET removed_in = %(generation)s WHERE {column} = %(id)s"
                              " AND added_in < %(generation)s AND removed_in IS NULL", self._visible(id=source_id))
            self.conn.execute(f"DELETE FROM {table} WHERE {column} = %(id)s AND added_in = %(generation)s",
                              self._visible(id=source_id))

    def remove_everything(self) -> None:
        for table in ("sources", "passages"):
            self.conn.execute(f"UPDATE {table} SET removed_in = %(generation)s WHERE removed_in IS NULL",
                              self._visible())

    def cached_vectors(self, text_hashes: Collection[str]) -> dict[str, PassageVectors]:
        rows = self.conn.execute(
            f"SELECT DISTINCT ON (text_hash) text_hash, embedding, sentence_spans, sentence_vectors FROM passages"
            f" WHERE text_hash = ANY(%(hashes)s) AND {VISIBLE}", self._visible(hashes=list(text_hashes))).fetchall()
        return {row["text_hash"]: vectors_from_row(row) for row in rows}

    def add_source(self, new: NewSource) -> None:
        self.conn.execute(
            "INSERT INTO sources (id, file, title, author, year, licence, origin, file_sha256, chars, kind, aliases,"
            " text, pages, headings, added_in) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (*source_values(new.source), new.text, json.dumps(new.pages), json.dumps(new.headings),
             self.generation),
        )

    def add_passages(self, passages: Sequence[NewPassage]) -> None:
        lexical = lexical_columns_of([new.search_text for new in passages])
        with self.conn.cursor() as cursor, cursor.copy(PASSAGE_COPY) as copy:
            copy.set_types(PASSAGE_TYPES)
            for new, lexical_text_and_length in zip(passages, lexical, strict=True):
                p, vectors = new.passage, new.vectors
                spans = [offset for span in vectors.spans for offset in span]
                sentence_blob = encode_sentence_vectors(
                    vectors.sentence_vectors.reshape(len(vectors.spans), len(vectors.vector)))
                copy.write_row((p.id, p.source_id, p.ordinal, p.start, p.end, p.text, new.search_text, p.tokens,
                                p.page, p.heading, new.text_hash, Vector(np.asarray(vectors.vector, np.float32)),
                                spans, sentence_blob, *lexical_text_and_length, self.generation))

    def publish(self) -> dict[str, str]:
        """Indexes the vectors, makes this generation current, drops rows no reader may still need, commits."""
        dim = self._meta.get("dim")
        if not dim:
            raise CitewiseError("internal: an index is published without its vector dimension in meta")
        self._ensure_vector_index(int(dim))
        visible = self._visible()
        self.conn.execute(
            "UPDATE sources s SET passages = (SELECT count(*) FROM passages p WHERE p.source_id = s.id"
            " AND p.added_in = %(generation)s) WHERE s.added_in = %(generation)s", visible)
        totals = self.conn.execute(f"SELECT count(*) AS n, coalesce(sum(lexical_length), 0) AS tokens FROM passages"
                                   f" WHERE {VISIBLE}", visible).fetchone()
        count = totals["n"]
        kind = f"hnsw{HNSW_M}-ip (pgvector)"
        # BM25's collection statistics for this generation, read by its readers.
        self.set_meta({"schema": SCHEMA_VERSION, "vector_index": kind, "passages": str(count),
                       "lexical_tokens": str(totals["tokens"])})
        token = f"{self.generation}-{uuid.uuid4().hex[:8]}"
        self.conn.execute("INSERT INTO generations (generation, token, meta) VALUES (%s, %s, %s)"
                          " ON CONFLICT (generation) DO UPDATE SET token = excluded.token, meta = excluded.meta,"
                          " published_at = now()", (self.generation, token, json.dumps(self._meta)))
        self.conn.execute("INSERT INTO state (generation, token) VALUES (%s, %s) ON CONFLICT (only_row)"
                          " DO UPDATE SET generation = excluded.generation, token = excluded.token",
                          (self.generation, token))
        # A reader pinned to the previous generation keeps working; older ones are gone (the service swaps
        # to a new generation within a second of its publication).
        for statement in PUBLISH_POSTINGS:
            self.conn.execute(statement, visible)
        for table in ("sources", "passages", "postings"):
            self.conn.execute(f"DELETE FROM {table} WHERE removed_in <= %(previous)s", {"previous": self.previous})
        self.conn.execute("DELETE FROM generations WHERE generation < %s", (self.previous,))
        self.conn.commit()
        self.published = True
        self.conn.autocommit = True
        self.conn.execute("ANALYZE passages, postings")  # fresh statistics for the planner's choice of index
        return {"index_kind": kind, "passages": str(count)}

    def _ensure_vector_index(self, dim: int) -> None:
        """An HNSW index (inner product: the vectors are unit length) on the column cast to the meta's dim, built
        once by the first ingest from all its rows and kept up to date by later inserts."""
        name = hnsw_index_name(dim)
        exists = self.conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (name,)).fetchone()["found"]
        if exists:
            return
        rows = self.conn.execute("SELECT count(*) AS n FROM passages").fetchone()["n"]
        # The graph is built fast while it fits in maintenance_work_mem (vectors plus links, about 1.3x their
        # bytes), slowly on disk past that; the server's other workers help build it.
        memory_mb = min(4096, max(64, int(rows * (dim * 4 + 8 * 2 * HNSW_M + 64) * 1.3 / 2**20) + 64))
        workers = max(0, (os.cpu_count() or 1) - 1)
        self.conn.execute("SELECT set_config('maintenance_work_mem', %s, true),"
                          " set_config('max_parallel_maintenance_workers', %s, true)", (f"{memory_mb}MB", str(workers)))
        self.conn.execute(sql.SQL("CREATE INDEX {} ON passages USING hnsw ({} vector_ip_ops) WITH (m = {}, "
                                  "ef_construction = {})").format(
            sql.Identifier(name), embedding_expression(dim), sql.Literal(HNSW_M), sql.Literal(HNSW_EF_CONSTRUCTION)))
