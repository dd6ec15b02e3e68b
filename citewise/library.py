"""The Python API, and the one place the parts are wired together: `citewise.open(index_or_url)` opens an index (the
embedded folder or a PostgreSQL URL) as a Library that asks, searches and lists its sources.

    import citewise

    with citewise.open(".citewise") as library:
        answer = library.ask("What are James's marks of mystical states?", filters={"since": 1900})
        hits = library.search("mystical states", k=3)

The CLI, the service (and its MCP tools), the evals and the benches all go through it: the store is opened once, the
retriever and the engines (chosen by name from answers' registry) are built here, on one published generation.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from citewise.answers import build_engine, engine_names
from citewise.core.answer import Answer, AnswerEngine, AnswerEvent, Message
from citewise.core.embedding import Embedder
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader, IndexStore
from citewise.core.retrieval import FilterRequest, Hit, SearchFilters, SearchMode
from citewise.core.settings import Settings, load_settings
from citewise.core.types import Source
from citewise.retrieval.filters import resolve_filters
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_store

# What `filters=` takes: a request by name (as the CLI and the API take them), as a dict, or already resolved.
Filters = FilterRequest | Mapping[str, Any] | SearchFilters | None
URL_SCHEMES = ("postgresql://", "postgres://")


class Generation:
    """One published generation of the index with what is built on it: its retriever, and each engine on first use
    (building the LLM engine may start a local model nobody asked for). Thread-safe."""

    def __init__(self, settings: Settings, index: IndexReader, embedder: Embedder) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.retriever = IndexRetriever(settings, index=index, embedder=embedder)
        self._engines: dict[str, AnswerEngine] = {}
        self._lock = threading.Lock()

    @property
    def token(self) -> str:
        return self.index.token

    def engine(self, name: str | None = None) -> AnswerEngine:
        """The engine called `name` (default: settings.answer.engine): one of engine_names()."""
        name = name or self.settings.answer.engine
        with self._lock:
            if name not in self._engines:
                self._engines[name] = build_engine(self.settings, self.retriever, self.index, name=name,
                                                   embedder=self.embedder)
            return self._engines[name]

    def filters(self, filters: Filters = None) -> SearchFilters:
        """`filters` resolved against this generation's sources (a name the index lacks is a CitewiseError)."""
        if isinstance(filters, SearchFilters):
            return filters
        if isinstance(filters, Mapping):
            try:
                filters = FilterRequest.model_validate(dict(filters))
            except ValidationError as exc:  # one line naming the key: since, until, kinds, sources, authors
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise CitewiseError(f"filters: {problems}") from None
        return resolve_filters(filters, self.index.sources)

    def ask(self, question: str, *, filters: Filters = None, engine: str | None = None,
            history: list[Message] | None = None) -> Answer:
        resolved = self.filters(filters)  # a mistake in them is reported before any engine is built
        return self.engine(engine).answer(question, history, resolved)

    def stream(self, question: str, *, filters: Filters = None, engine: str | None = None,
               history: list[Message] | None = None) -> Iterator[AnswerEvent]:
        """The answer as it is composed: text, each citation once verified, then the whole answer ("done")."""
        resolved = self.filters(filters)
        return self.engine(engine).stream(question, history, resolved)

    def search(self, query: str, *, k: int = 8, mode: SearchMode | None = None, filters: Filters = None) -> list[Hit]:
        return self.retriever.search(query, k=k, mode=mode, filters=self.filters(filters))

    def sources(self) -> list[Source]:
        return list(self.index.sources.values())

    def close(self) -> None:
        with self._lock:
            self._engines.clear()
        self.index.close()


class Library:
    """An index opened once: its store, the embedding model (loaded on first need, or shared), and the generation it
    reads, the one published when it was first asked (`refresh()` moves on to a newer one)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: IndexStore | None = None) -> None:
        self.settings = settings
        self.store = store or open_store(settings)
        self._embedder = embedder
        self._generation: Generation | None = None
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        """Where the index is, as a user names it: the folder, or the database URL without its password."""
        return self.store.location

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                from citewise.ingest.embedder import load_embedder

                self._embedder = load_embedder(self.settings.embedding)
            return self._embedder

    def engine_names(self) -> tuple[str, ...]:
        return engine_names()

    def current_token(self) -> str | None:
        """The published generation's token (None: nothing published yet); cheap enough to poll."""
        return self.store.current_token()

    def open_generation(self) -> Generation:
        """A new view of the published generation, owned by the caller (the service keeps one per generation)."""
        return Generation(self.settings, self.store.reader(), self.embedder)

    def generation(self) -> Generation:
        """The generation this library reads (IndexMissingError when nothing is published)."""
        if self._generation is None:
            opened = self.open_generation()
            with self._lock:
                if self._generation is None:
                    self._generation, opened = opened, None
            if opened is not None:
                opened.close()
        return self._generation

    def refresh(self) -> bool:
        """Moves on to the published generation if it is newer; True when it did."""
        if self._generation is not None and self._generation.token == self.current_token():
            return False
        previous, self._generation = self._generation, None
        self.generation()
        if previous is not None:
            previous.close()
        return True

    def ask(self, question: str, *, filters: Filters = None, engine: str | None = None,
            history: list[Message] | None = None) -> Answer:
        """An answer of verified, cited quotations, or a refusal saying why (`refusal_reason`)."""
        return self.generation().ask(question, filters=filters, engine=engine, history=history)

    def stream(self, question: str, *, filters: Filters = None, engine: str | None = None,
               history: list[Message] | None = None) -> Iterator[AnswerEvent]:
        return self.generation().stream(question, filters=filters, engine=engine, history=history)

    def search(self, query: str, *, k: int = 8, mode: SearchMode | None = None, filters: Filters = None) -> list[Hit]:
        """The passages bearing on `query`, best first (mode: dense, lexical or hybrid)."""
        return self.generation().search(query, k=k, mode=mode, filters=filters)

    def sources(self) -> list[Source]:
        return self.generation().sources()

    def close(self) -> None:
        generation, self._generation = self._generation, None
        if generation is not None:
            generation.close()
        close = getattr(self.store, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def open_library(index: str | os.PathLike[str] | None = None, *, settings: Settings | None = None,
                 embedder: Embedder | None = None) -> Library:
    """The index at `index`: a folder (the embedded index) or a postgresql:// URL; None: the one the settings name
    (CITEWISE_INDEX, CITEWISE_STORE__URL; default .citewise). `settings` default to the environment's."""
    settings = settings or load_settings()
    if index is not None:
        target = os.fspath(index)
        if target.startswith(URL_SCHEMES):
            settings = settings.model_copy(update={"store": settings.store.model_copy(update={"url": target})})
        else:  # a folder named outright wins over a database the environment names
            settings = settings.model_copy(update={"index": Path(target),
                                                   "store": settings.store.model_copy(update={"url": None})})
    return Library(settings, embedder=embedder)
