"""What the MCP tools need from the service that holds the index: the live generation, lent for one call, and why
there is none. The server's ServiceState (server/state.py) is one; this package never imports the server."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

from mcp.server.mcpserver.exceptions import ToolError

from citewise.core.answer import AnswerEngine
from citewise.core.index import IndexReader
from citewise.core.retrieval import Retriever
from citewise.core.settings import Settings


class Generation(Protocol):
    """One loaded index generation with its retriever and engines."""

    @property
    def index(self) -> IndexReader: ...

    @property
    def retriever(self) -> Retriever: ...

    def engine(self, name: str | None = None) -> AnswerEngine: ...

    def release(self) -> None: ...


class Service(Protocol):
    @property
    def settings(self) -> Settings: ...

    def borrow(self) -> Generation | None: ...

    def indexing(self) -> bool: ...

    def unavailable_reason(self) -> str: ...


# Called on every tool call: the HTTP app's service exists only once its lifespan has started.
ServiceGetter = Callable[[], Service | None]


@contextlib.contextmanager
def lent_generation(service: Service | None) -> Iterator[Generation]:
    """The live generation for the length of one call (a generation replaced meanwhile is closed after it), or a
    tool error saying why there is none: no index yet, still being indexed, a broken generation."""
    if service is None:
        raise ToolError("citewise is still starting: ask again in a few seconds")
    loaded = service.borrow()
    if loaded is None:
        raise ToolError(f"no index loaded: {service.unavailable_reason()}")
    try:
        yield loaded
    finally:
        loaded.release()
