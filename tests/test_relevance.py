"""The answer-relevance metrics and the question file's splits, on hand-made answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citewise.core.answer import Answer
from citewise.core.errors import CitewiseError
from citewise.evals.faithfulness import AnswerScore, CitationCheck
from citewise.evals.questions import EvalQuestion, load_questions
from citewise.evals.questions_retrieval import GoldSpan
from citewise.evals.relevance import judge_relevance, mentions
from citewise.evals.report import by_kind, summarize

pytestmark = pytest.mark.unit


def _check(n: int, quote: str, source: str = "s", start: int = 0, end: int = 10) -> CitationCheck:
    return CitationCheck(n=n, quote=quote, status="verified", exact=True, attributed=True, source_id=source,
                         start=start, end=end)


def test_a_term_is_mentioned_when_all_its_words_are_by_stem() -> None:
    assert mentions("Mystical states are ineffable.", "mystic")
    assert mentions("a Power greater than ourselves", "power greater")
    assert not mentions("a greater city", "power greater")
    assert not mentions("anything", "")


def test_quotes_off_topic_and_parts_covered() -> None:
    question = EvalQuestion.model_validate({
        "id": "Q", "question": "What is X, and how does it differ from Y?", "answerable": True,
        "topic_terms": ["opium"],
        "parts": [{"text": "what is X", "topic_terms": ["laudanum"]}, {"text": "Y", "topic_terms": ["kykeon"]}]})
    answer = Answer(question=question.question, answer="...", refused=False, engine="offline")
    checks = [_check(1, "He took laudanum daily."), _check(2, "The weather was fine.", start=50, end=60),
              _check(3, "Nothing here either.", start=100, end=120)]
    gold = [GoldSpan("s", 105, 110)]  # quote 3 overlaps gold: on topic whatever its words
    relevance = judge_relevance(question, answer, AnswerScore(False, checks, []), gold, [[], []])
    assert relevance.on_topic == [True, False, True]
    assert relevance.parts_covered == [True, False]
    refused = Answer(question=question.question, answer="no", refused=True, engine="offline")
    assert judge_relevance(question, refused, AnswerScore(True, [], []), gold, [[], []]).parts_covered == [
        False, False]


def test_a_refusal_names_the_missing_work() -> None:
    question = EvalQuestion.model_validate({"id": "Q", "question": "What does Pollan say?", "answerable": False,
                                            "missing": "How to Change Your Mind"})
    named = Answer(question="q", answer="they do not include *How to Change Your Mind*.", refused=True,
                   engine="offline")
    vague = Answer(question="q", answer="I cannot answer this.", refused=True, engine="offline")
    assert judge_relevance(question, named, AnswerScore(True, [], []), [], []).missing_named is True
    assert judge_relevance(question, vague, AnswerScore(True, [], []), [], []).missing_named is False


def test_splits_are_read_and_a_missing_split_is_named(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"Q{i}", "question": "?", "answerable": True,
                                          "split": "tune" if i % 2 else "validation"}) for i in range(4)) + "\n")
    assert [q.id for q in load_questions(path, "validation")] == ["Q0", "Q2"]
    assert len(load_questions(path)) == 4
    with pytest.raises(CitewiseError, match="no questions of split 'test'.*tune, validation"):
        load_questions(path, "test")


def test_figures_per_kind_count_each_kind_apart() -> None:
    from citewise.evals.answers import QuestionRecord
    from citewise.evals.relevance import Relevance

    def record(qid: str, kind: str, answerable: bool, refused: bool, hit: bool | None) -> QuestionRecord:
        question = EvalQuestion(id=qid, question="?", answerable=answerable, kind=kind,
                                unanswerable_type=None if answerable else "near-miss")
        answer = Answer(question="?", answer="", refused=refused, engine="offline")
        score = AnswerScore(refused, [], [], evidence_hit=hit)
        return QuestionRecord(question, answer, score, 0.01, [], None, relevance=Relevance())

    records = [record("A", "lookup", True, False, True), record("B", "lookup", True, False, False),
               record("C", "unanswerable", False, True, None), record("D", "unanswerable", False, False, None)]
    table = by_kind(records)
    assert table["lookup"]["evidence_hit"] == 0.5 and table["lookup"]["questions"] == 2
    assert table["unanswerable: near-miss"]["refusal_rate"] == 0.5
    assert summarize(records)["false_refusal_rate"] == 0.0
