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


def printable(text: str) -> str:
    """`text` with control and format characters escaped (a newline as \\n), so a file name or a reason read from
    a file can neither forge a line of output nor move the cursor or reorder the text (bidirectional controls)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)
