"""The `citewise` command line. Each command lives in citewise/commands/; errors print as one line."""

from __future__ import annotations

import os
import sys

import typer

from citewise.core.controls import printable
from citewise.core.errors import CitewiseError

app = typer.Typer(
    name="citewise",
    help="Answers built from verified, verbatim quotations of your sources.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from citewise.commands import ask_cmd, bench_cmd, eval_cmd, ingest_cmd, mcp_cmd, search_cmd, serve_cmd

    for module in (ingest_cmd, search_cmd, ask_cmd, serve_cmd, mcp_cmd, eval_cmd, bench_cmd):
        module.register(app)


_register()


def main() -> None:
    try:
        # Without standalone mode click returns a typer.Exit code instead of exiting with it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except CitewiseError as exc:
        typer.echo(f"citewise: error: {printable(str(exc))}", err=True)  # it may name a file: one line, always
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("citewise: interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("citewise: aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # usage errors (typer's own click): well worded
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("CITEWISE_DEBUG"):
            raise
        typer.echo(f"citewise: internal error: {type(exc).__name__}: {exc} "
                   "(a bug: set CITEWISE_DEBUG=1 for the traceback and report it)", err=True)
        sys.exit(70)
