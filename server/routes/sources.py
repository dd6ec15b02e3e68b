"""GET /v1/sources, /v1/sources/{id} and /v1/sources/{id}/text: what is indexed, and a quotation in context."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from citewise.core.types import Source
from citewise.server.deps import LoadedDep
from citewise.server.state import LoadedIndex

router = APIRouter(tags=["sources"])

# Source ids are 16 hex digits (ingest.models.content_hash): anything else never reaches the index.
SourceId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="a source id from /v1/sources")]
MAX_SPAN = 100_000
MAX_CONTEXT = 5_000
# A context edge moves up to this far to fall on white space rather than mid-word.
EDGE_SLACK = 40
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


def _context_start(text: str, start: int, context: int) -> int:
    edge = max(0, start - context)
    if edge == 0:
        return 0
    space = text.find(" ", edge, min(start, edge + EDGE_SLACK))
    newline = text.find("\n", edge, min(start, edge + EDGE_SLACK))
    found = [i for i in (space, newline) if i >= 0]
    return min(found) + 1 if found else edge


def _context_end(text: str, end: int, context: int) -> int:
    edge = min(len(text), end + context)
    if edge == len(text):
        return edge
    low = max(end, edge - EDGE_SLACK)
    found = [i for i in (text.rfind(" ", low, edge), text.rfind("\n", low, edge)) if i >= 0]
    return max(found) if found else edge


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
    text = loaded.index.source_text(source_id)
    end = min(len(text), start + 2000) if end is None else end
    if start > end or end > len(text):
        raise HTTPException(422, f"span {start}-{end} is outside the source's text (0-{len(text)})")
    if end - start > MAX_SPAN:
        raise HTTPException(422, f"span {start}-{end} is longer than {MAX_SPAN} characters")
    left, right = _context_start(text, start, context), _context_end(text, end, context)
    page = next((number for low, high, number in loaded.index.source_pages(source_id) if low <= start < high), None)
    headings = [Heading(start=offset, text=heading) for offset, heading in loaded.index.source_headings(source_id)
                if left <= offset < right]
    return SourceText(source=_info(source), start=start, end=end, page=page, before=text[left:start],
                      text=text[start:end], after=text[end:right], context_start=left, context_end=right,
                      format=source_format(source.file), headings=headings)
