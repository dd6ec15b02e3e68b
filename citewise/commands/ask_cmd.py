"""`citewise ask`."""

from __future__ import annotations

from typing import Annotated

import typer

from citewise.commands.common import IndexOption, JsonOption
from citewise.core.settings import load_settings


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)


def ask(
    question: Annotated[str, typer.Argument(help="the question to answer from the indexed sources")],
    engine: Annotated[str | None, typer.Option(
        "--engine", help="offline (no network) or llm (a local model: CITEWISE_LLM__LOCAL_MODEL=<.gguf>; or an "
        "endpoint: OPENAI_BASE_URL, OPENAI_API_KEY) [default: settings]", show_default=False)] = None,
    index: IndexOption = None,
    json_out: JsonOption = False,
) -> None:
    """Answer QUESTION with verified, cited quotations (or refuse, listing the nearest passages)."""
    from citewise.answers.engines import build_engine
    from citewise.core.errors import CitewiseError
    from citewise.retrieval.retriever import IndexRetriever
    from citewise.store import open_index

    if not question.strip():
        raise CitewiseError("the question is empty")
    settings = load_settings(index=index)
    retriever = IndexRetriever(settings, open_index(settings))
    answerer = build_engine(settings, retriever, retriever.index, name=engine, embedder=retriever.embedder)
    if json_out:
        typer.echo(answerer.answer(question).model_dump_json(indent=2))
        return
    # Printed as it streams: an LLM answer's verified sentences appear while the model is still writing.
    answer = None
    for event in answerer.stream(question):
        if event.type == "text" and event.text:
            typer.echo(event.text, nl=False)
        elif event.type == "done":
            answer = event.answer
    typer.echo("")
    if answer is not None and answer.refused and answer.nearest:
        typer.echo("")
        for n, passage in enumerate(answer.nearest, start=1):
            s = passage.source
            typer.echo(f"[{n}] {s.author} ({s.year}), {s.title}  {s.file}:{passage.start}-{passage.end}")
            typer.echo("    " + passage.text[:300])
