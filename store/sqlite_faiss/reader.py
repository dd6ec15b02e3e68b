"""Reads one published generation: SQLite for sources, passages and FTS5 BM25; FAISS for dense search."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import faiss
import numpy as np

from citewise.core.errors import IndexIncompatibleError, IndexMissingError
from citewise.core.index import TermMatch
from citewise.core.types import Passage, Source, StoredVectors
from citewise.store.sqlite_faiss.layout import IndexLayout
from citewise.store.sqlite_faiss.schema import (
    DB_NAME,
    FAISS_NAME,
    SCHEMA_VERSION,
    connect,
    fts_expression,
    headings_from_json,
    pages_from_json,
    passage_from_row,
    read_meta,
    rows_where_in,
    schema_message,
    source_from_row,
    vectors_from_row,
)

# One query gains nothing from OpenMP threads on two cores, and on a busy machine they spin-wait on each other:
# a flat search of 20k vectors took 1.3 ms with one thread against 48 ms with two (docs/PERFORMANCE.md).
faiss.omp_set_num_threads(1)


class SqliteIndexReader:
    """Read-only view of one published generation."""

    def __init__(self, root: Path) -> None:
        layout = IndexLayout(root)
        generation = layout.current()
        if generation is None:
            name = layout.named()
            if name is not None:
                raise layout.broken(name, f"{name}/{DB_NAME} does not exist")
            raise IndexMissingError(f"no index at {root}: run `citewise ingest` first (or pass --index DIR)")
        self.generation = generation
        self.conn = connect(generation / DB_NAME, readonly=True)
        try:
            self._meta = read_meta(self.conn)
            if self._meta.get("schema") != SCHEMA_VERSION:
                raise IndexIncompatibleError(schema_message(root, self._meta.get("schema")))
            counts = dict(self.conn.execute("SELECT source_id, COUNT(*) FROM passages GROUP BY source_id"))
            rows = self.conn.execute("SELECT id, file, title, author, year, licence, origin, file_sha256, chars,"
                                     " kind, aliases FROM sources").fetchall()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise layout.broken(generation.name, f"its {DB_NAME} cannot be read ({exc})") from None
        except BaseException:
            self.conn.close()
            raise
        try:
            self._faiss = faiss.read_index(str(generation / FAISS_NAME))
        except RuntimeError:
            self.conn.close()
            state = "is damaged" if (generation / FAISS_NAME).is_file() else "does not exist"
            raise layout.broken(generation.name, f"its {FAISS_NAME} {state}") from None
        self._sources = {row["id"]: source_from_row(row, counts.get(row["id"], 0)) for row in rows}
        self._texts: dict[str, str] = {}
        self._ids: list[str] | None = None  # FAISS ids are rowids; these map them to passage ids and back
        self._rowids: dict[str, int] = {}
        self._rowids_by_source: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    @property
    def token(self) -> str:
        return self.generation.name

    @property
    def sources(self) -> dict[str, Source]:
        return self._sources

    @property
    def meta(self) -> dict[str, str]:
        return self._meta

    def source_text(self, source_id: str) -> str:
        if source_id not in self._texts:
            row = self.conn.execute("SELECT text FROM sources WHERE id = ?", (source_id,)).fetchone()
            if row is None:
                raise KeyError(source_id)
            self._texts[source_id] = row["text"]
        return self._texts[source_id]

    def source_pages(self, source_id: str) -> list[tuple[int, int, int]]:
        row = self.conn.execute("SELECT pages FROM sources WHERE id = ?", (source_id,)).fetchone()
        return pages_from_json(row["pages"]) if row else []

    def source_headings(self, source_id: str) -> list[tuple[int, str]]:
        row = self.conn.execute("SELECT headings FROM sources WHERE id = ?", (source_id,)).fetchone()
        return headings_from_json(row["headings"]) if row else []

    def passage(self, passage_id: str) -> Passage | None:
        row = self.conn.execute("SELECT * FROM passages WHERE id = ?", (passage_id,)).fetchone()
        return passage_from_row(row) if row else None

    def passages(self, passage_ids: Collection[str]) -> dict[str, Passage]:
        rows = rows_where_in(self.conn, "SELECT * FROM passages", "id", list(passage_ids))
        return {row["id"]: passage_from_row(row) for row in rows}

    def passages_of(self, source_id: str) -> list[Passage]:
        rows = self.conn.execute("SELECT * FROM passages WHERE source_id = ? ORDER BY ordinal", (source_id,))
        return [passage_from_row(row) for row in rows]

    def passage_count(self) -> int:
        return int(self._faiss.ntotal)

    def _id_maps(self) -> list[str]:
        """rowid -> passage id (a list indexed by rowid), read once on first use."""
        with self._lock:
            if self._ids is None:
                rows = self.conn.execute("SELECT rowid, id, source_id FROM passages").fetchall()
                ids = [""] * (max((row[0] for row in rows), default=0) + 1)
                for rowid, passage_id, source_id in rows:
                    ids[rowid] = passage_id
                    self._rowids[passage_id] = rowid
                    self._rowids_by_source.setdefault(source_id, []).append(rowid)
                self._ids = ids
            return self._ids

    def dense_search(self, vector: np.ndarray, k: int,
                     source_ids: Collection[str] | None = None) -> list[tuple[str, float]]:
        if self._faiss.ntotal == 0 or k < 1:
            return []
        ids = self._id_maps()
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if source_ids is None:
            scores, found = self._faiss.search(query, k)
        else:
            allowed = [rowid for sid in source_ids for rowid in self._rowids_by_source.get(sid, ())]
            if not allowed:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
            scores, found = self._faiss.search(query, k, params=params)
        return [(ids[int(i)], float(s)) for i, s in zip(found[0], scores[0], strict=True) if i >= 0]

    def lexical_search(self, terms: Sequence[str], k: int, source_ids: Collection[str] | None = None,
                       match: TermMatch = "any") -> list[tuple[str, float]]:
        expression = fts_expression(terms, match)
        if not expression or k < 1 or (source_ids is not None and not source_ids):
            return []
        sql = ("SELECT p.id, bm25(passages_fts) AS score FROM passages_fts JOIN passages p ON p.rowid ="
               " passages_fts.rowid WHERE passages_fts MATCH ?")
        parameters: list[object] = [expression]
        if source_ids is not None:
            sql += f" AND p.source_id IN ({','.join('?' * len(source_ids))})"
            parameters += list(source_ids)
        try:
            rows = self.conn.execute(sql + " ORDER BY score LIMIT ?", (*parameters, k)).fetchall()
        except sqlite3.OperationalError:  # a word FTS5 still cannot take (they are quoted): it finds nothing
            return []
        return [(row["id"], -float(row["score"])) for row in rows]

    def document_frequency(self, term: str) -> int:
        expression = fts_expression(term.split(), "phrase")
        if not expression:
            return 0
        try:
            row = self.conn.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?",
                                    (expression,)).fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0])

    def passage_vectors(self, passage_ids: Sequence[str]) -> np.ndarray:
        if not passage_ids:
            return np.zeros((0, self._faiss.d), dtype=np.float32)
        self._id_maps()
        return self._faiss.reconstruct_batch(np.asarray([self._rowids[p] for p in passage_ids], dtype=np.int64))

    def stored_vectors(self, passage_ids: Collection[str]) -> dict[str, StoredVectors]:
        rows = rows_where_in(self.conn, "SELECT id, search_text, embedding, sentence_spans, sentence_vectors"
                             " FROM passages", "id", list(passage_ids))
        return {row["id"]: StoredVectors.of_passage(vectors_from_row(row), row["search_text"]) for row in rows}

    def close(self) -> None:
        """Lets go of the generation's files and memory, even while something still holds this reader."""
        self.conn.close()
        self._faiss = None
        self._texts.clear()
