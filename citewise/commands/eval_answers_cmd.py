"""`citewise eval answers` (citation faithfulness over a question file) and `citewise eval selftest`."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

import typer

from citewise.commands.common import IndexOption, JsonOption
from citewise.core.settings import load_settings

EXIT_GATE_FAILED = 1


def register(eval_app: typer.Typer) -> None:
    eval_app.command("answers")(answers)
    eval_app.command("selftest")(selftest)


def answers(
    questions: Annotated[Path, typer.Option("--questions", help="JSON Lines: id, question, answerable, gold "
                                            "(evals/data/README.md)")],
    split: Annotated[str | None, typer.Option(
        "--split", help="only the questions of this split (tune or validation) [default: all]",
        show_default=False)] = None,
    index: IndexOption = None,
    engine: Annotated[Literal["offline", "llm"] | None, typer.Option(
        "--engine", help="answer engine [default: settings]", show_default=False)] = None,
    json_out: JsonOption = False,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="an earlier report.json: fail on any metric worse than it beyond tolerance")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for report.json and report.md")] = Path("artifacts/eval"),
    thresholds: Annotated[Path | None, typer.Option(
        "--thresholds", help="gate file [default: evals/thresholds.json]", show_default=False)] = None,
) -> None:
    """Run each question through the whole pipeline and measure citation faithfulness.

    Exit status: 0 every gated metric passes, 1 a metric is under its threshold or worse than the baseline.
    """
    from citewise.evals.answers import AnswerRun, load_questions
    from citewise.evals.report import build_report, load_baseline, load_thresholds, render_markdown, write_report
    from citewise.evals.support_info import describe_support

    settings = load_settings(index=index)
    items = load_questions(questions, split)
    bounds = load_thresholds(thresholds)
    old = load_baseline(baseline) if baseline else None
    began = time.perf_counter()
    run = AnswerRun(settings, engine)

    def progress(record) -> None:
        if not json_out:
            state = (f"refused ({record.answer.refusal_reason})" if record.answer.refused
                     else f"{len(record.answer.citations)} quotes")
            typer.echo(f"  {record.question.id}: {state}, {record.latency_s:.2f}s", err=True)

    records = run.run(items, progress)
    questions_file = f"{questions} (split {split})" if split else str(questions)
    report = build_report(records, engine=run.engine.name, index=run.library.location, questions_file=questions_file,
                          support=describe_support(run.checker.scorer), thresholds=bounds, baseline=old)
    report["seconds"] = round(time.perf_counter() - began, 1)
    json_path, md_path = write_report(report, out)
    if json_out:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        table = render_markdown(report).split("## Per question")[0].rstrip()
        typer.echo(table)
        typer.echo(f"\nwrote {json_path} and {md_path} ({report['seconds']}s)")
    for line in report["failures"]:
        typer.echo(f"eval failed: {line}", err=True)
    if report["failures"]:
        raise typer.Exit(EXIT_GATE_FAILED)


def selftest(json_out: JsonOption = False, index: IndexOption = None) -> None:
    """Corrupt correct answers (a changed word, a swapped author, a spliced or invented quote, a wrong passage,
    a dropped citation) and check the eval metrics flag each one.

    Exit status: 0 every quote-level corruption caught, 1 otherwise.
    """
    from citewise.evals.faithfulness import FaithfulnessChecker
    from citewise.evals.selftest import run_selftest

    began = time.perf_counter()
    settings = load_settings(index=index)
    from citewise.store import open_index

    reader = open_index(settings)
    checker = FaithfulnessChecker(reader, _support_scorer(settings))
    result = run_selftest(checker)
    summary = {
        "passed": result.passed, "detection_rate": result.detection_rate,
        "quote_level_detection_rate": result.quote_level_detection_rate,
        "controls_clean": result.controls_clean, "control_problems": result.control_problems,
        "seconds": round(time.perf_counter() - began, 1), "cases": [asdict(case) for case in result.cases],
    }
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
    else:
        for case in result.cases:
            mark = "caught" if case.detected else "MISSED"
            flagged = ", ".join(case.flagged_by) or "nothing"
            typer.echo(f"  answer {case.base} {case.mutation:<28} {mark:<7} flagged by {flagged}")
        for problem in result.control_problems:
            typer.echo(f"  control: {problem}")
        typer.echo(f"detection_rate {result.detection_rate:.3f} (quote-level {result.quote_level_detection_rate:.3f}) "
                   f"over {len(result.cases)} cases in {summary['seconds']}s")
    if not result.passed:
        typer.echo("selftest failed: a quote-level corruption went undetected or a correct answer scored below 1.0",
                   err=True)
        raise typer.Exit(EXIT_GATE_FAILED)


def _support_scorer(settings):
    from citewise.answers.quotes import load_support_scorer
    from citewise.ingest.embedder import load_embedder

    return load_support_scorer(settings, embedder=load_embedder(settings.embedding))
