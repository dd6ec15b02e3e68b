"""Server-sent events framing, and running a blocking engine stream without holding the event loop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.concurrency import iterate_in_threadpool

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(data: Any, event: str | None = None) -> str:
    """One event; `data` is sent as JSON unless it is already a string."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return head + "".join(f"data: {line}\n" for line in text.split("\n")) + "\n"


async def in_thread(events: Iterator[Any]) -> AsyncIterator[Any]:
    """The engines are synchronous (model, SQLite, FAISS); each step runs in the thread pool."""
    async for item in iterate_in_threadpool(events):
        yield item
