"""The retrieval contract: what a search returns (hits with their passage, source and scores) and its filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from citewise.core.types import Passage, Source

SearchMode = Literal["dense", "lexical", "hybrid"]


# The most values a filter takes: the API declares these on its query parameters too, so a longer list is refused
# there with a 422 naming the parameter, before any model is built from it.
MAX_KINDS = 50
MAX_SOURCES = 500
MAX_AUTHORS = 50


class FilterRequest(BaseModel):
    """The filters as a reader states them (CLI options, the API, the page's settings): years, kinds of source,
    and sources named by id, file name, alias or title. Resolved against an index into SearchFilters."""

    model_config = ConfigDict(extra="forbid")

    since: int | None = Field(None, description="only sources published in or after this year")
    until: int | None = Field(None, description="only sources published in or before this year")
    kinds: list[str] = Field(default_factory=list, max_length=MAX_KINDS,
                             description="only these kinds of source (book, encyclopedia article, ...)")
    sources: list[str] = Field(default_factory=list, max_length=MAX_SOURCES,
                               description="only these sources: ids, file names, aliases or titles")
    authors: list[str] = Field(default_factory=list, max_length=MAX_AUTHORS,
                               description="only sources whose author contains one of these")

    def is_empty(self) -> bool:
        return not (self.since is not None or self.until is not None or self.kinds or self.sources or self.authors)


@dataclass(frozen=True)
class SearchFilters:
    source_ids: frozenset[str] = frozenset()
    authors: frozenset[str] = frozenset()  # case-insensitive substring match on the source's author
    year_min: int | None = None
    year_max: int | None = None
    kinds: frozenset[str] = frozenset()  # normalised kinds (lower case, single spaces), any of them

    def is_empty(self) -> bool:
        return not (self.source_ids or self.authors or self.year_min is not None or self.year_max is not None
                    or self.kinds)

    def restricted_to(self, source_ids: frozenset[str]) -> SearchFilters:
        """These filters, further confined to `source_ids`."""
        return replace(self, source_ids=self.source_ids & source_ids if self.source_ids else source_ids)

    def as_request(self) -> FilterRequest:
        """The resolved filters in the form an answer echoes them (sources by id)."""
        return FilterRequest(since=self.year_min, until=self.year_max, kinds=sorted(self.kinds),
                             sources=sorted(self.source_ids), authors=sorted(self.authors))

    def describe(self, sources: Mapping[str, Source]) -> str:
        """In words, for a reader: "published in or after 2020; encyclopedia articles only"."""
        parts: list[str] = []
        if self.year_min is not None and self.year_max is not None:
            parts.append(f"published {self.year_min}–{self.year_max}")
        elif self.year_min is not None:
            parts.append(f"published in or after {self.year_min}")
        elif self.year_max is not None:
            parts.append(f"published in or before {self.year_max}")
        if self.kinds:
            parts.append("kind: " + " or ".join(sorted(self.kinds)))
        if self.authors:
            parts.append("author: " + " or ".join(sorted(self.authors)))
        if self.source_ids:
            titles = [sources[sid].title if sid in sources else sid for sid in sorted(self.source_ids)]
            parts.append(f"only {titles[0]}" if len(titles) == 1 else f"only {len(titles)} chosen sources")
        return "; ".join(parts)


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
