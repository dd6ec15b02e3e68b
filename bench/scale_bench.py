"""`citewise bench scale`: the automatically chosen FAISS index on synthetic passages of growing count.

Synthetic vectors have topic structure (topic centre + subtopic offset + passage noise, normalised), so that
neighbours are meaningful the way sentence embeddings' are; uniformly random 384-d vectors would have none.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import faiss
import numpy as np

from citewise.bench.common import machine, percentile_ms
from citewise.store.sqlite_faiss.writer import build_faiss_index

DIM = 384
K = 10


@dataclass
class EfPoint:
    ef_search: int
    p50_ms: float | None
    p95_ms: float | None
    recall_at_10: float


@dataclass
class ScalePoint:
    passages: int
    index_kind: str
    hnsw_m: int | None
    build_seconds: float
    bytes_per_passage: float
    p50_ms: float | None
    p95_ms: float | None
    p50_ms_1thread: float | None  # the same queries with FAISS's OpenMP pool at one thread
    p95_ms_1thread: float | None
    recall_at_10: float
    ef_search: int | None
    ef_sweep: list[EfPoint] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)


def _unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    block = rng.standard_normal((rows, DIM), dtype=np.float32)
    return block / np.linalg.norm(block, axis=1, keepdims=True)


# Squared weights of the shared direction, topic, subtopic, micro-topic and own noise: chosen so that
# random pairs (~0.22), nearest neighbours (~0.65) and 10th neighbours (~0.58) score about as MiniLM
# passages of the demo corpus do (measured 0.22, 0.68, 0.57).
_LEVEL_WEIGHTS = np.sqrt(np.array([0.22, 0.15, 0.12, 0.13, 0.38], dtype=np.float32))
_SUBTOPICS, _MICRO = 20, 10


def synthetic_vectors(n: int, seed: int, chunk: int = 100_000) -> np.ndarray:
    """`n` unit vectors of dim 384 in a topic hierarchy; generated in chunks to bound peak memory."""
    rng = np.random.default_rng(seed)
    topics = max(4, n // 2000)
    shared = _unit(rng, 1)
    topic, sub, micro = _unit(rng, topics), _unit(rng, topics * _SUBTOPICS), _unit(rng, topics * _SUBTOPICS * _MICRO)
    w = _LEVEL_WEIGHTS
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        m = rng.integers(0, len(micro), size)
        block = w[0] * shared + w[1] * topic[m // (_SUBTOPICS * _MICRO)] + w[2] * sub[m // _MICRO] + w[3] * micro[m]
        block += w[4] * _unit(rng, size)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:start + size] = block
    return out


def exact_neighbours(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The true top K of each query by inner product (brute force): what recall is measured against."""
    _, ids = faiss.knn(queries, base, K, metric=faiss.METRIC_INNER_PRODUCT)
    return ids


def _time_queries(index: faiss.Index, queries: np.ndarray) -> tuple[list[float], np.ndarray]:
    """One query at a time, as the service searches: per-query latency and the ids found."""
    found = np.empty((len(queries), K), dtype=np.int64)
    latencies = []
    for i, query in enumerate(queries):
        started = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), K)
        latencies.append(time.perf_counter() - started)
        found[i] = ids[0]
    return latencies, found


def recall_at_k(found: Sequence[Sequence] | np.ndarray, exact: Sequence[Sequence] | np.ndarray) -> float:
    """The share of the exact neighbours that the searches found, over all queries (rows of ids, as lists or as
    numpy rows)."""
    hits = sum(len(set(_ids(f)) & set(_ids(e))) for f, e in zip(found, exact, strict=True))
    return round(hits / max(1, sum(len(e) for e in exact)), 4)


def _ids(row: Sequence | np.ndarray) -> Sequence:
    return row.tolist() if isinstance(row, np.ndarray) else row


def _hnsw_of(index: faiss.Index) -> faiss.IndexHNSW | None:
    base = faiss.downcast_index(index.index if hasattr(index, "index") else index)
    return base if isinstance(base, faiss.IndexHNSW) else None


def bench_scale_point(n: int, exact_limit: int, queries: int = 200, ef_sweep: tuple[int, ...] = (),
                      hnsw_m: int | None = None, seed: int = 7) -> ScalePoint:
    """Build the index `build_faiss_index` chooses for n synthetic passages (or HNSW with `hnsw_m` links)."""
    vectors = synthetic_vectors(n + queries, seed)
    base, query_vectors = vectors[:n], np.ascontiguousarray(vectors[n:])
    ids = np.arange(n, dtype=np.int64)
    started = time.perf_counter()
    if hnsw_m is None:
        index, kind = build_faiss_index(base, ids, exact_limit)
    else:
        hnsw = faiss.IndexHNSWFlat(DIM, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.hnsw.efSearch = 128
        index, kind = faiss.IndexIDMap2(hnsw), f"hnsw{hnsw_m}-ip (alternative)"
        index.add_with_ids(base, ids)
    build_seconds = time.perf_counter() - started
    # The serialised size is what the index holds (vectors + graph + id map); RSS deltas are blurred by malloc.
    index_bytes = int(faiss.serialize_index(index).size)
    exact = exact_neighbours(base, query_vectors)
    latencies, found = _time_queries(index, query_vectors)
    threads = faiss.omp_get_max_threads()
    # On a busy machine a one-query search that wakes a thread pool waits for the scheduler; one thread does not.
    faiss.omp_set_num_threads(1)
    try:
        latencies_1thread, _ = _time_queries(index, query_vectors)
        hnsw = _hnsw_of(index)
        sweep: list[EfPoint] = []
        if hnsw is not None:
            default_ef = hnsw.hnsw.efSearch
            for ef in ef_sweep:
                hnsw.hnsw.efSearch = ef
                lat, got = _time_queries(index, query_vectors)
                sweep.append(EfPoint(ef, percentile_ms(lat, 50), percentile_ms(lat, 95), recall_at_k(got, exact)))
            hnsw.hnsw.efSearch = default_ef
    finally:
        faiss.omp_set_num_threads(threads)
    return ScalePoint(
        passages=n, index_kind=kind, hnsw_m=hnsw.hnsw.nb_neighbors(1) if hnsw is not None else None,
        build_seconds=round(build_seconds, 2),
        bytes_per_passage=round(index_bytes / n, 1), p50_ms=percentile_ms(latencies, 50),
        p95_ms=percentile_ms(latencies, 95), p50_ms_1thread=percentile_ms(latencies_1thread, 50),
        p95_ms_1thread=percentile_ms(latencies_1thread, 95), recall_at_10=recall_at_k(found, exact),
        ef_search=hnsw.hnsw.efSearch if hnsw is not None else None, ef_sweep=sweep, machine=machine(),
    )


def as_dict(point: ScalePoint) -> dict[str, object]:
    return asdict(point)
