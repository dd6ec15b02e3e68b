"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from citewise.core.controls import printable
from citewise.core.errors import CitewiseError, InvalidInput

# The eval commands' exit status when their input is at fault (click's own for a usage error): nothing was run.
EXIT_BAD_INPUT = 2

IndexOption = Annotated[
    Path | None,
    typer.Option("--index", help="index directory [default: $CITEWISE_INDEX or .citewise/]", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]
SinceOption = Annotated[int | None, typer.Option(
    "--since", "--year-from", help="only sources published in or after this year", show_default=False)]
UntilOption = Annotated[int | None, typer.Option(
    "--until", "--year-to", help="only sources published in or before this year", show_default=False)]
KindOption = Annotated[list[str] | None, typer.Option(
    "--kind", help="only sources of this kind, e.g. 'encyclopedia article' (repeatable: any; see `citewise "
                   "sources`)", show_default=False)]
SourceOption = Annotated[list[str] | None, typer.Option(
    "--source", help="only this source, by id, file name, alias or title (repeatable)", show_default=False)]
AuthorOption = Annotated[list[str] | None, typer.Option(
    "--author", help="only sources whose author contains NAME (repeatable: any)", show_default=False)]


@contextmanager
def bad_input_exits() -> Iterator[None]:
    """A CitewiseError (the user's to fix) becomes exit status 2, each of its problems printed on a line of its own,
    so a CI job can tell a broken setup (2) from a run that was measured and failed its gate (1)."""
    try:
        yield
    except CitewiseError as exc:
        for problem in exc.problems if isinstance(exc, InvalidInput) else [str(exc)]:
            typer.echo(f"citewise: error: {printable(problem)}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
