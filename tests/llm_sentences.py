"""The candidate sentences the LLM engine shows its model for a question, by id, worked out the engine's way (the
offline engine's evidence, numbered by source), so that a scripted reply can cite them before the engine asks."""

from __future__ import annotations

from citewise.answers.engines import build_engine
from citewise.answers.llm.engine import ENDPOINT_SENTENCES, prompt_candidates
from citewise.answers.llm.protocol import number_sentences
from citewise.core.retrieval import SearchFilters
from citewise.core.sentences import unwrap
from citewise.core.settings import Settings
from citewise.ingest.embedder import single_threaded


def _gathered(settings: Settings, retriever, question: str, filters: SearchFilters | None = None):  # noqa: ANN202
    """The offline engine and its evidence for `question`, as the LLM engine gathers it."""
    offline = build_engine(settings, retriever, retriever.index, name="offline", embedder=retriever.embedder)
    with single_threaded():
        return offline, offline.gather(question, filters=filters)


def _shown(settings: Settings, retriever, question: str, filters: SearchFilters | None, limit: int) -> list:
    offline, found = _gathered(settings, retriever, question, filters)
    return number_sentences(prompt_candidates(offline, found, limit), retriever.index.source_text)


def shown_sentences(settings: Settings, retriever, question: str, filters: SearchFilters | None = None,
                    limit: int = ENDPOINT_SENTENCES) -> dict[str, str]:
    """id -> the sentence's text (white space folded), in the order the prompt lists them."""
    return {s.id: unwrap(s.candidate.text) for s in _shown(settings, retriever, question, filters, limit)}


def shown_parts(settings: Settings, retriever, question: str, limit: int = ENDPOINT_SENTENCES) -> dict[str, int]:
    """id -> the part of the question its sentence was found for, for the sentences the prompt lists."""
    return {s.id: s.candidate.part for s in _shown(settings, retriever, question, None, limit)}


def offline_choice(settings: Settings, retriever, question: str) -> list[str]:
    """The sentences the offline engine's own answer quotes (white space folded), in its order."""
    offline, found = _gathered(settings, retriever, question)
    return [unwrap(c.text) for c in offline.choose(found.answerable, len(found.plan.parts))]


def offline_lead(settings: Settings, retriever, question: str, part: int) -> str:
    """The offline engine's most direct sentence for one part of the question (white space folded)."""
    offline, found = _gathered(settings, retriever, question)
    item = next(e for e in found.answerable if e.candidates and e.candidates[0].part == part)
    return unwrap(offline.choose([item], 1, 1)[0].text)
