"""`citewise eval answers` (citation faithfulness over a question file) and `citewise eval selftest`."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

import typer

from citewise.commands.common import IndexOption, JsonOption, bad_input_exits
from citewise.core.errors import CitewiseError
from citewise.core.settings import load_settings

EXIT_GATE_FAILED = 1


def register(eval_app: typer.Typer) -> None:
    eval_app.command("answers")(answers)
    eval_app.command("selftest")(selftest)


def answers(
    questions: Annotated[Path, typer.Option("--questions", help="JSON Lines, one question a line: id, question, "
                                            "answerable, gold (docs/EVALUATION.md)")],
    split: Annotated[str | None, typer.Option(
        "--split", help="only the questions of this split (e.g. tune or validation) [default: all]",
        show_default=False)] = None,
    index: IndexOption = None,
    engine: Annotated[Literal["offline", "llm"] | None, typer.Option(
        "--engine", help="answer engine [default: settings]", show_default=False)] = None,
    json_out: JsonOption = False,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="an earlier report.json: fail on any metric worse than it beyond tolerance")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for report.json and report.md")] = Path("artifacts/eval"),
    thresholds: Annotated[Path | None, typer.Option(
        "--thresholds", help="gate file; by default the question set's own, beside it: NAME.SPLIT.thresholds.json, "
        "else NAME.thresholds.json (with neither, nothing is gated)", show_default=False)] = None,
    junit: Annotated[Path | None, typer.Option(
        "--junit", help="also write a JUnit XML report here: a test case per question and per gate",
        show_default=False)] = None,
) -> None:
    """Run each question through the whole pipeline and measure citation faithfulness.

    Exit status: 0 the run was measured and passed its gate (or nothing gates it); 1 a gated metric is below (above)
    its threshold, is required but not measured, or is worse than the baseline; 2 bad input (questions, thresholds
    or baseline file, index, output folder): nothing was run.
    """
    with bad_input_exits():
        _answers(questions, split, index, engine, json_out, baseline, out, thresholds, junit)


def _answers(questions: Path, split: str | None, index: Path | None, engine: str | None, json_out: bool,
             baseline: Path | None, out: Path, thresholds: Path | None, junit: Path | None) -> None:
    from citewise.evals import thresholds as gating
    from citewise.evals.answers import AnswerRun
    from citewise.evals.junit import write_junit
    from citewise.evals.questions import load_questions
    from citewise.evals.report import build_report, junit_cases, render_markdown, write_report
    from citewise.evals.support_info import describe_support

    # Every input is read, and every output folder made, before the first question runs.
    settings = load_settings(index=index)
    items = load_questions(questions, split)
    thresholds = thresholds or gating.find_thresholds(questions, split)
    bounds = gating.load_thresholds(thresholds) if thresholds else gating.NO_THRESHOLDS
    old = gating.load_baseline(baseline) if baseline else None
    for folder in (out, *([junit.parent] if junit else [])):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CitewiseError(f"cannot create the folder {folder}: {exc.strerror or exc}") from exc
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
                          support=describe_support(run.checker.scorer), thresholds=bounds,
                          thresholds_file=str(thresholds) if thresholds else None, baseline=old)
    report["seconds"] = round(time.perf_counter() - began, 1)
    json_path, md_path = write_report(report, out)
    written = [json_path, md_path]
    if junit:
        written.append(write_junit(junit, f"citewise eval answers: {questions_file}", junit_cases(report)))
    if json_out:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        table = render_markdown(report).split("## Per question")[0].rstrip()
        typer.echo(table)
        typer.echo(f"\nwrote {', '.join(map(str, written))} ({report['seconds']}s)")
    if not thresholds:
        looked = " or ".join(str(path) for path in gating.thresholds_beside(questions, split))
        typer.echo(f"eval: nothing gated: no thresholds file for this question set ({looked}; or --thresholds)",
                   err=True)
    for line in report["not_measured"]:
        typer.echo(f"eval note: {line}", err=True)
    for line in report["failures"]:
        typer.echo(f"eval failed: {line}", err=True)
    if report["failures"]:
        raise typer.Exit(EXIT_GATE_FAILED)


def selftest(json_out: JsonOption = False, index: IndexOption = None) -> None:
    """Corrupt correct answers (a changed word, a swapped author, a spliced or invented quote, a wrong passage,
    a dropped citation) and check the eval metrics flag each one.

    Exit status: 0 every quote-level corruption caught, 1 otherwise, 2 bad input (the index).
    """
    with bad_input_exits():
        _selftest(json_out, index)


def _selftest(json_out: bool, index: Path | None) -> None:
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
