"""IndexRetriever: dense search over the FAISS vectors of one index generation."""

from __future__ import annotations

from pathlib import Path

from citewise.settings import Settings
from ingest.embedder import Embedder, load_embedder
from ingest.store import IndexReader
from retrieval.types import Hit, SearchFilters, SearchMode


class IndexRetriever:
    def __init__(self, settings: Settings, index: IndexReader | None = None,
                 embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.index = index or IndexReader(Path(settings.index))
        self.embedder = embedder or load_embedder(settings.embedding)

    def search(self, query: str, k: int = 8, mode: SearchMode | None = None,
               filters: SearchFilters | None = None) -> list[Hit]:
        vector = self.embedder.embed([query])[0]
        ranked = self.index.dense_search(vector, k)
        passages = self.index.passages_by_rowid([rowid for rowid, _ in ranked])
        hits = []
        for rank, (rowid, score) in enumerate(ranked, start=1):
            passage = passages[rowid]
            hits.append(Hit(passage, self.index.sources[passage.source_id], score, {"dense": score}, rank))
        return hits
