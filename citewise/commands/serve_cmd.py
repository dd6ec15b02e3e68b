"""`citewise serve`: the HTTP API, OpenAI-compatible endpoints and the chat page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from citewise.commands.common import IndexOption
from citewise.core.errors import CitewiseError
from citewise.core.settings import load_settings


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="with --ingest: files or folders to index [default: corpus/]", show_default=False)] = None,
    ingest: Annotated[bool, typer.Option(
        "--ingest", help="index PATHS into the served index while serving (`citewise ingest` as a child "
        "process); a new index answers as soon as its first part is published")] = False,
    index: IndexOption = None,
    host: Annotated[str | None, typer.Option("--host", help="address to listen on [default: 127.0.0.1]",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option("--port", min=0, max=65535, help="port [default: 8000]",
                                             show_default=False)] = None,
    first_part_bytes: Annotated[int | None, typer.Option(
        "--first-part-bytes", min=0, hidden=True, help="passed to `citewise ingest` with --ingest; for tests")] = None,
) -> None:
    """Serve the API, the chat page and the MCP tools (streamable HTTP at /mcp). A new index ingested into the
    same directory is picked up live."""
    import uvicorn

    from citewise.library import Library
    from citewise.server.app import create_app
    from citewise.server.background_ingest import BackgroundIngest

    if paths and not ingest:
        raise CitewiseError("paths are only taken with --ingest: citewise serve --ingest PATH...")
    settings = load_settings(index=index)
    updates = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    if updates:
        settings = settings.model_copy(update={"server": settings.server.model_copy(update=updates)})
    server = settings.server
    # Opened once: the messages below, the background ingest and the service all use this store.
    library = Library(settings)
    store = library.store
    background = None
    if ingest:
        targets = paths or [Path("corpus")]
        for target in targets:  # checked here, so a typo stops the command instead of failing in the background
            if not target.exists():
                raise CitewiseError(f"{target}: no such file or folder")
        args = [] if first_part_bytes is None else ["--first-part-bytes", str(first_part_bytes)]
        background = BackgroundIngest(targets, settings.index, store, args=args)
        typer.echo(f"citewise: indexing {' '.join(map(str, targets))} into {store.location} in the background "
                   "(its output is marked [ingest]); the service answers from each part as it is published",
                   err=True)
    elif store.current_token() is None:
        typer.echo(f"citewise: no index at {store.location} yet; /readyz answers 503 until `citewise ingest` "
                   "writes one", err=True)
    typer.echo(f"citewise: serving {store.location} on http://{server.host}:{server.port}/, MCP clients at /mcp "
               f"({'API key required' if server.api_key else 'no API key'})", err=True)
    uvicorn.run(create_app(settings, background=background, library=library), host=server.host, port=server.port,
                log_level="warning", timeout_graceful_shutdown=5)
