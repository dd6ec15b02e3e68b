"""The structured content of each tool's result (its output schema): what an MCP client's code can rely on."""

from __future__ import annotations

from pydantic import BaseModel, Field

from citewise.core.answer import Answer, SourceRef

INDEXING = Field(False, description="true while the corpus is still being indexed: results come from the part "
                                    "published so far")


class AskResult(Answer):
    """The answer contract of `citewise ask --json` and POST /v1/ask, plus whether indexing is still under way."""

    indexing: bool = INDEXING


class PassageHit(BaseModel):
    rank: int = Field(description="1 = the best match")
    score: float
    passage_id: str
    start: int = Field(description="offset of the passage in its source's canonical text")
    end: int = Field(description="end offset (exclusive): text == canonical_text[start:end]")
    page: int | None = Field(None, description="page of a PDF source")
    heading: str | None = Field(None, description="the heading the passage falls under")
    text: str
    source: SourceRef


class SearchResult(BaseModel):
    query: str
    hits: list[PassageHit]
    indexing: bool = INDEXING


class SourceEntry(SourceRef):
    aliases: list[str] = Field(default_factory=list, description="other names readers use for it")
    chars: int = Field(description="length of its canonical text: offsets run from 0 to chars")
    passages: int


class Heading(BaseModel):
    start: int = Field(description="offset of the heading in the canonical text")
    text: str


class PassageResult(BaseModel):
    source: SourceEntry
    start: int
    end: int
    text: str = Field(description="canonical_text[start:end], exactly")
    before: str = Field(description="the context before start")
    after: str = Field(description="the context after end")
    context_start: int
    context_end: int
    page: int | None = None
    headings: list[Heading] = Field(description="the source's headings within the context")


class SourcesResult(BaseModel):
    sources: list[SourceEntry]
    kinds: list[str] = Field(description="the kinds of source present, as the kinds filter takes them")
    indexing: bool = INDEXING
