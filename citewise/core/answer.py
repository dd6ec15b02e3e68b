"""The answer contract: what `citewise ask --json`, POST /v1/ask and the evals all return."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from citewise.core.retrieval import FilterRequest, SearchFilters

REFUSAL_TEXT = (
    "I cannot answer this from the indexed sources: none of the passages I found supports an answer. "
    "The nearest passages are listed below."
)
# A question that asks what a work or author says, when no indexed source is that work or by that author.
MISSING_TEXT = "I cannot answer this from the indexed sources: they do not include {names}."


class SourceRef(BaseModel):
    id: str
    title: str
    author: str
    year: int | str | None
    file: str
    kind: str = Field("", description="what sort of source: book, encyclopedia article, government health "
                                      "information, ... (empty when the manifest does not say)")


class Citation(BaseModel):
    n: int = Field(description="the [n] marker in the answer text")
    quote: str = Field(description="verbatim quotation (white space may be folded)")
    passage_id: str
    start: int = Field(description="offset of the quote in the source's canonical text")
    end: int
    page: int | None = None
    support: float = Field(description="0..1: how well the cited passage supports the sentence citing it")
    source: SourceRef


class NearestPassage(BaseModel):
    passage_id: str
    text: str
    score: float
    start: int
    end: int
    page: int | None = None
    heading: str | None = None
    source: SourceRef


class Answer(BaseModel):
    question: str
    answer: str = Field(description="Markdown: prose with quotations and [n] markers, then 'Sources cited'")
    refused: bool
    engine: Literal["offline", "llm"]
    citations: list[Citation] = Field(default_factory=list)
    nearest: list[NearestPassage] = Field(default_factory=list)
    notice: str | None = Field(None, description="the standing notice on an answer to a health question (it "
                                                 "quotes its sources and is not medical advice), also in `answer`")
    filters: FilterRequest | None = Field(None, description="the filters the answer was confined to (sources by id)")
    excluded_by_filters: list[SourceRef] = Field(
        default_factory=list, description="on a refusal under filters: the sources that would have answered "
                                          "without them")


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class AnswerEvent(BaseModel):
    """One step of a streamed answer: text as it is composed, citations as verified, then the whole answer."""

    type: Literal["text", "citation", "done"]
    text: str | None = None
    citation: Citation | None = None
    answer: Answer | None = None


class AnswerEngine(Protocol):
    name: Literal["offline", "llm"]

    def answer(self, question: str, history: list[Message] | None = None,
               filters: SearchFilters | None = None) -> Answer: ...

    def stream(self, question: str, history: list[Message] | None = None,
               filters: SearchFilters | None = None) -> Iterator[AnswerEvent]: ...
