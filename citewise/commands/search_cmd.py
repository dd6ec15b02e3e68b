"""`citewise search`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from citewise.commands.common import (
    AuthorOption,
    IndexOption,
    JsonOption,
    KindOption,
    SinceOption,
    SourceOption,
    UntilOption,
)
from citewise.core.controls import one_line, printable
from citewise.core.settings import load_settings


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("-k", min=1, max=200, help="passages to show")] = 8,
    mode: Annotated[str | None, typer.Option("--mode", help="dense, lexical or hybrid [default: hybrid]",
                                             show_default=False)] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    kind: KindOption = None,
    source: SourceOption = None,
    author: AuthorOption = None,
    index: IndexOption = None,
    json_out: JsonOption = False,
) -> None:
    """Find the passages that bear on QUERY."""
    from citewise.answers.output import year_and_kind
    from citewise.core.errors import CitewiseError
    from citewise.core.retrieval import FilterRequest
    from citewise.library import Library
    from citewise.retrieval.retriever import MODES

    if mode is not None and mode not in MODES:
        raise CitewiseError(f"--mode {mode!r}: use one of {', '.join(MODES)}")
    library = Library(load_settings(index=index))
    request = FilterRequest(since=since, until=until, kinds=kind or [], sources=source or [], authors=author or [])
    hits = library.search(query, k=k, mode=mode, filters=request)  # type: ignore[arg-type]
    if json_out:
        typer.echo(json.dumps([
            {"rank": h.rank, "score": h.score, "signals": h.signals, "passage_id": h.passage.id,
             "source_id": h.source.id, "file": h.source.file, "title": h.source.title, "author": h.source.author,
             "year": h.source.year, "kind": h.source.kind, "start": h.passage.start, "end": h.passage.end,
             "page": h.passage.page,
             "heading": h.passage.heading, "text": h.passage.text}
            for h in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        typer.echo("no passages found" + ("" if request.is_empty() else " (with these filters)"))
        return
    for h in hits:
        page = f" p.{h.passage.page}" if h.passage.page else ""
        where = f"{printable(h.source.file)}:{h.passage.start}-{h.passage.end}{page}"
        parts = [f"{name} {h.signals[name]:.3f}" + (f" #{int(h.signals[name + '_rank'])}"
                                                      if name + "_rank" in h.signals else "")
                 for name in ("dense", "lexical") if name in h.signals]
        # Metadata and text from the files, one line each and with no control character for the terminal.
        typer.echo(f"[{h.rank}] {h.score:.4f}  {one_line(h.source.author)}{one_line(year_and_kind(h.source)) or ' ()'}"
                   f", {one_line(h.source.title)}  {where}")
        typer.echo(f"    ({'; '.join(parts)})  " + one_line(h.passage.text)[:300])
