"""`citewise eval retrieval`: dense, lexical and hybrid side by side, on BEIR data or on our question file."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from citewise.commands.common import IndexOption, JsonOption
from citewise.core.settings import load_settings


def register(eval_app: typer.Typer) -> None:
    eval_app.command("retrieval")(retrieval)


def _table(metrics: dict[str, dict[str, float]]) -> str:
    names = list(next(iter(metrics.values())).keys()) if metrics else []
    lines = ["mode     " + "".join(f"{name:>11}" for name in names)]
    for mode, values in metrics.items():
        lines.append(f"{mode:<9}" + "".join(f"{values[name]:>11.4f}" for name in names))
    return "\n".join(lines)


def retrieval(
    beir: Annotated[Path | None, typer.Option("--beir", help="a BEIR dataset folder (corpus, queries, qrels/)")] = None,
    split: Annotated[str, typer.Option("--split", help="qrels split to score")] = "test",
    index_dir: Annotated[Path | None, typer.Option(
        "--index-dir", help="keep the BEIR index here and reuse it next time [default: a temporary folder]")] = None,
    questions: Annotated[Path | None, typer.Option("--questions", help="a questions.jsonl with gold quotes")] = None,
    index: IndexOption = None,
    json_out: JsonOption = False,
) -> None:
    """Retrieval quality: nDCG@10, recall@10/100, MRR@10 on BEIR; gold-passage recall@5/10 and MRR on questions."""
    from citewise.core.errors import CitewiseError

    if (beir is None) == (questions is None):
        raise CitewiseError("give either --beir DIR or --questions FILE")
    settings = load_settings(index=index)
    if beir is not None:
        from citewise.evals.beir import evaluate_beir

        report = evaluate_beir(beir, settings, split=split, work_dir=index_dir, progress=not json_out)
        if json_out:
            typer.echo(json.dumps(report.metrics, indent=2))
            return
        typer.echo(f"{report.dataset} ({report.split}): {report.documents} documents, {report.passages} passages, "
                   f"{report.queries} queries; indexed in {report.index_seconds:.0f}s")
        typer.echo(_table(report.metrics))
        typer.echo("search seconds: " + ", ".join(f"{m} {s:.1f}" for m, s in report.search_seconds.items()))
        return
    from citewise.evals.questions_retrieval import evaluate_questions
    from citewise.library import Library

    library = Library(settings)
    generation = library.generation()
    qreport = evaluate_questions(questions, generation.retriever, generation.index)
    if json_out:
        typer.echo(json.dumps({**qreport.metrics, "questions": qreport.questions,
                               "unresolved_quotes": qreport.unresolved_quotes,
                               "per_question": [asdict(r) for r in qreport.results]}, indent=2))
        return
    typer.echo(f"{qreport.questions} answerable questions; {qreport.unresolved_quotes} gold quotes not found in "
               f"{library.location}")
    typer.echo(_table(qreport.metrics))
    misses = [r for r in qreport.results if r.metrics.get("hybrid", {}).get("hit@10") == 0.0]
    for result in misses:
        typer.echo(f"hybrid miss: {result.id} {result.question}")
