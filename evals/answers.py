"""Runs eval questions through the whole answer pipeline and records, per question, what the metrics need."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from citewise.answers.quotes import locate
from citewise.core.answer import Answer
from citewise.core.index import IndexReader
from citewise.core.settings import Settings
from citewise.evals.faithfulness import AnswerScore, FaithfulnessChecker
from citewise.evals.questions import EvalQuestion, GoldQuote
from citewise.evals.questions_retrieval import GoldSpan, gold_passage_metrics
from citewise.evals.relevance import Relevance, judge_relevance

RETRIEVAL_KS = (5, 10)


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
