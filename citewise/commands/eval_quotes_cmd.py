"""`citewise eval quotes`: checks the quotations of answers written by any system against the files they name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citewise.commands.common import IndexOption, JsonOption, bad_input_exits
from citewise.core.errors import CitewiseError
from citewise.core.settings import load_settings

EXIT_MISQUOTED = 1


def register(eval_app: typer.Typer) -> None:
    eval_app.command("quotes")(quotes)


def quotes(
    answers: Annotated[Path, typer.Argument(help="JSON Lines, one answer a line: {id, question, quotes: [{file, "
                                            "quote}]} (docs/EVALUATION.md)", show_default=False)],
    corpus: Annotated[Path | None, typer.Option(
        "--corpus", help="folder the quotations' files are named relative to", show_default=False)] = None,
    index: IndexOption = None,
    json_out: JsonOption = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="also write quotes-report.json and quotes-report.md in this folder", show_default=False)] = None,
    junit: Annotated[Path | None, typer.Option(
        "--junit", help="also write a JUnit XML report here: a test case per quotation", show_default=False)] = None,
    require_support: Annotated[bool, typer.Option(
        "--require-support", help="also fail when a statement of an answer's prose is not supported by the "
        "quotations it cites (judged by the support model)")] = False,
) -> None:
    """Check each quotation of ANSWERS against the file it names: verbatim there or not, where, and if not the
    source's nearest wording and what differs. Offsets, cited passages, titles, authors and years given with a
    quotation are checked too; an answer's prose, when given, is judged statement by statement.

    Exit status: 0 every quotation is verbatim where claimed; 1 one is not (or, with --require-support, a statement
    is not supported); 2 bad input (answers file, corpus folder, index): nothing was checked.
    """
    with bad_input_exits():
        _quotes(answers, corpus, index, json_out, out, junit, require_support)


def _quotes(answers: Path, corpus: Path | None, index: Path | None, json_out: bool, out: Path | None,
            junit: Path | None, require_support: bool) -> None:
    from citewise.evals.junit import write_junit
    from citewise.evals.quotes.check import QuoteChecker
    from citewise.evals.quotes.format import load_outside_answers
    from citewise.evals.quotes.report import build_report, junit_cases, text_lines, write_reports
    from citewise.evals.quotes.texts import CorpusTexts, IndexTexts

    if corpus is not None and index is not None:
        raise CitewiseError("give --corpus or --index, not both")
    items = load_outside_answers(answers)
    settings = load_settings(index=index)
    if corpus is not None:
        texts = CorpusTexts(corpus)
    else:
        from citewise.store import open_index

        texts = IndexTexts(open_index(settings), str(settings.index))
    scorer = None
    if any(item.answer is not None for item in items):
        from citewise.answers.quotes import load_support_scorer
        from citewise.ingest.embedder import load_embedder

        scorer = load_support_scorer(settings, embedder=load_embedder(settings.embedding))
    checker = QuoteChecker(texts, scorer)
    verdicts = [checker.check(item) for item in items]
    report = build_report(verdicts, answers_file=str(answers), checked_against=texts.description,
                          require_support=require_support)
    written = write_reports(report, out) if out else []
    if junit:
        written.append(write_junit(junit, f"citewise eval quotes: {answers}", junit_cases(report, verdicts)))
    if json_out:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        for line in text_lines(report, verdicts):
            typer.echo(line)
        if written:
            typer.echo(f"wrote {', '.join(map(str, written))}")
    if not report["passed"]:
        raise typer.Exit(EXIT_MISQUOTED)
