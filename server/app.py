"""The FastAPI app factory: loads the model and index once (lifespan), polls for new index generations, and serves
the MCP tools at /mcp beside the HTTP API."""

from __future__ import annotations

import contextlib
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
from citewise.library import Library
from citewise.mcp_server.http import StreamableHttpEndpoint
from citewise.server.background_ingest import BackgroundIngest
from citewise.server.errors import ERROR_RESPONSES, install_error_handlers
from citewise.server.guards import AllowedHostsMiddleware, ApiKeyMiddleware
from citewise.server.middleware import BodyLimitMiddleware, PagePolicyMiddleware
from citewise.server.routes import ask, export, health, openai_compat, search, sources
from citewise.server.state import serving

STATIC = Path(__file__).resolve().parent / "static"
MCP_PATH = "/mcp"
MCP_HEADERS = ["Mcp-Protocol-Version", "Mcp-Session-Id", "Mcp-Method", "Mcp-Name", "Last-Event-ID"]


def create_app(settings: Settings, embedder=None, background: BackgroundIngest | None = None,
               library: Library | None = None) -> FastAPI:
    """The service for the index the settings name, or `library` when the caller has opened it already (`citewise
    serve` opens the store once); `embedder` lets a caller share an already-loaded model; `background` is an ingest
    into that index to run while serving (`serve --ingest`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The lifespan owns the child, so it is stopped on every way the service shuts down (uvicorn re-raises
        # SIGTERM after its graceful shutdown, which would skip a `finally` around uvicorn.run). Started first,
        # from the main thread, so it loads its model alongside ours.
        if background is not None:
            background.start()
        try:
            async with serving(settings, embedder, background.status if background else None,
                               library) as service:
                app.state.service = service
                async with mcp.running():
                    yield
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
    # MCP over streamable HTTP, behind the same Host, API-key and body-size guards as every other route.
    mcp = StreamableHttpEndpoint(lambda: getattr(app.state, "service", None))
    app.add_route(MCP_PATH, mcp, include_in_schema=False)

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
        # A browser MCP client sends the protocol's own headers (and reads the session id, should one be set).
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.server.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type", *MCP_HEADERS],
                           expose_headers=["Mcp-Session-Id"])
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
