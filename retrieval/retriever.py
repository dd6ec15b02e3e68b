"""IndexRetriever: dense and lexical (BM25) search, fused by weighted RRF, diversified by MMR."""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from citewise.core.embedding import Embedder
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.retrieval import Hit, SearchFilters, SearchMode
from citewise.core.settings import Settings
from citewise.core.text import query_terms
from citewise.core.types import Source
from citewise.ingest.embedder import load_embedder, single_threaded
from citewise.retrieval.fusion import maximal_marginal_relevance, reciprocal_rank_fusion

MODES: tuple[SearchMode, ...] = ("dense", "lexical", "hybrid")
# The same question is often searched more than once (modes, engines retrying); embedding it dominates latency.
QUERY_CACHE_SIZE = 256


def source_matches(source: Source, filters: SearchFilters) -> bool:
    """Whether a source passes the filters: listed id, one of the kinds, author substring (any of), year within
    the range."""
    if filters.source_ids and source.id not in filters.source_ids:
        return False
    if filters.kinds and source.kind not in filters.kinds:
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

    def __init__(self, settings: Settings, index: IndexReader, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder or load_embedder(settings.embedding)
        self._query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()
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
        signals: dict[str, dict[str, float]] = {}
        for name, ranked in (("dense", dense), ("lexical", lexical)):
            for rank, (passage_id, score) in enumerate(ranked, start=1):
                signals.setdefault(passage_id, {}).update({name: score, f"{name}_rank": float(rank)})
        if mode == "dense":
            chosen = dense[:k]
        elif mode == "lexical":
            chosen = lexical[:k]
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

    def _dense(self, vector: np.ndarray, depth: int, allowed: list[str] | None) -> list[tuple[str, float]]:
        return self.index.dense_search(vector, depth, allowed)

    def _lexical(self, query: str, depth: int, allowed: list[str] | None) -> list[tuple[str, float]]:
        return self.index.lexical_search(query_terms(query), depth, allowed)

    def _fuse_and_diversify(self, dense: list[tuple[str, float]], lexical: list[tuple[str, float]],
                            signals: dict[str, dict[str, float]], query_vector: np.ndarray,
                            k: int) -> list[tuple[str, float]]:
        config = self.settings.retrieval
        fused = reciprocal_rank_fusion(
            {"dense": [pid for pid, _ in dense], "lexical": [pid for pid, _ in lexical]},
            {"dense": config.dense_weight, "lexical": config.lexical_weight}, config.rrf_k,
        )
        if not fused:
            return []
        vectors = self.index.passage_vectors([pid for pid, _ in fused])
        # Every hit gets its cosine to the query, also those only the lexical signal found.
        cosines = vectors @ np.asarray(query_vector, dtype=np.float32)
        for position, (passage_id, score) in enumerate(fused):
            entry = signals.setdefault(passage_id, {})
            entry.update({"fused": score, "fused_rank": float(position + 1)})
            entry.setdefault("dense", float(cosines[position]))
        order = maximal_marginal_relevance([score for _, score in fused], vectors, config.mmr_lambda, k)
        return [fused[position] for position in order]

    def _hits(self, chosen: list[tuple[str, float]], signals: dict[str, dict[str, float]]) -> list[Hit]:
        passages = self.index.passages([pid for pid, _ in chosen])
        return [Hit(passages[pid], self.index.sources[passages[pid].source_id], score, signals.get(pid, {}), rank)
                for rank, (pid, score) in enumerate(chosen, start=1)]
