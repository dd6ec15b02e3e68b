"""Reads the generation that was published when the reader opened: pgvector HNSW for dense search, BM25 over
core's lexemes (lexical.py: postings, and tsvector and GIN for phrases) for lexical search."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import psycopg
from pgvector import Vector
from psycopg import sql
from psycopg_pool import ConnectionPool

from citewise.core.errors import CitewiseError, IndexMissingError
from citewise.core.index import TermMatch
from citewise.core.types import Passage, Source, StoredVectors
from citewise.store.postgres.lexical import LexicalSearch
from citewise.store.postgres.schema import (
    PASSAGE_COLUMNS,
    SCHEMA_VERSION,
    SOURCE_COLUMNS,
    VISIBLE,
    embedding_expression,
    passage_from_row,
    source_from_row,
    vectors_from_row,
)


class PostgresIndexReader:
    """A view of one generation, pinned at open. Thread-safe: each call borrows a pooled connection."""

    def __init__(self, pool: ConnectionPool, location: str) -> None:
        self.pool = pool
        with pool.connection() as conn:
            try:
                row = conn.execute("SELECT s.generation, s.token, g.meta FROM state s JOIN generations g"
                                   " USING (generation)").fetchone()
            except psycopg.errors.UndefinedTable:
                row = None
            if row is None:
                raise IndexMissingError(f"no index at {location}: run `citewise ingest` first")
            self.generation, self._token, self._meta = row["generation"], row["token"], dict(row["meta"])
            if self._meta.get("schema") != SCHEMA_VERSION:
                raise CitewiseError(f"index at {location} has schema {self._meta.get('schema')}; rebuild it "
                                    "(--rebuild)")
            rows = conn.execute(f"SELECT {SOURCE_COLUMNS} FROM sources WHERE {VISIBLE}", self._at()).fetchall()
        self._sources = {row["id"]: source_from_row(row) for row in rows}
        self._dim = int(self._meta["dim"])
        self._texts: dict[str, str] = {}
        passages = self.passage_count()
        self._lexical = LexicalSearch(self._rows, self.generation, passages,
                                      int(self._meta.get("lexical_tokens") or passages))

    def _at(self, **extra: object) -> dict[str, Any]:
        return {"generation": self.generation, **extra}

    def _rows(self, query: str | sql.Composable, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return conn.execute(query, params).fetchall()

    @property
    def token(self) -> str:
        return self._token

    @property
    def sources(self) -> dict[str, Source]:
        return self._sources

    @property
    def meta(self) -> dict[str, str]:
        return self._meta

    def source_text(self, source_id: str) -> str:
        if source_id not in self._texts:
            rows = self._rows(f"SELECT text FROM sources WHERE id = %(id)s AND {VISIBLE}", self._at(id=source_id))
            if not rows:
                raise KeyError(source_id)
            self._texts[source_id] = rows[0]["text"]
        return self._texts[source_id]

    def source_pages(self, source_id: str) -> list[tuple[int, int, int]]:
        rows = self._rows(f"SELECT pages FROM sources WHERE id = %(id)s AND {VISIBLE}", self._at(id=source_id))
        return [tuple(page) for page in rows[0]["pages"]] if rows else []

    def source_headings(self, source_id: str) -> list[tuple[int, str]]:
        rows = self._rows(f"SELECT headings FROM sources WHERE id = %(id)s AND {VISIBLE}", self._at(id=source_id))
        return [(int(offset), str(heading)) for offset, heading in rows[0]["headings"]] if rows else []

    def passage(self, passage_id: str) -> Passage | None:
        return self.passages([passage_id]).get(passage_id)

    def passages(self, passage_ids: Collection[str]) -> dict[str, Passage]:
        if not passage_ids:
            return {}
        rows = self._rows(f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE id = ANY(%(ids)s) AND {VISIBLE}",
                          self._at(ids=list(passage_ids)))
        return {row["id"]: passage_from_row(row) for row in rows}

    def passages_of(self, source_id: str) -> list[Passage]:
        rows = self._rows(f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE source_id = %(id)s AND {VISIBLE}"
                          " ORDER BY ordinal", self._at(id=source_id))
        return [passage_from_row(row) for row in rows]

    def passage_count(self) -> int:
        return sum(source.passages for source in self._sources.values())

    def dense_search(self, vector: np.ndarray, k: int,
                     source_ids: Collection[str] | None = None) -> list[tuple[str, float]]:
        if k < 1 or (source_ids is not None and not source_ids):
            return []
        # `<#>` is the negative inner product; on unit vectors the inner product is the cosine.
        distance = sql.SQL("{} <#> %(query)s").format(embedding_expression(self._dim))
        where = sql.SQL(VISIBLE + (" AND source_id = ANY(%(sources)s)" if source_ids is not None else ""))
        query = sql.SQL("SELECT id, {distance} AS distance FROM passages WHERE {where} ORDER BY {distance}"
                        " LIMIT %(k)s").format(distance=distance, where=where)
        params = self._at(query=Vector(np.asarray(vector, dtype=np.float32).ravel()), k=k,
                          sources=list(source_ids or ()))
        rows = self._rows(query, params)
        # Iterative index scans may return rows slightly out of order (relaxed_order); the contract is best first.
        return sorted(((row["id"], -float(row["distance"])) for row in rows), key=lambda hit: -hit[1])

    def lexical_search(self, terms: Sequence[str], k: int, source_ids: Collection[str] | None = None,
                       match: TermMatch = "any") -> list[tuple[str, float]]:
        return self._lexical.search(terms, k, source_ids, match)

    def document_frequency(self, term: str) -> int:
        return self._lexical.document_frequency(term)

    def passage_vectors(self, passage_ids: Sequence[str]) -> np.ndarray:
        if not passage_ids:
            return np.zeros((0, self._dim), dtype=np.float32)
        rows = self._rows(f"SELECT id, embedding FROM passages WHERE id = ANY(%(ids)s) AND {VISIBLE}",
                          self._at(ids=list(passage_ids)))
        by_id = {row["id"]: row["embedding"].to_numpy() for row in rows}
        return np.stack([by_id[passage_id] for passage_id in passage_ids]).astype(np.float32)

    def stored_vectors(self, passage_ids: Collection[str]) -> dict[str, StoredVectors]:
        if not passage_ids:
            return {}
        rows = self._rows(f"SELECT id, search_text, embedding, sentence_spans, sentence_vectors FROM passages"
                          f" WHERE id = ANY(%(ids)s) AND {VISIBLE}", self._at(ids=list(passage_ids)))
        return {row["id"]: StoredVectors.of_passage(vectors_from_row(row), row["search_text"]) for row in rows}

    def close(self) -> None:
        """Nothing to release: the connections belong to the store's pool."""
