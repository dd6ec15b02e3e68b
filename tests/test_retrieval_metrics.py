"""Ranking metrics against values computed by hand, and gold-passage matching for our questions."""

from __future__ import annotations

import math

import pytest

from citewise.core.types import Passage
from citewise.evals.questions_retrieval import GoldSpan, gold_passage_metrics, locate_quote
from citewise.evals.retrieval_metrics import mean_metrics, mrr_at_k, ndcg_at_k, query_metrics, recall_at_k

pytestmark = pytest.mark.unit


def test_ndcg_binary_by_hand():
    # relevant at ranks 2 and 4 of 2 relevant: DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    value = ndcg_at_k(["x", "a", "y", "b"], {"a": 1, "b": 1}, 10)
    assert value == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3)))


def test_ndcg_graded_uses_linear_gain_and_ideal_order():
    qrels = {"a": 2, "b": 1, "c": 0}
    # ranking b, a: DCG = 1 + 2/log2(3); ideal a, b: 2 + 1/log2(3)
    assert ndcg_at_k(["b", "a"], qrels, 10) == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["a", "b", "c"], qrels, 10) == pytest.approx(1.0)


def test_ndcg_cutoff_ignores_hits_below_k():
    assert ndcg_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0
    assert ndcg_at_k([], {"a": 1}, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0  # no relevant document: defined as 0


def test_recall_counts_relevant_found_within_k():
    qrels = {"a": 1, "b": 1, "c": 1, "z": 0}
    assert recall_at_k(["a", "z", "b", "q"], qrels, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "z", "b", "q"], qrels, 100) == pytest.approx(2 / 3)


def test_mrr_is_reciprocal_rank_of_first_relevant():
    assert mrr_at_k(["x", "y", "a", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0


def test_query_and_mean_metrics():
    first = query_metrics(["a"], {"a": 1})
    second = query_metrics(["x"], {"a": 1})
    assert set(first) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
    assert mean_metrics([first, second]) == {"ndcg@10": 0.5, "recall@10": 0.5, "recall@100": 0.5, "mrr@10": 0.5}


def test_locate_quote_matches_across_hard_wraps():
    text = "Intro.\nThe handiest of the marks\nby which I classify  a state is negative.\nEnd."
    start, end = locate_quote(text, "the marks by which I\nclassify a state")
    assert text[start:end] == "the marks\nby which I classify  a state"
    assert locate_quote(text, "not in the text") is None


def _passage(start: int, end: int, source: str = "s") -> Passage:
    return Passage(id=f"{source}{start}", source_id=source, ordinal=0, start=start, end=end, text="", tokens=1)


def test_gold_passage_metrics_recall_hit_and_mrr():
    spans = [GoldSpan("s", 100, 140), GoldSpan("s", 500, 540)]
    passages = [_passage(0, 90), _passage(90, 200, "other"), _passage(95, 130), _passage(480, 600)]
    metrics = gold_passage_metrics(passages, spans, ks=(1, 3, 4))
    # rank 3 covers 30 of span one's 40 chars (>= half); rank 4 contains span two.
    assert metrics["recall@1"] == 0.0 and metrics["hit@1"] == 0.0
    assert metrics["recall@3"] == 0.5 and metrics["hit@3"] == 1.0
    assert metrics["recall@4"] == 1.0
    assert metrics["mrr@4"] == pytest.approx(1 / 3)


def test_gold_span_needs_a_real_share_of_the_quote():
    span = GoldSpan("s", 100, 200)
    assert not span.covered_by(_passage(0, 110))  # touches 10 of 100 chars
    assert span.covered_by(_passage(0, 150))
    assert not span.covered_by(_passage(100, 200, "other"))


def test_a_span_overlaps_gold_only_in_the_same_source_and_sharing_a_character():
    span = GoldSpan("s", 100, 200)
    assert span.overlaps("s", 199, 250) and span.overlaps("s", 50, 101) and span.overlaps("s", 120, 130)
    assert not span.overlaps("s", 200, 250) and not span.overlaps("s", 50, 100)  # touching is not sharing
    assert not span.overlaps("t", 120, 130) and not span.overlaps(None, 120, 130) and not span.overlaps("s", None, 130)
