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
