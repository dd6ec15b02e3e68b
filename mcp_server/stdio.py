"""`citewise mcp`: the MCP server over stdio, for the desktop and IDE assistants that start it as a child process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp.server import MCPServer

from citewise.mcp_server.server import build_server
from citewise.mcp_server.service import Service


def run_stdio(open_service: Callable[[], AbstractAsyncContextManager[Service]]) -> None:
    """Serves the tools on stdin/stdout until the client closes stdin. The service (model and index) is opened
    once the SDK holds stdout for the protocol and has pointed file descriptor 1 at stderr, so nothing printed
    while loading (a library's progress line, a native warning) can corrupt the client's stream."""
    opened: list[Service] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
        async with open_service() as service:
            opened.append(service)
            yield

    build_server(lambda: opened[0] if opened else None, lifespan=lifespan).run("stdio")
