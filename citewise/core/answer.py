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
# Retrieval found no passage at all (an empty index, or filters that let no source through).
NO_PASSAGE_TEXT = "I cannot answer this from the indexed sources: no passage of them bears on it."

# Why an answer was refused: decided in one place, answers/offline/refusal.py, for both engines.
RefusalReason = Literal[
    "absent_work_or_author",
    "no_evidence",
    "unknown_name",
    "below_answerability_bar",
    "no_verified_quote",
    "excluded_by_filters",
]
REFUSAL_REASONS: dict[str, str] = {
    "absent_work_or_author": "the question asks what a work or an author says, and no indexed source is that work or "
                             "by that author (nor quotes it)",
    "no_evidence": "retrieval found no passage, or none with a sentence worth quoting",
    "unknown_name": "the question names something (a person, a title, a code) that no source mentions",
    "below_answerability_bar": "the answerability gate judged that the passages found do not answer any part of the "
                               "question",
    "no_verified_quote": "none of the quotations chosen was found verbatim in its passage",
    "excluded_by_filters": "the filters excluded the evidence: without them the question is answered "
                           "(excluded_by_filters names the sources)",
}


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
    refusal_reason: RefusalReason | None = Field(
        None, description="why the answer was refused (None when it was not): " + "; ".join(
            f"{code}: {meaning}" for code, meaning in REFUSAL_REASONS.items()))
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
