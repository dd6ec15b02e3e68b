"""The answer engines by name, in one small registry: the public API (citewise.library) builds every engine here,
for the CLI, the server, the evals and the benches alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from citewise.answers.offline.engine import OfflineEngine
from citewise.answers.quotes.support import load_support_scorer
from citewise.answers.quotes.verifier import QuoteVerifier
from citewise.core.answer import AnswerEngine
from citewise.core.embedding import Embedder
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.retrieval import Retriever
from citewise.core.settings import Settings


@dataclass(frozen=True)
class EngineParts:
    """What every engine is built from: one index generation, its retriever, and the parts engines share."""

    settings: Settings
    retriever: Retriever
    index: IndexReader
    embedder: Embedder
    verifier: QuoteVerifier
    scorer: object  # the support scorer (answers/quotes/support.py)


EngineFactory = Callable[[EngineParts], AnswerEngine]
_ENGINES: dict[str, EngineFactory] = {}


def register_engine(name: str) -> Callable[[EngineFactory], EngineFactory]:
    def register(factory: EngineFactory) -> EngineFactory:
        _ENGINES[name] = factory
        return factory

    return register


def engine_names() -> tuple[str, ...]:
    return tuple(_ENGINES)


@register_engine("offline")
def _offline(parts: EngineParts) -> AnswerEngine:
    return OfflineEngine(parts.settings, parts.retriever, parts.index, parts.embedder, parts.verifier, parts.scorer)


@register_engine("llm")
def _llm(parts: EngineParts) -> AnswerEngine:
    from citewise.answers.llm.engine import LLMEngine  # the openai client is imported only when an LLM is wanted

    # The LLM engine falls back on an offline engine of its own when nothing the model quotes verifies.
    offline = _offline(parts)
    return LLMEngine(parts.settings, parts.index, parts.scorer, offline)


def build_engine(settings: Settings, retriever: Retriever, index: IndexReader, name: str | None = None,
                 embedder: Embedder | None = None) -> AnswerEngine:
    """The engine called `name` (default: settings.answer.engine) on one index generation."""
    name = name or settings.answer.engine
    factory = _ENGINES.get(name)
    if factory is None:
        raise CitewiseError(f"unknown answer engine {name!r}; choose one of {', '.join(_ENGINES)}")
    if embedder is None:
        from citewise.ingest.embedder import load_embedder

        embedder = getattr(retriever, "embedder", None) or load_embedder(settings.embedding)
    verifier = QuoteVerifier(index)
    scorer = load_support_scorer(settings, embedder=embedder)
    return factory(EngineParts(settings, retriever, index, embedder, verifier, scorer))
