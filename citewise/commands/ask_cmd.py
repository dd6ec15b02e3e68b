"""`citewise ask`."""

from __future__ import annotations

import html
import sys
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
from citewise.core.controls import escape_controls, one_line, printable
from citewise.core.settings import load_settings

FORMATS = ("text", "json", "md", "bibtex", "ris")


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)


def ask(
    question: Annotated[str, typer.Argument(help="the question to answer from the indexed sources")],
    engine: Annotated[str | None, typer.Option(
        "--engine", help="offline (no network) or llm (a local model: CITEWISE_LLM__LOCAL_MODEL=<.gguf>; or an "
        "endpoint: OPENAI_BASE_URL, OPENAI_API_KEY) [default: settings]", show_default=False)] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    kind: KindOption = None,
    source: SourceOption = None,
    author: AuthorOption = None,
    output: Annotated[str, typer.Option(
        "--format", help="text (the answer's Markdown; on a terminal with a quotation's &, < and > as written), "
                         "json, md (Markdown with a full bibliography), bibtex or ris (the cited sources only)"
    )] = "text",
    index: IndexOption = None,
    json_out: JsonOption = False,
) -> None:
    """Answer QUESTION with verified, cited quotations (or refuse, listing the nearest passages).

    The filters confine the answer to sources published since/until a year, of some kinds, or named ones; a
    refusal under filters says whether they excluded the evidence.
    """
    from citewise.answers.output import export_answer, year_and_kind
    from citewise.core.errors import CitewiseError
    from citewise.core.retrieval import FilterRequest
    from citewise.library import Library

    if not question.strip():
        raise CitewiseError("the question is empty")
    if output not in FORMATS:
        raise CitewiseError(f"--format {output!r}: use one of {', '.join(FORMATS)}")
    output = "json" if json_out else output
    library = Library(load_settings(index=index))
    request = FilterRequest(since=since, until=until, kinds=kind or [], sources=source or [], authors=author or [])
    if output != "text":
        answer = library.ask(question, filters=request, engine=engine)
        typer.echo(answer.model_dump_json(indent=2) if output == "json" else
                   export_answer(answer, {s.id: s for s in library.sources()}, output), nl=output == "json")
        return
    # Printed as it streams: an LLM answer's verified sentences appear while the model is still writing.
    answer = None
    # The Markdown escapes a source's &, < and > as entities, so that whatever renders it shows them as text; a
    # terminal renders nothing, and "&amp;c." there would misquote De Quincey's "&c.". Piped, it stays Markdown.
    # Either way no control character reaches the terminal (escaped again after the entities are undone).
    shown = html.unescape if sys.stdout.isatty() else str
    for event in library.stream(question, filters=request, engine=engine):
        if event.type == "text" and event.text:
            typer.echo(escape_controls(shown(event.text)), nl=False)
        elif event.type == "done":
            answer = event.answer
    typer.echo("")
    if answer is not None and answer.refused and answer.nearest:
        typer.echo("")
        for n, passage in enumerate(answer.nearest, start=1):
            s = passage.source
            where = f"{printable(s.file)}:{passage.start}-{passage.end}"
            typer.echo(f"[{n}] {one_line(s.author)}{one_line(year_and_kind(s)) or ' ()'}, {one_line(s.title)}  "
                       f"{where}")
            typer.echo("    " + one_line(passage.text)[:300])
