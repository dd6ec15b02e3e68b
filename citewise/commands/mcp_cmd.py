"""`citewise mcp`: the MCP server over stdio, started by a desktop or IDE assistant."""

from __future__ import annotations

import typer

from citewise.commands.common import IndexOption
from citewise.core.settings import load_settings

HELP = """Serve the corpus to an MCP client (Claude Desktop, IDE assistants, agent frameworks) over stdio.

The client starts this command itself; configure it once with the command and the absolute index path, e.g. in
the "mcpServers" of a desktop client's configuration file:

  "citewise": {"command": "/path/to/citewise/.venv/bin/citewise",
               "args": ["mcp", "--index", "/path/to/citewise/.citewise"]}

Tools: ask (an answer of verified, cited quotations, or a refusal listing the nearest passages), search, get_passage
(a span in context) and sources. Settings come from the environment as for every command (an "env" entry of the
client's configuration, e.g. CITEWISE_STORE__URL for a PostgreSQL index). Over HTTP, `citewise serve` serves the
same tools at http://127.0.0.1:8000/mcp (with the API key as a bearer token when one is set).
"""


def register(app: typer.Typer) -> None:
    app.command("mcp", help=HELP)(mcp)


def mcp(index: IndexOption = None) -> None:
    from citewise.library import Library
    from citewise.mcp_server.stdio import run_stdio
    from citewise.server.state import serving

    settings = load_settings(index=index)
    library = Library(settings)  # the store, opened once
    if library.current_token() is None:  # stdout is the client's: a word for whoever reads the client's log
        typer.echo(f"citewise mcp: no index at {library.location} yet; the tools report it until `citewise ingest` "
                   "writes one", err=True)
    run_stdio(lambda: serving(settings, library=library))
