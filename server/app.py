"""The FastAPI app factory: loads the model and index once (lifespan), polls for new index generations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from citewise.core.settings import Settings
from citewise.server.background_ingest import BackgroundIngest
from citewise.server.errors import ERROR_RESPONSES, install_error_handlers
from citewise.server.guards import AllowedHostsMiddleware, ApiKeyMiddleware
from citewise.server.middleware import BodyLimitMiddleware, PagePolicyMiddleware
from citewise.server.routes import ask, export, health, openai_compat, search, sources
from citewise.server.state import ServiceState

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


def create_app(settings: Settings, embedder=None, background: BackgroundIngest | None = None) -> FastAPI:
    """The service for the index at settings.index; `embedder` lets a caller share an already-loaded model;
    `background` is an ingest into that index to run while serving (`serve --ingest`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The lifespan owns the child, so it is stopped on every way the service shuts down (uvicorn re-raises
        # SIGTERM after its graceful shutdown, which would skip a `finally` around uvicorn.run). Started first,
        # from the main thread, so it loads its model alongside ours.
        if background is not None:
            background.start()
        try:
            model = embedder
            if model is None:
                from citewise.ingest.embedder import load_embedder

                model = await run_in_threadpool(load_embedder, settings.embedding)
            service = ServiceState(settings, model, ingest_status=background.status if background else None)
            await run_in_threadpool(service.refresh)
            app.state.service = service
            watcher = asyncio.create_task(_watch_index(service))
            try:
                yield
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                service.close()
        finally:
            if background is not None:
                await run_in_threadpool(background.stop)

    # FastAPI's own /docs pulls Swagger UI from a CDN; serve the copy bundled in swagger-ui-bundle instead.
    app = FastAPI(title="citewise", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Answers built from verified, verbatim quotations of the indexed sources.")
    install_error_handlers(app)
    app.include_router(health.router)
    # The API key is checked once, by ApiKeyMiddleware (server/guards.py), before routing and before any body is read.
    for module in (ask, export, search, sources, openai_compat):
        app.include_router(module.router, responses=ERROR_RESPONSES)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="citewise API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")
    app.add_middleware(PagePolicyMiddleware)
    if settings.server.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=settings.server.api_key)
    if settings.server.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.server.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    # Added last so they run first: a request for another host, or with an oversized body, is refused before
    # anything reads it.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.server.max_body_bytes)
    app.add_middleware(AllowedHostsMiddleware, allowed=allowed_hosts(settings))
    return app


def allowed_hosts(settings: Settings) -> list[str]:
    """The configured host names, and the address the service listens on when it names one host."""
    bound = settings.server.host
    extra = [] if bound in ("", "0.0.0.0", "::") else [bound]
    return [*settings.server.allowed_hosts, *extra]
