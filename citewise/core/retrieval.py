"""The retrieval contract: what a search returns (hits with their passage, source and scores) and its filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from citewise.core.types import Passage, Source

SearchMode = Literal["dense", "lexical", "hybrid"]


@dataclass(frozen=True)
class SearchFilters:
    source_ids: frozenset[str] = frozenset()
    authors: frozenset[str] = frozenset()  # case-insensitive substring match on the source's author
    year_min: int | None = None
    year_max: int | None = None

    def is_empty(self) -> bool:
        return not (self.source_ids or self.authors or self.year_min is not None or self.year_max is not None)


@dataclass(frozen=True)
class Hit:
    passage: Passage
    source: Source
    score: float  # the score the hits are ranked by (fused for hybrid)
    signals: dict[str, float] = field(default_factory=dict)  # each signal's own score: dense, lexical, fused
    rank: int = 0


class Retriever(Protocol):
    """Finds passages for a question. The model and index are loaded once, at construction."""

    def search(self, query: str, k: int = 8, mode: SearchMode | None = None,
               filters: SearchFilters | None = None) -> list[Hit]: ...
