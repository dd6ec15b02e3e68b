"""Runs eval questions through the whole answer pipeline and records, per question, what the metrics need."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from citewise.answers.quotes import locate
from citewise.core.answer import Answer, Message
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.settings import Settings
from citewise.evals.faithfulness import AnswerScore, FaithfulnessChecker
from citewise.evals.questions_retrieval import GoldSpan, gold_passage_metrics
from citewise.evals.relevance import Relevance, judge_relevance

RETRIEVAL_KS = (5, 10)


class GoldQuote(BaseModel):
    model_config = ConfigDict(extra="ignore")
    file: str
    quote: str


class QuestionPart(BaseModel):
    """One part of a compound or comparison question, with its own gold quotes and topic terms."""

    model_config = ConfigDict(extra="ignore")
    text: str
    gold: list[GoldQuote] = []
    topic_terms: list[str] = []


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    question: str
    answerable: bool
    gold: list[GoldQuote] = []
    kind: str | None = None
    split: str | None = None  # "tune" or "validation": thresholds are fitted on one, reported on the other
    history: list[Message] = []  # earlier turns, for follow-up questions
    answer_type: str | None = None
    unanswerable_type: str | None = None
    missing: str | None = None  # the absent work or author a refusal should name
    parts: list[QuestionPart] = []
    # Words of which almost any sentence bearing on the question holds one: a quote with none of them (and no
    # overlap with a gold quote) is counted off-topic.
    topic_terms: list[str] = []


@dataclass
class QuestionRecord:
    question: EvalQuestion
    answer: Answer
    score: AnswerScore
    latency_s: float
    gold: list[GoldSpan]
    retrieval: dict[str, float] | None  # gold-passage recall@k, hit@k, mrr@10 (evals.questions_retrieval)
    gold_problems: list[str] = field(default_factory=list)
    relevance: Relevance | None = None  # on-topic quotes, parts covered, missing work named


def load_questions(path: Path, split: str | None = None) -> list[EvalQuestion]:
    """Questions from a JSON Lines file (only those of `split`, if given); a malformed line is an error naming the
    file and line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CitewiseError(f"cannot read questions file {path}: {exc.strerror or exc}") from exc
    questions: list[EvalQuestion] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(EvalQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            reason = str(exc).splitlines()[0]
            raise CitewiseError(f"{path}:{number}: not a question record ({reason})") from exc
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise CitewiseError(f"{path}: question ids repeat")
    if split is not None:
        splits = sorted({q.split for q in questions if q.split})
        questions = [q for q in questions if q.split == split]
        if not questions:
            raise CitewiseError(f"{path} holds no questions of split {split!r}"
                                + (f" (it has {', '.join(splits)})" if splits else " (it has no splits)"))
    if not questions:
        raise CitewiseError(f"{path} holds no questions")
    return questions


def locate_gold(question: EvalQuestion, index: IndexReader,
                gold_quotes: list[GoldQuote] | None = None) -> tuple[list[GoldSpan], list[str]]:
    """Each gold quote's offsets in its source's canonical text (the question's, or `gold_quotes`), and a note for
    each that cannot be placed."""
    by_file = {source.file: source for source in index.sources.values()}
    by_name = {Path(source.file).name: source for source in index.sources.values()}
    spans: list[GoldSpan] = []
    problems: list[str] = []
    for gold in question.gold if gold_quotes is None else gold_quotes:
        source = by_file.get(gold.file) or by_name.get(Path(gold.file).name)
        if source is None:
            problems.append(f"{question.id}: gold file {gold.file} is not in the index")
            continue
        found = locate(gold.quote, index.source_text(source.id))
        if found is None:
            problems.append(f"{question.id}: gold quote not found in {gold.file}: {gold.quote[:60]!r}")
            continue
        spans.append(GoldSpan(source.id, found[0], found[1]))
    return spans, problems


class AnswerRun:
    """The pipeline under test (retriever, engine) plus the checker, loaded once for all questions."""

    def __init__(self, settings: Settings, engine_name: str | None = None) -> None:
        from citewise.answers.quotes import load_support_scorer
        from citewise.library import Library

        self.settings = settings
        self.library = Library(settings)
        generation = self.library.generation()
        self.retriever = generation.retriever
        self.index: IndexReader = generation.index
        self.engine = generation.engine(engine_name)
        self.checker = FaithfulnessChecker(self.index, load_support_scorer(settings, embedder=generation.embedder))

    def run(self, questions: list[EvalQuestion],
            progress: Callable[[QuestionRecord], None] | None = None) -> list[QuestionRecord]:
        records = []
        for question in questions:
            record = self.run_one(question)
            records.append(record)
            if progress:
                progress(record)
        return records

    def run_one(self, question: EvalQuestion) -> QuestionRecord:
        gold, problems = locate_gold(question, self.index)
        ranks = None
        if gold:
            hits = self.retriever.search(question.question, k=max(RETRIEVAL_KS))
            ranks = gold_passage_metrics([hit.passage for hit in hits], gold, RETRIEVAL_KS)
        began = time.perf_counter()
        answer = self.engine.answer(question.question, question.history or None)
        latency = time.perf_counter() - began
        score = self.checker.score_answer(answer, gold if question.answerable else None)
        part_gold = [locate_gold(question, self.index, part.gold)[0] for part in question.parts]
        relevance = judge_relevance(question, answer, score, gold, part_gold)
        return QuestionRecord(question, answer, score, latency, gold, ranks, problems, relevance)
