"""GET /v1/search: the passages retrieval finds for a query, with their sources and offsets."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from citewise.answers.output import source_ref
from citewise.core.answer import SourceRef
from citewise.core.retrieval import MAX_AUTHORS, MAX_KINDS, MAX_SOURCES, FilterRequest
from citewise.server.deps import LoadedDep
from citewise.server.routes.ask import checked_filters

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
    # The limits FilterRequest holds, declared here: a longer list is a 422 naming the parameter (built inside the
    # route, FilterRequest's ValidationError was a 500 that also cost the client its keep-alive connection).
    source: Annotated[list[str] | None, Query(
        max_length=MAX_SOURCES,
        description="only these sources, by id, file name, alias or title (repeatable)")] = None,
    author: Annotated[list[str] | None, Query(
        max_length=MAX_AUTHORS, description="author contains (repeatable: any)")] = None,
    kind: Annotated[list[str] | None, Query(
        max_length=MAX_KINDS, description="only sources of these kinds (repeatable: any)")] = None,
    since: Annotated[int | None, Query(description="only sources published in or after this year")] = None,
    until: Annotated[int | None, Query(description="only sources published in or before this year")] = None,
    year_from: Annotated[int | None, Query(description="the same as since", deprecated=True)] = None,
    year_to: Annotated[int | None, Query(description="the same as until", deprecated=True)] = None,
) -> SearchResult:
    request = FilterRequest(since=since if since is not None else year_from,
                            until=until if until is not None else year_to,
                            kinds=kind or [], sources=source or [], authors=author or [])
    filters = checked_filters(request, loaded)
    hits = await run_in_threadpool(loaded.retriever.search, q, k, mode, filters)
    return SearchResult(query=q, mode=mode or loaded.settings.retrieval.mode, hits=[
        SearchHit(rank=h.rank, score=h.score, signals=h.signals, passage_id=h.passage.id, start=h.passage.start,
                  end=h.passage.end, page=h.passage.page, heading=h.passage.heading, text=h.passage.text,
                  source=source_ref(h.source))
        for h in hits])
