"""Fusion, MMR and filters on small hand-made fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from citewise.core.retrieval import SearchFilters
from citewise.core.types import Source
from citewise.retrieval.fusion import maximal_marginal_relevance, reciprocal_rank_fusion
from citewise.retrieval.retriever import source_matches

pytestmark = pytest.mark.unit


def test_rrf_sums_weighted_reciprocal_ranks():
    fused = dict(reciprocal_rank_fusion({"dense": [1, 2, 3], "lexical": [3, 4]}, {"dense": 1.0, "lexical": 2.0}, 10))
    assert fused[1] == pytest.approx(1 / 11)
    assert fused[2] == pytest.approx(1 / 12)
    assert fused[3] == pytest.approx(1 / 13 + 2 / 11)
    assert fused[4] == pytest.approx(2 / 12)


def test_rrf_orders_best_first_and_an_item_in_both_lists_wins():
    fused = reciprocal_rank_fusion({"a": [10, 20, 30], "b": [30, 40, 10]}, {}, 60)
    ids = [item for item, _ in fused]
    assert ids[:2] == [10, 30]  # 10 is ranked 1st and 3rd, 30 3rd and 1st: equal scores, 10 met first
    assert set(ids) == {10, 20, 30, 40}
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)


def test_rrf_zero_weight_ignores_a_signal():
    fused = reciprocal_rank_fusion({"dense": [1, 2], "lexical": [2, 1]}, {"dense": 0.0, "lexical": 1.0}, 60)
    assert [item for item, _ in fused] == [2, 1]


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_mmr_with_lambda_one_keeps_relevance_order():
    vectors = np.stack([_unit(1, 0), _unit(1, 0.01), _unit(0, 1)])
    assert maximal_marginal_relevance([0.9, 0.8, 0.5], vectors, 1.0, 3) == [0, 1, 2]


def test_mmr_demotes_a_near_duplicate_below_a_different_passage():
    # Passage 1 duplicates passage 0; passage 2 is less relevant but says something else.
    vectors = np.stack([_unit(1, 0), _unit(1, 0.01), _unit(0, 1)])
    order = maximal_marginal_relevance([0.9, 0.85, 0.6], vectors, 0.6, 3)
    assert order == [0, 2, 1]


def test_mmr_truncates_to_k_and_handles_empty_input():
    vectors = np.stack([_unit(1, 0), _unit(0, 1)])
    assert maximal_marginal_relevance([0.3, 0.2], vectors, 0.75, 1) == [0]
    assert maximal_marginal_relevance([], np.zeros((0, 2), dtype=np.float32), 0.75, 5) == []


def _source(author: str, year: int | str | None, sid: str = "s1") -> Source:
    return Source(id=sid, file=f"{sid}.txt", title="T", author=author, year=year, licence="", origin="",
                  file_sha256="", chars=1)


def test_filters_author_substring_is_case_insensitive():
    filters = SearchFilters(authors=frozenset({"JAMES"}))
    assert source_matches(_source("William James", 1902), filters)
    assert not source_matches(_source("C. G. Jung", 1916), filters)


def test_filters_year_range_is_inclusive_and_drops_undated_sources():
    filters = SearchFilters(year_min=1900, year_max=1916)
    assert source_matches(_source("a", 1900), filters)
    assert source_matches(_source("a", 1916), filters)
    assert not source_matches(_source("a", 1917), filters)
    assert not source_matches(_source("a", None), filters)
    assert not source_matches(_source("a", "c. 1910"), filters)


def test_filters_combine_source_ids_and_author():
    filters = SearchFilters(source_ids=frozenset({"s2"}), authors=frozenset({"jung"}))
    assert source_matches(_source("C. G. Jung", 1916, "s2"), filters)
    assert not source_matches(_source("C. G. Jung", 1916, "s1"), filters)
    assert SearchFilters().is_empty() and not filters.is_empty()
