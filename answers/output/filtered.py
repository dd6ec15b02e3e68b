"""Answers under filters: the answer echoes its filters, and a refusal says whether the filters excluded the
evidence, by asking the same question without them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from citewise.answers.output.render import RenderedAnswer, attribution, source_ref
from citewise.core.retrieval import SearchFilters
from citewise.core.types import Source


def confined(rendered: RenderedAnswer, filters: SearchFilters | None, sources: Mapping[str, Source],
             unfiltered: Callable[[], RenderedAnswer]) -> RenderedAnswer:
    """`rendered` (composed under `filters`) with the filters echoed; a refusal gains a paragraph saying what
    the filters did, found by composing the answer without them (`unfiltered`, only called on a refusal)."""
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
        names = "; ".join(f"{attribution(source)}, *{source.title}*" for source in cited.values())
        text = (f"\n\nThe filters ({described}) excluded the evidence: without them, this question is answered "
                f"from {names}.")
    answer.answer += text
    return RenderedAnswer(answer, [*rendered.pieces, (text, None)])
