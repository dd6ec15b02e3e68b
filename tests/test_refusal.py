"""Refusal is decided in one module (answers/offline/refusal.py) and carried on the answer as a reason code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import get_args

import pytest

from citewise.answers.offline.refusal import part_refusal, question_refusal, refusal
from citewise.core.answer import REFUSAL_REASONS, RefusalReason

pytestmark = pytest.mark.unit


@dataclass
class _Strength:
    missing_names: tuple[str, ...] = ()


@dataclass
class _Evidence:
    candidates: list[object]
    strength: _Strength = field(default_factory=_Strength)
    features: dict[str, float] = field(default_factory=dict)


class _Gate:
    def __init__(self, passes: bool) -> None:
        self.passes = passes

    def answerable(self, features: dict[str, float]) -> bool:
        return self.passes


def test_every_reason_is_explained_in_the_contract() -> None:
    assert set(REFUSAL_REASONS) == set(get_args(RefusalReason))


def test_a_part_is_refused_for_the_first_reason_it_meets() -> None:
    assert part_refusal(_Evidence([]), _Gate(True)) == "no_evidence"
    assert part_refusal(_Evidence(["s"], _Strength(("fifa",))), _Gate(True)) == "unknown_name"
    assert part_refusal(_Evidence(["s"]), _Gate(False)) == "below_answerability_bar"
    assert part_refusal(_Evidence(["s"]), _Gate(True)) is None
    assert part_refusal(_Evidence(["s"]), None) is None, "no gate (its own fitting): no bar"


def test_a_question_is_refused_for_its_parts_strongest_reason() -> None:
    assert question_refusal(["no_evidence", "below_answerability_bar"]) == "below_answerability_bar"
    assert question_refusal(["unknown_name", "below_answerability_bar"]) == "unknown_name"
    assert question_refusal(["no_evidence", "no_evidence"]) == question_refusal([]) == "no_evidence"


def test_the_refused_answer_says_why_in_words_and_in_its_code() -> None:
    absent = refusal("What does Hillman say?", "offline", "absent_work_or_author", [], missing=("James Hillman",))
    assert absent.answer.refusal_reason == "absent_work_or_author" and "*James Hillman*" in absent.answer.answer
    nothing = refusal("q", "llm", "no_evidence", [], note="Note: the model failed.").answer
    assert nothing.refused and nothing.refusal_reason == "no_evidence" and nothing.nearest == []
    assert nothing.answer.startswith("> Note: the model failed.") and "no passage" in nothing.answer
