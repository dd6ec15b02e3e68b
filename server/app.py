"""The FastAPI app factory: loads the model and index once (lifespan), polls for new index generations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from citewise.settings import Settings
from server.deps import require_api_key
from server.errors import install_error_handlers
from server.middleware import BodyLimitMiddleware, PagePolicyMiddleware
from server.routes import ask, health, openai_compat, search, sources
from server.state import ServiceState

STATIC = Path(__file__).resolve().parent / "static"
# CURRENT is one small file: reading it each second costs nothing, and a new index shows up within ~1 s.
RELOAD_POLL_S = 1.0
log = logging.getLogger("citewise.server")


async def _watch_index(service: ServiceState) -> None:
    while True:
        await asyncio.sleep(RELOAD_POLL_S)
        try:
            # The new generation is loaded in a worker thread; requests go on with the old one until the swap.
            await run_in_threadpool(service.refresh)
        except Exception as exc:  # the watcher must outlive a bad generation
            log.warning("index reload failed: %s", exc)


def create_app(settings: Settings, embedder=None) -> FastAPI:
    """The service for the index at settings.index; `embedder` lets a caller share an already-loaded model."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = embedder
        if model is None:
            from ingest.embedder import load_embedder

            model = await run_in_threadpool(load_embedder, settings.embedding)
        service = ServiceState(settings, model)
        await run_in_threadpool(service.refresh)
        app.state.service = service
        watcher = asyncio.create_task(_watch_index(service))
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    app = FastAPI(title="citewise", version="0.1.0", lifespan=lifespan,
                  description="Answers built from verified, verbatim quotations of the indexed sources.")
    install_error_handlers(app)
    protected = [Depends(require_api_key)]
    app.include_router(health.router)
    for module in (ask, search, sources, openai_compat):
        app.include_router(module.router, dependencies=protected)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(PagePolicyMiddleware)
    if settings.server.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.server.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    # Added last so it runs first: an oversized body is refused before anything reads it.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.server.max_body_bytes)
    return app
