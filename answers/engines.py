"""The one place that builds an answer engine from settings: the CLI, the server and the evals all call it."""

from __future__ import annotations

from citewise.answers.offline.engine import OfflineEngine
from citewise.answers.quotes.support import load_support_scorer
from citewise.answers.quotes.verifier import QuoteVerifier
from citewise.core.answer import AnswerEngine
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.retrieval import Retriever
from citewise.core.settings import Settings
from citewise.ingest.embedder import load_embedder

ENGINE_NAMES = ("offline", "llm")


def build_engine(settings: Settings, retriever: Retriever, index: IndexReader, name: str | None = None,
                 embedder=None) -> AnswerEngine:
    """`name` defaults to settings.answer.engine; the LLM engine keeps an offline engine to fall back on."""
    name = name or settings.answer.engine
    if name not in ENGINE_NAMES:
        raise CitewiseError(f"unknown answer engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
    embedder = embedder or getattr(retriever, "embedder", None) or load_embedder(settings.embedding)
    verifier = QuoteVerifier(index)
    scorer = load_support_scorer(settings, embedder=embedder)
    offline = OfflineEngine(settings, retriever, index, embedder, verifier, scorer)
    if name == "offline":
        return offline
    from citewise.answers.llm.engine import LLMEngine  # imports the openai client only when an LLM is wanted

    return LLMEngine(settings, index, scorer, offline)
