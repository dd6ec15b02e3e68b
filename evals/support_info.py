"""What the eval report says about its support judge: the scorer, its threshold, and its AttributionBench
macro-F1, read from a saved `citewise eval support --json` run (AttributionBench is not rerun per eval)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Where `citewise eval support --json > FILE` output may have been saved; the first readable one wins.
SUPPORT_REPORTS = (Path("artifacts/eval/support.json"), Path("docs/support-eval.json"))


def saved_macro_f1(paths: tuple[Path, ...] = SUPPORT_REPORTS) -> tuple[dict[str, float], str | None]:
    """{"id": f1, "ood": f1} from the first saved support report, and its path."""
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        figures = {split: float(value["macro_f1"]) for split, value in data.items()
                   if isinstance(value, dict) and isinstance(value.get("macro_f1"), int | float)}
        if figures:
            return figures, str(path)
    return {}, None


def _dev_macro_f1() -> float | None:
    from citewise.answers.quotes import SUPPORT_MODEL_PATH as MODEL_PATH

    try:
        value = json.loads(MODEL_PATH.read_text(encoding="utf-8")).get("dev_cv_macro_f1")
    except (OSError, json.JSONDecodeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def describe_support(scorer: Any, paths: tuple[Path, ...] = SUPPORT_REPORTS) -> dict[str, Any]:
    name = getattr(scorer, "name", None) or type(scorer).__name__
    threshold = float(scorer.threshold)
    figures, where = saved_macro_f1(paths)
    dev = _dev_macro_f1()
    if figures:
        measured = "AttributionBench macro-F1 " + ", ".join(f"{split} test {f1:.3f}" for split, f1 in figures.items())
        measured += f" (from {where})"
    elif dev is not None:
        # Without a saved test-set run, the weights' own cross-validated dev figure is the next best.
        measured = (f"AttributionBench macro-F1 {dev:.3f} on the dev split by 5-fold cross-validation; test-set "
                    "figures: `citewise eval support --json`")
    else:
        measured = "AttributionBench macro-F1 not on file; run `citewise eval support --json`"
    return {
        "scorer": name, "threshold": threshold, "attributionbench_macro_f1": figures or None,
        "attributionbench_dev_cv_macro_f1": dev, "attributionbench_report": where,
        "description": f"{name}: a statement counts as supported at score ≥ {threshold:g}; {measured}. "
                       "Citation recall/precision follow ALCE (Gao et al. 2023); the judge reads each cited passage "
                       "under its source's author, year and title, as ALCE gives its judge each document's title",
    }
