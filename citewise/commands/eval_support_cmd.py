"""`citewise eval support`: the support scorer's macro-F1 on AttributionBench's ID and OOD test sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from citewise.commands.common import JsonOption


def register(eval_app: typer.Typer) -> None:
    eval_app.command("support")(support)


def support(
    split: Annotated[Literal["id", "ood", "both"], typer.Option(
        "--split", help="id: the 500-item ID test sample; ood: the OOD test set; both")] = "both",
    bench_dir: Annotated[Path | None, typer.Option(
        "--bench-dir", help="AttributionBench folder [default: ../shared/benchmarks/attributionbench]",
        show_default=False)] = None,
    json_out: JsonOption = False,
) -> None:
    """Macro-F1 and accuracy of the support scorer against AttributionBench's human labels (published: a
    fine-tuned GPT-3.5 reaches about 80% macro-F1)."""
    from citewise.answers.quotes import load_support_scorer
    from citewise.core.settings import load_settings
    from citewise.evals.attribution import evaluate, load_split

    scorer = load_support_scorer(load_settings())
    splits = ["id", "ood"] if split == "both" else [split]
    report: dict[str, object] = {}
    for name in splits:
        items = load_split(name, bench_dir)
        report[name] = evaluate(scorer.scores, scorer.threshold, items)
    report["threshold"] = scorer.threshold
    report["features"] = list(scorer.features)
    report["scorer"] = scorer.name
    report["trained_on"] = scorer.trained_on
    if json_out:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"{scorer.name}, threshold {scorer.threshold:g} ({scorer.trained_on})")
    for name in splits:
        result = report[name]
        typer.echo(f"{name}: macro-F1 {result['macro_f1']:.4f}  accuracy {result['accuracy']:.4f}  n={result['n']}"
                   f"  (mean over subsets {result['macro_f1_subset_mean']:.4f})")
        for subset, values in result["by_subset"].items():
            typer.echo(f"    {subset:<22} macro-F1 {values['macro_f1']:.4f}  n={values['n']}")
