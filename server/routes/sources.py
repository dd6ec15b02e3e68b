"""GET /v1/sources, /v1/sources/{id} and /v1/sources/{id}/text: what is indexed, and a quotation in context."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from citewise.core.errors import CitewiseError
from citewise.core.types import Source
from citewise.retrieval.spans import MAX_CONTEXT, span_in_context
from citewise.server.deps import LoadedDep
from citewise.server.state import LoadedIndex

router = APIRouter(tags=["sources"])

# Source ids are 16 hex digits (ingest.models.content_hash): anything else never reaches the index.
SourceId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="a source id from /v1/sources")]
_FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".xhtml": "html",
            ".pdf": "pdf", ".epub": "epub"}


class SourceInfo(BaseModel):
    id: str
    file: str
    title: str
    author: str
    year: int | str | None
    kind: str = Field(description="what sort of source (book, encyclopedia article, ...); empty if not given")
    aliases: list[str] = Field(default_factory=list, description="other names readers use for it")
    licence: str
    origin: str
    chars: int
    passages: int


class Heading(BaseModel):
    start: int = Field(description="offset of the heading's text in the canonical text")
    text: str


class SourceText(BaseModel):
    source: SourceInfo
    start: int
    end: int
    page: int | None
    before: str
    text: str
    after: str
    context_start: int
    context_end: int
    format: Literal["markdown", "html", "text", "pdf", "epub"] = Field(
        description="what the source was read from: the canonical text of a Markdown source keeps its markup")
    headings: list[Heading] = Field(description="the source's headings within context_start..context_end")


def _info(source: Source) -> SourceInfo:
    return SourceInfo(id=source.id, file=source.file, title=source.title, author=source.author, year=source.year,
                      kind=source.kind, aliases=list(source.aliases), licence=source.licence, origin=source.origin,
                      chars=source.chars, passages=source.passages)


def source_format(file: str) -> str:
    suffix = PurePosixPath(file).suffix.lower()
    return _FORMATS.get(suffix, "text")


def _source(loaded: LoadedIndex, source_id: str) -> Source:
    source = loaded.index.sources.get(source_id)
    if source is None:
        raise HTTPException(404, f"no source {source_id} in the index (see /v1/sources)")
    return source


@router.get("/v1/sources", response_model=list[SourceInfo])
async def list_sources(loaded: LoadedDep) -> list[SourceInfo]:
    return [_info(s) for s in sorted(loaded.index.sources.values(), key=lambda s: (s.author, s.title, s.file))]


@router.get("/v1/sources/{source_id}", response_model=SourceInfo)
async def get_source(source_id: SourceId, loaded: LoadedDep) -> SourceInfo:
    return _info(_source(loaded, source_id))


@router.get("/v1/sources/{source_id}/text", response_model=SourceText)
def source_text(
    source_id: SourceId,
    loaded: LoadedDep,
    start: Annotated[int, Query(ge=0, description="offset in the canonical text")] = 0,
    end: Annotated[int | None, Query(ge=0, description="end offset (default: start + 2000)")] = None,
    context: Annotated[int, Query(ge=0, le=MAX_CONTEXT, description="characters shown either side")] = 600,
) -> SourceText:
    """The canonical text from start to end with `context` characters either side, to show a quotation in place."""
    source = _source(loaded, source_id)
    try:
        span = span_in_context(loaded.index, source_id, start, end, context)
    except CitewiseError as exc:  # a span outside the text or too long: the query does not fit this source
        raise HTTPException(422, str(exc)) from exc
    return SourceText(source=_info(source), start=span.start, end=span.end, page=span.page, before=span.before,
                      text=span.text, after=span.after, context_start=span.context_start,
                      context_end=span.context_end, format=source_format(source.file),
                      headings=[Heading(start=offset, text=heading) for offset, heading in span.headings])
