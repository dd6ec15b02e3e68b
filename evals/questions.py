"""The question-file format of `citewise eval answers` (docs/EVALUATION.md) and its validation: every line is checked
before any question runs, and each bad line is named with its number and what is wrong with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from citewise.core.answer import Message
from citewise.core.errors import CitewiseError, InvalidInput

# Unknown fields are errors ("answerble" would otherwise silently make a question unanswerable): data of the
# team's own goes under `meta`, remarks under `note`.
_STRICT = ConfigDict(extra="forbid")
_MAX_PROBLEMS = 20


class GoldQuote(BaseModel):
    model_config = _STRICT
    file: str = Field(min_length=1)
    quote: str = Field(min_length=1)


class QuestionPart(BaseModel):
    """One part of a compound or comparison question, with its own gold quotes and topic terms."""

    model_config = _STRICT
    text: str = Field(min_length=1)
    gold: list[GoldQuote] = []
    topic_terms: list[str] = []


class EvalQuestion(BaseModel):
    model_config = _STRICT
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answerable: bool = Field(strict=True)  # "false" as a string is a mistake, not False
    gold: list[GoldQuote] = []
    kind: str | None = None
    split: str | None = None  # e.g. "tune" or "validation": thresholds are fitted on one, reported on the other
    history: list[Message] = []  # earlier turns, for follow-up questions
    answer_type: str | None = None
    unanswerable_type: str | None = None
    missing: str | None = None  # the absent work or author a refusal should name
    parts: list[QuestionPart] = []
    # Words of which almost any sentence bearing on the question holds one: a quote with none of them (and no
    # overlap with a gold quote) is counted off-topic.
    topic_terms: list[str] = []
    note: str | None = None
    meta: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EvalQuestion:
        if not self.answerable and (self.gold or any(part.gold for part in self.parts)):
            raise ValueError("an unanswerable question has gold quotes (set answerable to true, or drop the gold)")
        if self.answerable and (self.missing or self.unanswerable_type):
            field = "missing" if self.missing else "unanswerable_type"
            raise ValueError(f"'{field}' is for unanswerable questions, and this one is answerable")
        return self


def describe_validation_error(exc: ValidationError) -> str:
    """Pydantic's errors as one short clause each: "missing field 'answerable'", "unknown field 'answerble'"."""
    clauses = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            clauses.append(f"missing field '{where}'")
        elif error["type"] == "extra_forbidden":
            clauses.append(f"unknown field '{where}'")
        elif where:
            clauses.append(f"field '{where}': {error['msg']}")
        else:
            clauses.append(error["msg"].removeprefix("Value error, "))
    more = len(exc.errors()) - len(clauses)
    return "; ".join(clauses) + (f" (and {more} more)" if more > 0 else "")


M = TypeVar("M", bound=BaseModel)


def load_records(path: Path, model: type[M], noun: str) -> list[M]:
    """Every line of a JSON Lines file as a `model` (one `noun` a line), validated before any is used: bad lines
    (not JSON, not an object, not the model, an id repeated) raise InvalidInput naming each as FILE:LINE, so a run
    never stops half-way through a file. The model has an `id`."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CitewiseError(f"cannot read {noun}s file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CitewiseError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    records: list[M] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{number}: not JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{path}:{number}: not a JSON object (one {noun} per line)")
            continue
        try:
            record = model.model_validate(data)
        except ValidationError as exc:
            problems.append(f"{path}:{number}: {describe_validation_error(exc)}")
            continue
        record_id = record.id  # type: ignore[attr-defined]
        if record_id in first_line:
            problems.append(f"{path}:{number}: id {record_id!r} repeats line {first_line[record_id]}")
            continue
        first_line[record_id] = number
        records.append(record)
    if problems:
        raise InvalidInput(problems[:_MAX_PROBLEMS] + (
            [f"{path}: {len(problems) - _MAX_PROBLEMS} more bad lines"] if len(problems) > _MAX_PROBLEMS else []))
    return records


def load_questions(path: Path, split: str | None = None) -> list[EvalQuestion]:
    """Questions from a JSON Lines file (only those of `split`, if given). Every line is validated first; bad ones
    raise InvalidInput naming each as FILE:LINE, so a run never stops half-way through a set."""
    questions = load_records(path, EvalQuestion, "question")
    if split is not None:
        splits = sorted({q.split for q in questions if q.split})
        questions = [q for q in questions if q.split == split]
        if not questions:
            raise CitewiseError(f"{path} holds no questions of split {split!r}"
                                + (f" (it has {', '.join(splits)})" if splits else " (it has no splits)"))
    if not questions:
        raise CitewiseError(f"{path} holds no questions")
    return questions
