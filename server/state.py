"""What the service holds loaded (one index generation through the Python API, citewise.library) and the hot reload
that swaps it for a newer one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from citewise.core.answer import AnswerEngine
from citewise.core.index import IndexReader, IndexStore
from citewise.core.settings import Settings
from citewise.library import Generation, Library
from citewise.retrieval.retriever import IndexRetriever

log = logging.getLogger("citewise.server")

# CURRENT is one small file: reading it each second costs nothing, and a new index shows up within ~1 s.
RELOAD_POLL_S = 1.0


@dataclass
class LoadedIndex:
    """One index generation with everything built on it (citewise.library.Generation), and its count of users: once
    replaced (retired), it is closed as soon as the last request using it ends, so a replaced generation's files
    are let go (and its folder's disk space freed) at once."""

    generation: Generation
    engine_error: str | None = None
    _users: int = 0
    _retired: bool = False
    closed: bool = False
    _use_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token(self) -> str:
        return self.generation.token

    @property
    def index(self) -> IndexReader:
        return self.generation.index

    @property
    def retriever(self) -> IndexRetriever:
        return self.generation.retriever

    @property
    def settings(self) -> Settings:
        return self.generation.settings

    def acquire(self) -> None:
        with self._use_lock:
            self._users += 1

    def release(self) -> None:
        with self._use_lock:
            self._users -= 1
            last = self._claim_close()
        if last:
            self._close()

    def retire(self) -> None:
        """Replaced by a newer generation: closed now if nobody uses it, else when its last user releases it."""
        with self._use_lock:
            self._retired = True
            now = self._claim_close()
        if now:
            self._close()

    def _claim_close(self) -> bool:
        """Called holding _use_lock: True (once) when this generation is retired, unused and not yet closed, and
        marks it closed, so exactly one caller closes it, outside the lock."""
        due = self._retired and self._users == 0 and not self.closed
        self.closed = self.closed or due
        return due

    def _close(self) -> None:
        self.generation.close()
        log.info("closed index generation %s", self.token)

    def engine(self, name: str | None = None) -> AnswerEngine:
        """The named engine, built on first use (the llm engine may need a network client nobody asked for); an
        unknown name is a CitewiseError naming the engines there are."""
        return self.generation.engine(name)


class ServiceState:
    """Holds the live LoadedIndex behind a single reference; a reload builds the next one aside, then swaps it."""

    def __init__(self, settings: Settings, embedder: Any = None,
                 ingest_status: Callable[[], dict[str, object]] | None = None, library: Library | None = None) -> None:
        self.settings = settings
        # The index opened once (by `citewise serve`, or here): its store, and the model shared by every generation.
        self.library = library or Library(settings, embedder=embedder)
        # With `serve --ingest`: the background ingest's state, for /readyz and for the 503 of a request that
        # comes before the first generation.
        self.ingest_status = ingest_status
        self.store: IndexStore = self.library.store
        self.current: LoadedIndex | None = None
        self.last_error: str | None = None
        self._reload_lock = threading.Lock()
        self._swap_lock = threading.Lock()  # held only to read-and-acquire or to swap: never while loading
        self._failed_token: str | None = None

    def borrow(self) -> LoadedIndex | None:
        """The live generation, counted as in use until the caller `release()`s it (None when nothing is loaded)."""
        with self._swap_lock:
            loaded = self.current
            if loaded is not None:
                loaded.acquire()
            return loaded

    def close(self) -> None:
        """At shutdown: the live generation goes the way of a replaced one."""
        with self._swap_lock:
            loaded, self.current = self.current, None
        if loaded is not None:
            loaded.retire()

    @property
    def location(self) -> str:
        """Where the index is: the folder, or the PostgreSQL database without its password."""
        return self.library.location

    def load(self) -> LoadedIndex:
        loaded = LoadedIndex(self.library.open_generation())
        try:
            # Building the default engine here keeps its set-up cost (term statistics) off the first request.
            loaded.engine()
        except Exception as exc:  # search and sources still work; /v1/ask reports the error itself
            loaded.engine_error = f"answer engine not built: {exc}"
            log.warning(loaded.engine_error)
        return loaded

    def indexing(self) -> bool:
        """The index is still on its way or growing: a background ingest runs, or has just ended and the watcher
        (once a second) has not loaded its last generation yet. A client should wait for it, not give up."""
        if self.ingest_status is None:
            return False
        state = self.ingest_status().get("state")
        if state == "running":
            return True
        served = self.current.token if self.current is not None else None
        return state == "finished" and self.last_error is None and served != self.store.current_token()

    def unavailable_reason(self) -> str:
        """Why nothing is loaded, for a client: a broken generation, an index on its way, or no index at all."""
        return self.last_error or (
            "the corpus is still being indexed; the first part will be answerable shortly, ask again then"
            if self.indexing() else f"no index at {self.location} yet (run `citewise ingest`)")

    def refresh(self) -> bool:
        """Loads the published generation if it differs from the live one; True when a swap happened."""
        with self._reload_lock:
            token = self.store.current_token()
            if token is None or token == self._failed_token or (
                    self.current is not None and self.current.token == token):
                return False
            try:
                loaded = self.load()
            except Exception as exc:  # a half-readable index must not take the running service down
                # Tried once per published generation; /readyz reports it until a good one is published.
                self._failed_token = token
                self.last_error = f"could not load index generation {token}: {exc}"
                serving = f"; still serving {self.current.token}" if self.current is not None else ""
                log.warning(self.last_error + serving)
                return False
            # In-flight requests keep using the old LoadedIndex; it is closed when the last of them ends.
            with self._swap_lock:
                previous, self.current = self.current, loaded
            self.last_error = None
            if previous is not None:
                previous.retire()
            log.info("serving index generation %s (%d sources)", loaded.token, len(loaded.index.sources))
            return True


async def _watch_index(service: ServiceState) -> None:
    while True:
        await asyncio.sleep(RELOAD_POLL_S)
        try:
            # The new generation is loaded in a worker thread; requests go on with the old one until the swap.
            await run_in_threadpool(service.refresh)
        except Exception as exc:  # the watcher must outlive a bad generation
            log.warning("index reload failed: %s", exc)


@contextlib.asynccontextmanager
async def serving(settings: Settings, embedder: Any = None,
                  ingest_status: Callable[[], dict[str, object]] | None = None,
                  library: Library | None = None) -> AsyncIterator[ServiceState]:
    """The service's state for as long as the block runs: the index opened (unless `library` is given, as `citewise
    serve` opens it once), the model loaded (unless given), the published generation loaded, newer generations
    swapped in as they are published, the live one closed at the end. The HTTP app and `citewise mcp` (stdio) both
    run inside it."""
    library = library or Library(settings, embedder=embedder)
    await run_in_threadpool(lambda: library.embedder)
    service = ServiceState(settings, ingest_status=ingest_status, library=library)
    await run_in_threadpool(service.refresh)
    watcher = asyncio.create_task(_watch_index(service))
    try:
        yield service
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        service.close()
