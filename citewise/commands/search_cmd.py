"""`citewise search`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from citewise.commands.common import IndexOption, JsonOption
from citewise.core.settings import load_settings


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("-k", min=1, max=200, help="passages to show")] = 8,
    mode: Annotated[str | None, typer.Option("--mode", help="dense, lexical or hybrid [default: hybrid]",
                                             show_default=False)] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="only this source id (repeatable)")] = None,
    author: Annotated[list[str] | None, typer.Option("--author", help="author contains NAME (repeatable: any)")] = None,
    year_from: Annotated[int | None, typer.Option("--year-from", help="published in or after this year")] = None,
    year_to: Annotated[int | None, typer.Option("--year-to", help="published in or before this year")] = None,
    index: IndexOption = None,
    json_out: JsonOption = False,
) -> None:
    """Find the passages that bear on QUERY."""
    from citewise.core.errors import CitewiseError
    from citewise.core.retrieval import SearchFilters
    from citewise.retrieval.retriever import MODES, IndexRetriever
    from citewise.store import open_index

    if mode is not None and mode not in MODES:
        raise CitewiseError(f"--mode {mode!r}: use one of {', '.join(MODES)}")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise CitewiseError(f"--year-from {year_from} is after --year-to {year_to}")
    settings = load_settings(index=index)
    retriever = IndexRetriever(settings, open_index(settings))
    unknown = [sid for sid in source or [] if sid not in retriever.index.sources]
    if unknown:
        raise CitewiseError(f"--source {unknown[0]}: no such source in {settings.index} (see `citewise sources`)")
    filters = SearchFilters(frozenset(source or []), frozenset(author or []), year_from, year_to)
    hits = retriever.search(query, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
    if json_out:
        typer.echo(json.dumps([
            {"rank": h.rank, "score": h.score, "signals": h.signals, "passage_id": h.passage.id,
             "source_id": h.source.id, "file": h.source.file, "title": h.source.title, "author": h.source.author,
             "year": h.source.year, "start": h.passage.start, "end": h.passage.end, "page": h.passage.page,
             "heading": h.passage.heading, "text": h.passage.text}
            for h in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        typer.echo("no passages found" + ("" if filters.is_empty() else " (with these filters)"))
        return
    for h in hits:
        page = f" p.{h.passage.page}" if h.passage.page else ""
        where = f"{h.source.file}:{h.passage.start}-{h.passage.end}{page}"
        parts = [f"{name} {h.signals[name]:.3f}" + (f" #{int(h.signals[name + '_rank'])}"
                                                      if name + "_rank" in h.signals else "")
                 for name in ("dense", "lexical") if name in h.signals]
        typer.echo(f"[{h.rank}] {h.score:.4f}  {h.source.author} ({h.source.year}), {h.source.title}  {where}")
        typer.echo(f"    ({'; '.join(parts)})  " + " ".join(h.passage.text.split())[:300])
