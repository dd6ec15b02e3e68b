"""The standing notice on answers to health questions: they quote their sources and are not medical advice.

Whether a question is about health is read from its words (dosing, treatment, diagnosis, drugs, symptoms...)
and from the kinds of the sources its answer cites (government health information, a clinical trial, a
guideline...): a question in everyday words answered from a health agency's page gets the notice too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from citewise.core.text import stem, stems_of
from citewise.core.types import Source

HEALTH_NOTICE = (
    "Note: this answer only quotes its sources and is not medical advice. Check the cited sources and their "
    "dates, and ask a qualified health professional before any decision about diagnosis, treatment or medicines."
)

# Words of clinical questions; compared as stems, so "dosing", "doses" and "dosage" all count.
_HEALTH_WORDS = """
dose dosing dosage overdose milligram mg treat treatment therapy therapies therapeutic psychotherapy
diagnose diagnosis diagnostic prognosis drug medication medicine medical prescribe prescription
pharmacology pharmacological symptom syndrome disorder disease illness adverse
contraindication toxicity addiction cure remedy pill tablet capsule
antidepressant ssri vaccine pregnancy pregnant patient clinical clinician psychiatric psychiatry
ptsd depression anxiety fda safe safety harm harmful lethal
"""
_SIDE_EFFECT = re.compile(r"\bside[ -]effects?\b", re.IGNORECASE)
HEALTH_STEMS = frozenset(stem(word) for word in _HEALTH_WORDS.split())
# A word of a source's kind that marks it as health information ("government health information",
# "clinical trial", "clinical guideline", "drug label").
_HEALTH_KIND_WORDS = frozenset({"health", "clinical", "medical", "medicine", "trial", "guideline", "guidelines",
                                "drug", "pharmaceutical", "patient", "nursing"})


def health_kind(kind: str) -> bool:
    return bool(set(kind.lower().split()) & _HEALTH_KIND_WORDS)


def is_health_question(question: str, cited: Iterable[Source] = ()) -> bool:
    if stems_of(question) & HEALTH_STEMS or _SIDE_EFFECT.search(question):
        return True
    return any(health_kind(source.kind) for source in cited)


def health_notice(question: str, cited: Iterable[Source]) -> str | None:
    """The notice for an answer to `question` citing `cited`, or None when it is not about health."""
    return HEALTH_NOTICE if is_health_question(question, cited) else None
