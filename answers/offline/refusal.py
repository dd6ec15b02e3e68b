"""Where an answer is refused, and why: the one module that decides it, for both engines.

The reasons (core/answer.py, `RefusalReason`, carried on the answer as `refusal_reason`), in the order they are met:
- absent_work_or_author: the question asks about a work or author the index lacks (found by question.py);
- no_evidence: retrieval found nothing, or no sentence worth quoting, for any part;
- unknown_name: a part names something no source mentions;
- below_answerability_bar: the answerability gate (answerability.py) judges that no part is answered;
- no_verified_quote: nothing chosen to quote survived the verifier;
- excluded_by_filters: refused under filters, answered without them (`confined`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from citewise.answers.output.markdown_safe import markdown_text
from citewise.answers.output.render import RenderedAnswer, attribution, nearest_passages, source_ref
from citewise.core.answer import MISSING_TEXT, NO_PASSAGE_TEXT, REFUSAL_TEXT, Answer, RefusalReason
from citewise.core.retrieval import Hit, SearchFilters
from citewise.core.types import Source

if TYPE_CHECKING:
    from citewise.answers.offline.answerability import AnswerabilityModel
    from citewise.answers.offline.engine import PartEvidence


def part_refusal(evidence: PartEvidence, gate: AnswerabilityModel | None) -> RefusalReason | None:
    """Why the evidence does not answer its part of the question; None when it does. Without a gate (only the
    gate's own fitting builds such an engine, and it never asks) every part with evidence passes the bar."""
    if not evidence.candidates:
        return "no_evidence"
    if evidence.strength.missing_names:
        return "unknown_name"
    if gate is not None and not gate.answerable(evidence.features):
        return "below_answerability_bar"
    return None


def question_refusal(part_reasons: Sequence[RefusalReason | None]) -> RefusalReason:
    """Why a question none of whose parts is answered is refused: the first part's reason that is more than a lack
    of evidence, else no evidence."""
    return next((reason for reason in part_reasons if reason not in (None, "no_evidence")), "no_evidence")


def refusal(question: str, engine: str, reason: RefusalReason, hits: list[Hit], note: str | None = None,
            missing: tuple[str, ...] = ()) -> RenderedAnswer:
    """The refused answer: why in words (naming the absent works or authors), the nearest passages, the reason."""
    if reason == "absent_work_or_author":
        text = MISSING_TEXT.format(names=" or ".join(f"*{markdown_text(name)}*" for name in missing))
        hits = []  # passages of other works would only look like an answer
    else:
        text = REFUSAL_TEXT if hits else NO_PASSAGE_TEXT
    text = (f"> {markdown_text(note)}\n\n" if note else "") + text
    answer = Answer(question=question, answer=text, refused=True, engine=engine, nearest=nearest_passages(hits),
                    refusal_reason=reason)
    return RenderedAnswer(answer, [(text, None)])


def confined(rendered: RenderedAnswer, filters: SearchFilters | None, sources: Mapping[str, Source],
             unfiltered: Callable[[], RenderedAnswer]) -> RenderedAnswer:
    """`rendered` (composed under `filters`) with the filters echoed; a refusal gains a paragraph saying what the
    filters did, found by composing the answer without them (`unfiltered`, only called on a refusal), and becomes
    `excluded_by_filters` when that answer is not refused."""
    if filters is None or filters.is_empty():
        return rendered
    answer = rendered.answer
    answer.filters = filters.as_request()
    if not answer.refused:
        return rendered
    described = filters.describe(sources)
    without = unfiltered().answer
    if without.refused:
        text = (f"\n\nThe filters ({described}) are not what stands in the way: without them the sources do not "
                "support an answer either.")
    else:
        cited: dict[str, Source] = {}
        for citation in without.citations:
            source = sources.get(citation.source.id)
            if source is not None:
                cited.setdefault(source.id, source)
        answer.excluded_by_filters = [source_ref(source) for source in cited.values()]
        answer.refusal_reason = "excluded_by_filters"
        names = "; ".join(f"{attribution(source)}, *{source.title}*" for source in cited.values())
        text = (f"\n\nThe filters ({described}) excluded the evidence: without them, this question is answered "
                f"from {names}.")
    answer.answer += text
    return RenderedAnswer(answer, [*rendered.pieces, (text, None)])
