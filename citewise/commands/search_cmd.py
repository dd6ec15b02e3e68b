"""`citewise search`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from citewise.commands.common import IndexOption, JsonOption
from citewise.settings import load_settings


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    k: Annotated[int, typer.Option("-k", min=1, max=200, help="passages to show")] = 8,
    index: IndexOption = None,
    json_out: JsonOption = False,
) -> None:
    """Find the passages that bear on QUERY."""
    from retrieval.retriever import IndexRetriever

    retriever = IndexRetriever(load_settings(index=index))
    hits = retriever.search(query, k=k)
    if json_out:
        typer.echo(json.dumps([
            {"rank": h.rank, "score": h.score, "signals": h.signals, "passage_id": h.passage.id,
             "source_id": h.source.id, "file": h.source.file, "title": h.source.title, "author": h.source.author,
             "year": h.source.year, "start": h.passage.start, "end": h.passage.end, "page": h.passage.page,
             "heading": h.passage.heading, "text": h.passage.text}
            for h in hits], indent=2, ensure_ascii=False))
        return
    for h in hits:
        where = f"{h.source.file}:{h.passage.start}-{h.passage.end}" + (f" p.{h.passage.page}" if h.passage.page else "")
        typer.echo(f"[{h.rank}] {h.score:.3f}  {h.source.author} ({h.source.year}), {h.source.title}  {where}")
        typer.echo("    " + " ".join(h.passage.text.split())[:300])
