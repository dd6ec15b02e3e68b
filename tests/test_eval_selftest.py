"""The harness's mutation test on the slice index: every corruption caught, and a weakened harness exposed."""

from __future__ import annotations

import pytest

from citewise.answers.quotes.support import load_support_scorer
from citewise.core.answer import Citation
from citewise.core.index import IndexReader
from citewise.evals.faithfulness import FaithfulnessChecker
from citewise.evals.selftest import mutations, run_selftest
from citewise.store.sqlite_faiss import SqliteIndexReader

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reader(slice_settings) -> IndexReader:
    return SqliteIndexReader(slice_settings.index)


@pytest.fixture(scope="module")
def scorer(slice_settings, embedder):
    return load_support_scorer(slice_settings, embedder=embedder)


def test_selftest_catches_every_corruption(reader, scorer) -> None:
    result = run_selftest(FaithfulnessChecker(reader, scorer))
    assert result.controls_clean, result.control_problems
    assert {case.mutation for case in result.cases} == {m.name for m in mutations(reader)}
    missed = [(case.base, case.mutation, case.flagged_by) for case in result.cases if not case.detected]
    assert missed == []
    assert result.detection_rate == 1.0 and result.passed


class _OffsetsUnchecked(FaithfulnessChecker):
    """A harness that trusts a citation's offsets: the kind of weakening the selftest exists to expose."""

    def _offsets_hold_quote(self, citation: Citation, source_id: str | None, problems: list[str]) -> bool:
        return True


def test_selftest_fails_a_harness_that_trusts_offsets(reader, scorer) -> None:
    result = run_selftest(_OffsetsUnchecked(reader, scorer), base_count=1)
    missed = {case.mutation for case in result.cases if not case.detected}
    assert missed == {"shifted_offsets"}
    assert not result.passed and result.quote_level_detection_rate < 1.0
