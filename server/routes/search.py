"""GET /v1/search: the passages retrieval finds for a query, with their sources and offsets."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from citewise.core.answer import SourceRef
from citewise.core.retrieval import SearchFilters
from citewise.server.deps import LoadedDep

router = APIRouter(tags=["search"])


class SearchHit(BaseModel):
    rank: int
    score: float
    signals: dict[str, float]
    passage_id: str
    start: int
    end: int
    page: int | None
    heading: str | None
    text: str
    source: SourceRef


class SearchResult(BaseModel):
    query: str
    mode: str
    hits: list[SearchHit]


@router.get("/v1/search", response_model=SearchResult)
async def search(
    loaded: LoadedDep,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="what to look for")],
    k: Annotated[int, Query(ge=1, le=200)] = 8,
    mode: Literal["dense", "lexical", "hybrid"] | None = None,
    source: Annotated[list[str] | None, Query(description="only these source ids (repeatable)")] = None,
    author: Annotated[list[str] | None, Query(description="author contains (repeatable: any)")] = None,
    year_from: int | None = None,
    year_to: int | None = None,
) -> SearchResult:
    if year_from is not None and year_to is not None and year_from > year_to:
        raise HTTPException(422, f"year_from {year_from} is after year_to {year_to}")
    unknown = [sid for sid in source or [] if sid not in loaded.index.sources]
    if unknown:
        raise HTTPException(404, f"source {unknown[0]!r} is not in the index (see /v1/sources)")
    filters = SearchFilters(frozenset(source or []), frozenset(author or []), year_from, year_to)
    hits = await run_in_threadpool(loaded.retriever.search, q, k, mode, filters)
    return SearchResult(query=q, mode=mode or loaded.settings.retrieval.mode, hits=[
        SearchHit(rank=h.rank, score=h.score, signals=h.signals, passage_id=h.passage.id, start=h.passage.start,
                  end=h.passage.end, page=h.passage.page, heading=h.passage.heading, text=h.passage.text,
                  source=SourceRef(id=h.source.id, title=h.source.title, author=h.source.author,
                                   year=h.source.year, file=h.source.file))
        for h in hits])
