"""The gate's fitting: the threshold of a gate used together with another is chosen for the pair."""

from __future__ import annotations

import numpy as np
import pytest

from citewise.evals.answerability_training import fit


@pytest.mark.unit
def test_a_question_the_required_gate_refuses_counts_as_refused_when_the_threshold_is_chosen() -> None:
    rng = np.random.default_rng(0)
    # 20 answerable questions and 20 unanswerable ones, one part each, told apart by one feature but for one
    # unanswerable question that looks answerable to it.
    x = np.r_[rng.normal(1.0, 0.3, 20), rng.normal(-1.0, 0.3, 19), [1.5]][:, None]
    y = np.r_[np.ones(20), np.zeros(20)]
    groups = np.arange(40)
    answerable = {i: bool(y[i]) for i in range(40)}
    alone = fit(x, y, groups, answerable, ("f",), "synthetic")
    assert alone["cv_refusal_rate"] == pytest.approx(19 / 20) and alone["cv_false_refusal_rate"] == 0
    # The gate it is paired with refuses that question: together they refuse all twenty, and the threshold is that
    # of the pair.
    passes_required = np.arange(40) != 39
    paired = fit(x, y, groups, answerable, ("f",), "synthetic", passes_required)
    assert paired["cv_refusal_rate"] == pytest.approx(1.0) and paired["cv_false_refusal_rate"] == 0
    assert "synthetic" in paired["trained_on"]
