"""AttributionBench (Li et al. 2024): load its (claim, evidence, human label) items and score a support judge."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citewise.core.errors import CitewiseError
from citewise.core.paths import shared_dir

SPLITS = {
    "dev": "dev_all_subset_balanced.jsonl",
    "id": "test_all_subset_balanced_sampled500.jsonl",
    "ood": "test_ood_all_subset_balanced.jsonl",
}


@dataclass(frozen=True)
class AttributionItem:
    id: str
    subset: str  # the source dataset (ExpertQA, HAGRID, ...)
    claim: str
    evidence: str
    label: bool  # True: a human judged the claim attributable to the evidence


def load_split(split: str, bench_dir: Path | None = None) -> list[AttributionItem]:
    if split not in SPLITS:
        raise CitewiseError(f"unknown AttributionBench split {split!r}; choose one of {', '.join(SPLITS)}")
    path = Path(bench_dir or shared_dir() / "benchmarks" / "attributionbench") / SPLITS[split]
    if not path.is_file():
        raise CitewiseError(f"{path}: AttributionBench file not found (expected beside the repo in shared/)")
    items = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                items.append(AttributionItem(
                    id=str(row["id"]), subset=str(row["src_dataset"]), claim=str(row["claim"]),
                    evidence="\n\n".join(str(r) for r in row.get("references") or []),
                    label=row["attribution_label"] == "attributable",
                ))
            except (KeyError, TypeError, json.JSONDecodeError) as exc:
                raise CitewiseError(f"{path}:{line_no}: not an AttributionBench item ({exc})") from exc
    return items


def f1(predicted: list[bool], gold: list[bool], positive: bool) -> float:
    tp = sum(1 for p, g in zip(predicted, gold, strict=True) if p == positive and g == positive)
    fp = sum(1 for p, g in zip(predicted, gold, strict=True) if p == positive and g != positive)
    fn = sum(1 for p, g in zip(predicted, gold, strict=True) if p != positive and g == positive)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def macro_f1(predicted: list[bool], gold: list[bool]) -> float:
    """Mean of the F1 for "attributable" and for "not attributable", the benchmark's metric; like scikit-learn,
    over the labels that occur in `gold` or `predicted`."""
    labels = sorted(set(gold) | set(predicted))
    return sum(f1(predicted, gold, label) for label in labels) / len(labels) if labels else 0.0


def metrics(predicted: list[bool], items: list[AttributionItem]) -> dict[str, object]:
    """Macro-F1 and accuracy over all items, and per subset; the paper averages the per-subset figures."""
    gold = [item.label for item in items]
    by_subset: dict[str, dict[str, float | int]] = {}
    for subset in sorted({item.subset for item in items}):
        index = [i for i, item in enumerate(items) if item.subset == subset]
        p, g = [predicted[i] for i in index], [gold[i] for i in index]
        by_subset[subset] = {"macro_f1": round(macro_f1(p, g), 4),
                             "accuracy": round(sum(a == b for a, b in zip(p, g, strict=True)) / len(g), 4),
                             "n": len(g)}
    return {
        "macro_f1": round(macro_f1(predicted, gold), 4),
        "accuracy": round(sum(p == g for p, g in zip(predicted, gold, strict=True)) / max(1, len(gold)), 4),
        "n": len(gold),
        "macro_f1_subset_mean": round(sum(s["macro_f1"] for s in by_subset.values()) / max(1, len(by_subset)), 4),
        "by_subset": by_subset,
    }


def evaluate(score_pairs: Callable[[list[tuple[str, str]]], list[float]], threshold: float,
             items: list[AttributionItem]) -> dict[str, object]:
    scores = score_pairs([(item.claim, item.evidence) for item in items])
    return metrics([s >= threshold for s in scores], items)
