"""Does the answer answer? Judged against what the question file says, never against the engine's own scores:

- a quote is on topic when it overlaps a gold quote, or holds one of the question's topic terms (words of which
  almost any sentence bearing on the question holds one, written with the question);
- a part of a compound question is covered when some quote overlaps that part's gold or holds one of its terms;
- a refusal of a question about an absent work or author names it.
A term matches when every one of its words' stems is among the quote's stems (core.text), so "mystic" matches
"mystical" and "power greater" matches "a Power greater than ourselves".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from citewise.core.answer import Answer
from citewise.core.text import stems_of, term_stems, words
from citewise.evals.faithfulness import AnswerScore, CitationCheck
from citewise.evals.questions_retrieval import GoldSpan

if TYPE_CHECKING:
    from citewise.evals.questions import EvalQuestion


@dataclass
class Relevance:
    on_topic: list[bool] = field(default_factory=list)  # per citation, for answerable questions with topic terms
    parts_covered: list[bool] = field(default_factory=list)  # per part, for questions with parts
    missing_named: bool | None = None  # absent-work questions: the refusal names the missing work

    @property
    def off_topic_quotes(self) -> int:
        return sum(not on for on in self.on_topic)


def mentions(text: str, term: str) -> bool:
    """Whether `text` holds every word of `term` (by stem)."""
    wanted = set().union(*(term_stems(word) for word in words(term))) if words(term) else set()
    return bool(wanted) and wanted <= stems_of(text)


def _overlaps(check: CitationCheck, gold: Sequence[GoldSpan]) -> bool:
    return any(g.overlaps(check.source_id, check.start, check.end) for g in gold)


def _addresses(check: CitationCheck, gold: Sequence[GoldSpan], terms: Sequence[str]) -> bool:
    return _overlaps(check, gold) or any(mentions(check.quote, term) for term in terms)


def judge_relevance(question: EvalQuestion, answer: Answer, score: AnswerScore, gold: Sequence[GoldSpan],
                    part_gold: Sequence[Sequence[GoldSpan]]) -> Relevance:
    relevance = Relevance()
    if not question.answerable:
        if question.missing:
            relevance.missing_named = answer.refused and question.missing.casefold() in answer.answer.casefold()
        return relevance
    terms = [*question.topic_terms, *(t for part in question.parts for t in part.topic_terms)]
    if terms and not answer.refused:
        relevance.on_topic = [_addresses(check, gold, terms) for check in score.citations]
    for part, spans in zip(question.parts, part_gold, strict=True):
        relevance.parts_covered.append(not answer.refused and any(
            _addresses(check, spans, part.topic_terms) for check in score.citations))
    return relevance
