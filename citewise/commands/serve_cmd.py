"""`citewise serve`: the HTTP API, OpenAI-compatible endpoints and the chat page."""

from __future__ import annotations

from typing import Annotated

import typer

from citewise.commands.common import IndexOption
from citewise.settings import load_settings


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    index: IndexOption = None,
    host: Annotated[str | None, typer.Option("--host", help="address to listen on [default: 127.0.0.1]",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option("--port", min=0, max=65535, help="port [default: 8000]",
                                             show_default=False)] = None,
) -> None:
    """Serve the API and the chat page. A new index ingested into the same directory is picked up live."""
    import uvicorn

    from server.app import create_app

    settings = load_settings(index=index)
    updates = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    if updates:
        settings = settings.model_copy(update={"server": settings.server.model_copy(update=updates)})
    server = settings.server
    if not (settings.index / "CURRENT").exists():
        typer.echo(f"citewise: no index at {settings.index} yet; /readyz answers 503 until `citewise ingest` "
                   "writes one", err=True)
    typer.echo(f"citewise: serving {settings.index} on http://{server.host}:{server.port}/ "
               f"({'API key required' if server.api_key else 'no API key'})", err=True)
    uvicorn.run(create_app(settings), host=server.host, port=server.port, log_level="warning",
                timeout_graceful_shutdown=5)
