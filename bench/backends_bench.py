"""`citewise bench backends`: the embedded index (SQLite + FAISS) beside PostgreSQL + pgvector, in one run.

On the demo index: dense and lexical search latency through each backend's reader (the contract the service
uses), recall@10 of each dense search against exact search, and how many of the lexical top 10 agree. On a
synthetic index (bench/scale_bench.py's vectors): build time, latency and recall@10 of FAISS's automatic choice
against pgvector's HNSW.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from citewise.bench.common import load_questions, machine, percentile_ms
from citewise.bench.scale_bench import K, exact_neighbours, recall_at_k, synthetic_vectors
from citewise.core.index import IndexReader, NewPassage, NewSource
from citewise.core.settings import Settings
from citewise.core.text import query_terms
from citewise.core.types import Passage, PassageVectors, Source, content_hash
from citewise.ingest.embedder import load_embedder
from citewise.store.copy import copy_index
from citewise.store.postgres import PostgresStore
from citewise.store.sqlite_faiss import SqliteIndexReader
from citewise.store.sqlite_faiss.writer import build_faiss_index

SOURCE_SIZE = 10_000  # synthetic passages per synthetic source


@dataclass
class SearchFigures:
    backend: str
    passages: int
    build_seconds: float | None
    dense_p50_ms: float | None
    dense_p95_ms: float | None
    recall_at_10: float
    lexical_p50_ms: float | None = None
    lexical_p95_ms: float | None = None


@dataclass
class EfPoint:
    ef_search: int
    dense_p50_ms: float | None
    dense_p95_ms: float | None
    recall_at_10: float


@dataclass
class BackendsBench:
    queries: int
    demo: list[SearchFigures] = field(default_factory=list)
    demo_ef_sweep: list[EfPoint] = field(default_factory=list)  # pgvector's efSearch on the demo index
    lexical_top10_agreement: float | None = None  # mean share of the SQLite top 10 that PostgreSQL also ranks top 10
    synthetic: list[SearchFigures] = field(default_factory=list)
    synthetic_ef_sweep: list[EfPoint] = field(default_factory=list)
    ef_search: int = 0
    machine: dict[str, object] = field(default_factory=dict)


def _timed(search: Callable[[object], list[tuple[str, float]]], inputs: list) -> tuple[list[float], list[list[str]]]:
    search(inputs[0])  # the first call pays connections and lazy loads
    latencies, found = [], []
    for item in inputs:
        started = time.perf_counter()
        hits = search(item)
        latencies.append(time.perf_counter() - started)
        found.append([passage_id for passage_id, _ in hits])
    return latencies, found


def _figures(name: str, reader: IndexReader, vectors: np.ndarray, exact: list[list[str]], terms: list[list[str]] | None,
             build: float | None) -> tuple[SearchFigures, list[list[str]]]:
    dense, found = _timed(lambda v: reader.dense_search(v, K), list(vectors))
    figures = SearchFigures(name, reader.passage_count(), build, percentile_ms(dense, 50), percentile_ms(dense, 95),
                            recall_at_k(found, exact))
    lexical_found: list[list[str]] = []
    if terms is not None:
        lexical, lexical_found = _timed(lambda t: reader.lexical_search(t, K), terms)
        figures.lexical_p50_ms, figures.lexical_p95_ms = percentile_ms(lexical, 50), percentile_ms(lexical, 95)
    return figures, lexical_found


def _ef_sweep(store: PostgresStore, efs: tuple[int, ...], vectors: np.ndarray, exact: list[list[str]]
              ) -> list[EfPoint]:
    """The same dense searches with other efSearch values (a store per value: each pool sets it per connection)."""
    points = []
    for ef in efs:
        swept = PostgresStore(store.url, schema=store.schema, ef_search=ef)
        reader = swept.reader()
        latencies, found = _timed(lambda v: reader.dense_search(v, K), list(vectors))  # noqa: B023 - used at once
        points.append(EfPoint(ef, percentile_ms(latencies, 50), percentile_ms(latencies, 95),
                              recall_at_k(found, exact)))
        swept.close()
    return points


def bench_demo(result: BackendsBench, settings: Settings, index: Path, store: PostgresStore,
               efs: tuple[int, ...] = ()) -> None:
    questions = load_questions()[: result.queries]
    embedder = load_embedder(settings.embedding)
    vectors = embedder.embed(questions)
    terms = [query_terms(q) for q in questions]
    sqlite = SqliteIndexReader(index)
    started = time.perf_counter()
    copy_index(index, store)
    copy_seconds = round(time.perf_counter() - started, 2)
    postgres = store.reader()
    ids = [p.id for sid in sqlite.sources for p in sqlite.passages_of(sid)]
    everything = sqlite.passage_vectors(ids)
    exact = [[ids[i] for i in np.argsort(-(everything @ v))[:K]] for v in vectors]
    ours, sqlite_lexical = _figures("sqlite+faiss (" + sqlite.meta.get("faiss_index", "?") + ")", sqlite, vectors,
                                    exact, terms, None)
    theirs, pg_lexical = _figures("postgresql+pgvector (" + postgres.meta.get("vector_index", "?") + ")", postgres,
                                  vectors, exact, terms, copy_seconds)
    result.demo = [ours, theirs]
    result.demo_ef_sweep = _ef_sweep(store, efs, vectors, exact)
    agreement = [len(set(a) & set(b)) / len(a) for a, b in zip(sqlite_lexical, pg_lexical, strict=True) if a]
    result.lexical_top10_agreement = round(float(np.mean(agreement)), 4) if agreement else None
    sqlite.close()


def _synthetic_store(store: PostgresStore, base: np.ndarray) -> float:
    """Writes `base` as passages with empty texts through the backend's own writer; returns the seconds taken."""
    started = time.perf_counter()
    no_sentences = np.zeros((0, base.shape[1]), dtype=np.float32)
    with store.writing(rebuild=True) as writer:
        for first in range(0, len(base), SOURCE_SIZE):
            source_id = content_hash("synthetic", str(first))
            writer.add_source(NewSource(Source(source_id, f"synthetic-{first}.txt", "synthetic", "", None, "", "",
                                               "", 0), "", [], []))
            writer.add_passages([
                NewPassage(Passage(str(i), source_id, i - first, 0, 0, "", 0), "", str(i),
                           PassageVectors(base[i], (), no_sentences))
                for i in range(first, min(first + SOURCE_SIZE, len(base)))])
        writer.set_meta({"dim": str(base.shape[1])})
        writer.publish()
    return round(time.perf_counter() - started, 2)


class _FaissReader:
    """FAISS's automatic choice behind the two calls the figures need (the synthetic index has no SQLite file)."""

    def __init__(self, base: np.ndarray, exact_limit: int) -> None:
        started = time.perf_counter()
        self.index, self.kind = build_faiss_index(base, np.arange(len(base), dtype=np.int64), exact_limit)
        self.build_seconds = round(time.perf_counter() - started, 2)

    def dense_search(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        scores, ids = self.index.search(vector.reshape(1, -1), k)
        return [(str(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def passage_count(self) -> int:
        return int(self.index.ntotal)


def bench_synthetic(result: BackendsBench, settings: Settings, store: PostgresStore, n: int,
                    efs: tuple[int, ...] = ()) -> None:
    import faiss

    vectors = synthetic_vectors(n + result.queries, seed=7)
    base, queries = vectors[:n], np.ascontiguousarray(vectors[n:])
    exact = [[str(i) for i in row] for row in exact_neighbours(base, queries)]
    threads = faiss.omp_get_max_threads()
    faiss_reader = _FaissReader(base, settings.ingest.exact_index_limit)
    faiss.omp_set_num_threads(1)  # one query at a time, one thread, as the service searches
    try:
        ours, _ = _figures(f"faiss ({faiss_reader.kind})", faiss_reader, queries, exact, None,
                           faiss_reader.build_seconds)
    finally:
        faiss.omp_set_num_threads(threads)
    del faiss_reader
    build = _synthetic_store(store, base)
    theirs, _ = _figures("postgresql+pgvector (hnsw16-ip)", store.reader(), queries, exact, None, build)
    result.synthetic = [ours, theirs]
    result.synthetic_ef_sweep = _ef_sweep(store, efs, queries, exact)


def _fresh(store: PostgresStore) -> PostgresStore:
    """The store with its schema dropped, so that build times are those of a new index."""
    from psycopg import sql

    with store.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(store.schema)))
    return store


def bench_backends(settings: Settings, index: Path | None, url: str, synthetic: int | None, queries: int = 200,
                   efs: tuple[int, ...] = (), schema_prefix: str = "bench") -> BackendsBench:
    result = BackendsBench(queries=queries, ef_search=settings.store.ef_search)
    if index is not None:
        demo = _fresh(PostgresStore(url, schema=f"{schema_prefix}_demo", ef_search=settings.store.ef_search))
        bench_demo(result, settings, index, demo, efs)
        demo.close()
    if synthetic:
        store = _fresh(PostgresStore(url, schema=f"{schema_prefix}_synthetic", ef_search=settings.store.ef_search))
        bench_synthetic(result, settings, store, synthetic, efs)
        store.close()
    result.machine = machine()
    return result


def as_dict(result: BackendsBench) -> dict[str, object]:
    return asdict(result)
