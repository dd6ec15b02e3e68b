"""The answers file of `citewise eval quotes`: answers written by any system, one JSON object a line, each with the
quotations it shows and the file each claims to come from (docs/EVALUATION.md, "Checking another system's quotes").

Only `id` and `quotes` (each `file` and `quote`) are needed; every other field is a further claim that is checked when
given: where in the file the quotation is (`start`/`end`, `passage`), whose it is (`title`, `author`, `year`), and the
answer's prose (`answer`, whose `[n]` markers cite quotation `n`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citewise.core.answer import Answer
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.evals.questions import load_records


class Span(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: int = Field(ge=0)
    end: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.end <= self.start:
            raise ValueError("'end' must be greater than 'start'")
        return self


class OutsideQuote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str = Field(min_length=1)  # relative to --corpus, or as the index lists it (`citewise sources`)
    quote: str = Field(min_length=1)
    n: int | None = Field(None, ge=1)  # the [n] that cites it in the prose [default: its place in the list]
    start: int | None = Field(None, ge=0)  # character offsets of the quotation itself in the file's text
    end: int | None = Field(None, gt=0)
    passage: Span | None = None  # the passage (chunk) the system cites: the quotation must begin inside it
    title: str | None = None
    author: str | None = None
    year: int | str | None = None

    @model_validator(mode="after")
    def _offsets_paired(self) -> OutsideQuote:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both 'start' and 'end', or neither")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("'end' must be greater than 'start'")
        return self


class OutsideAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    question: str | None = None
    answer: str | None = None  # the prose shown to the user, citing quotations by [n]
    quotes: list[OutsideQuote]
    meta: dict[str, Any] | None = None  # the system's own data (model, latency...): carried, never read

    @model_validator(mode="after")
    def _numbered(self) -> OutsideAnswer:
        for place, quote in enumerate(self.quotes, start=1):
            if quote.n is None:
                quote.n = place
        numbers = [quote.n for quote in self.quotes]
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            raise ValueError(f"quotation number(s) {', '.join(map(str, repeated))} repeat")
        return self


def load_outside_answers(path: Path) -> list[OutsideAnswer]:
    """Every line validated before anything is checked; bad lines raise InvalidInput naming each as FILE:LINE."""
    answers = load_records(path, OutsideAnswer, "answer")
    if not answers:
        raise CitewiseError(f"{path} holds no answers")
    return answers


def as_outside_answer(answer: Answer, index: IndexReader, answer_id: str) -> OutsideAnswer:
    """A citewise answer written as an outside system would write it, every claim of its citations kept: the file
    of the passage each cites, that passage's span, the quotation's offsets, and the source it names."""
    quotes = []
    for citation in answer.citations:
        passage = index.passage(citation.passage_id)
        source = index.sources.get(passage.source_id) if passage is not None else None
        quotes.append(OutsideQuote(
            file=source.file if source is not None else citation.source.file, quote=citation.quote, n=citation.n,
            start=citation.start, end=citation.end,
            passage=Span(start=passage.start, end=passage.end) if passage is not None else None,
            title=citation.source.title, author=citation.source.author, year=citation.source.year))
    return OutsideAnswer(id=answer_id, question=answer.question, answer=answer.answer, quotes=quotes)
