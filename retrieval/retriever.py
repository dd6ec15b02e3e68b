"""IndexRetriever: dense (FAISS) and lexical (FTS5 BM25) search, fused by weighted RRF, diversified by MMR."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import faiss
import numpy as np

from citewise.core.errors import CitewiseError
from citewise.core.settings import Settings
from citewise.core.types import Source
from citewise.ingest.embedder import Embedder, load_embedder
from citewise.ingest.store import IndexReader
from citewise.retrieval.fusion import maximal_marginal_relevance, reciprocal_rank_fusion
from citewise.retrieval.query import fts_query
from citewise.retrieval.types import Hit, SearchFilters, SearchMode

MODES: tuple[SearchMode, ...] = ("dense", "lexical", "hybrid")
# The same question is often searched more than once (modes, engines retrying); embedding it dominates latency.
QUERY_CACHE_SIZE = 256


_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved: tuple[int | None, int] = (None, 1)


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """One query gains nothing from intra-op threads, and on a busy machine OpenMP threads spin-wait on each other.

    Measured here under load (2 cores shared): query embedding 17 ms with one torch thread against ~1 s with two;
    a flat FAISS search of 20k vectors 1.3 ms with one thread against 48 ms with two. Re-entrant across threads:
    the first caller saves the thread counts, the last one restores them.
    """
    global _threads_users, _threads_saved
    torch = sys.modules.get("torch")
    with _threads_lock:
        if _threads_users == 0:
            _threads_saved = (torch.get_num_threads() if torch is not None else None, faiss.omp_get_max_threads())
            if torch is not None:
                torch.set_num_threads(1)
            faiss.omp_set_num_threads(1)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0:
                torch_threads, faiss_threads = _threads_saved
                if torch is not None and torch_threads is not None:
                    torch.set_num_threads(torch_threads)
                faiss.omp_set_num_threads(faiss_threads)


def source_matches(source: Source, filters: SearchFilters) -> bool:
    """Whether a source passes the filters: listed id, author substring (any of), year within the range."""
    if filters.source_ids and source.id not in filters.source_ids:
        return False
    if filters.authors:
        author = source.author.casefold()
        if not any(name.casefold() in author for name in filters.authors):
            return False
    if filters.year_min is not None or filters.year_max is not None:
        # A source without a numeric year cannot be shown to fall in the range, so a year filter drops it.
        if not isinstance(source.year, int):
            return False
        if filters.year_min is not None and source.year < filters.year_min:
            return False
        if filters.year_max is not None and source.year > filters.year_max:
            return False
    return True


class IndexRetriever:
    """Searches one index generation. The model is loaded once (load_embedder caches it per process)."""

    def __init__(self, settings: Settings, index: IndexReader | None = None,
                 embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.index = index or IndexReader(Path(settings.index))
        self.embedder = embedder or load_embedder(settings.embedding)
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._rowids_by_source: dict[str, list[int]] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citewise-fts")
        self._cache_lock = threading.Lock()

    def search(self, query: str, k: int = 8, mode: SearchMode | None = None,
               filters: SearchFilters | None = None) -> list[Hit]:
        with single_threaded():
            return self._search(query, k, mode, filters)

    def _search(self, query: str, k: int, mode: SearchMode | None, filters: SearchFilters | None) -> list[Hit]:
        config = self.settings.retrieval
        mode = mode or config.mode
        if mode not in MODES:
            raise CitewiseError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
        if k < 1 or not query.strip():
            return []
        allowed = self._allowed_sources(filters)
        if allowed is not None and not allowed:
            return []
        # Filters are applied inside each signal's search, so k results survive whatever the filter drops.
        depth = max(config.candidates, k)
        lexical_job = self._pool.submit(self._lexical, query, depth, allowed) if mode != "dense" else None
        # The FTS5 query runs in a worker while the model embeds the query (both release the GIL).
        query_vector = self._embed_query(query) if mode != "lexical" else None
        dense = self._dense(query_vector, depth, allowed) if query_vector is not None else []
        lexical = lexical_job.result() if lexical_job is not None else []
        signals: dict[int, dict[str, float]] = {}
        for name, ranked in (("dense", dense), ("lexical", lexical)):
            for rank, (rowid, score) in enumerate(ranked, start=1):
                signals.setdefault(rowid, {}).update({name: score, f"{name}_rank": float(rank)})
        if mode == "dense":
            chosen = [(rowid, score) for rowid, score in dense[:k]]
        elif mode == "lexical":
            chosen = [(rowid, score) for rowid, score in lexical[:k]]
        else:
            chosen = self._fuse_and_diversify(dense, lexical, signals, query_vector, k)
        return self._hits(chosen, signals)

    def embed_query(self, query: str) -> np.ndarray:
        """The query's vector, from the cache when this query was searched lately (the answer engine re-scores
        with it)."""
        with single_threaded():
            return self._embed_query(query)

    def _embed_query(self, query: str) -> np.ndarray:
        with self._cache_lock:
            vector = self._query_vectors.get(query)
        if vector is None:
            vector = self.embedder.embed([query])[0]
        with self._cache_lock:
            self._query_vectors[query] = vector
            self._query_vectors.move_to_end(query)
            while len(self._query_vectors) > QUERY_CACHE_SIZE:
                self._query_vectors.popitem(last=False)
        return vector

    def _allowed_sources(self, filters: SearchFilters | None) -> list[str] | None:
        """Source ids the filters let through, or None when nothing is filtered out."""
        if filters is None or filters.is_empty():
            return None
        sources = self.index.sources
        allowed = [sid for sid, source in sources.items() if source_matches(source, filters)]
        return None if len(allowed) == len(sources) else allowed

    def _dense(self, vector: np.ndarray, depth: int, allowed: list[str] | None) -> list[tuple[int, float]]:
        if allowed is None:
            return self.index.dense_search(vector, depth)
        if self._rowids_by_source is None:
            self._rowids_by_source = {}
            for rowid, sid in self.index.passage_sources().items():
                self._rowids_by_source.setdefault(sid, []).append(rowid)
        rowids = [rowid for sid in allowed for rowid in self._rowids_by_source.get(sid, [])]
        return self.index.dense_search_within(vector, depth, rowids)

    def _lexical(self, query: str, depth: int, allowed: list[str] | None) -> list[tuple[int, float]]:
        expression = fts_query(query)
        if not expression:
            return []
        if allowed is None:
            return self.index.lexical_search(expression, depth)
        return self.index.lexical_search_within(expression, depth, allowed)

    def _fuse_and_diversify(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]],
                            signals: dict[int, dict[str, float]], query_vector: np.ndarray,
                            k: int) -> list[tuple[int, float]]:
        config = self.settings.retrieval
        fused = reciprocal_rank_fusion(
            {"dense": [rowid for rowid, _ in dense], "lexical": [rowid for rowid, _ in lexical]},
            {"dense": config.dense_weight, "lexical": config.lexical_weight}, config.rrf_k,
        )
        if not fused:
            return []
        rowids = [rowid for rowid, _ in fused]
        vectors = self.index.vectors_of(rowids)
        # Every hit gets its cosine to the query, also those only the lexical signal found.
        cosines = vectors @ np.asarray(query_vector, dtype=np.float32)
        for position, (rowid, score) in enumerate(fused):
            entry = signals.setdefault(rowid, {})
            entry.update({"fused": score, "fused_rank": float(position + 1)})
            entry.setdefault("dense", float(cosines[position]))
        order = maximal_marginal_relevance([score for _, score in fused], vectors, config.mmr_lambda, k)
        return [fused[position] for position in order]

    def _hits(self, chosen: list[tuple[int, float]], signals: dict[int, dict[str, float]]) -> list[Hit]:
        passages = self.index.passages_by_rowid([rowid for rowid, _ in chosen])
        hits = []
        for rank, (rowid, score) in enumerate(chosen, start=1):
            passage = passages[rowid]
            hits.append(Hit(passage, self.index.sources[passage.source_id], score, signals.get(rowid, {}), rank))
        return hits
