"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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

