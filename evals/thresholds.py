"""Thresholds belong to a question set: the file that gates a run, where it is found by default, and the gate.

A set `my-questions.jsonl` is gated by `my-questions.thresholds.json` beside it (a run of one split, `--split S`,
first by `my-questions.S.thresholds.json`); a set with neither is not gated. A metric a run cannot measure (no
question of the set has the data) is "not measured", and fails the gate only where its bound says `required`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from citewise.core.errors import CitewiseError
from citewise.evals.metric_specs import METRICS, SPECS
from citewise.evals.questions import describe_validation_error

THRESHOLDS_SUFFIX = ".thresholds.json"


class Bound(BaseModel):
    """One metric's gate. Unknown keys are errors: a misspelt "mni" would otherwise gate nothing."""

    model_config = ConfigDict(extra="forbid")
    min: float | None = None
    max: float | None = None
    required: bool = False  # a run that cannot measure the metric fails (else it is reported "not measured")
    why: str | None = None

    @model_validator(mode="after")
    def _has_a_bound(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("give 'min' or 'max'")
        return self

    def text(self) -> str:
        return " ".join(f"{sign} {value:g}" for sign, value in (("≥", self.min), ("≤", self.max)) if value is not None)


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    about: str | None = None
    tolerance: float = Field(0.0, ge=0.0)  # how much worse than --baseline a metric may be
    metrics: dict[str, Bound] = {}

    @model_validator(mode="after")
    def _known_metrics(self) -> Thresholds:
        unknown = sorted(set(self.metrics) - set(SPECS))
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(unknown)} (known: {', '.join(SPECS)})")
        return self


NO_THRESHOLDS = Thresholds()


def thresholds_beside(questions: Path, split: str | None = None) -> list[Path]:
    """The files that would gate a run of `questions` (most specific first), whether or not they exist."""
    stem = Path(questions).name.removesuffix(".jsonl")
    names = ([f"{stem}.{split}{THRESHOLDS_SUFFIX}"] if split else []) + [f"{stem}{THRESHOLDS_SUFFIX}"]
    return [Path(questions).with_name(name) for name in names]


def find_thresholds(questions: Path, split: str | None = None) -> Path | None:
    return next((path for path in thresholds_beside(questions, split) if path.is_file()), None)


def load_thresholds(path: Path) -> Thresholds:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CitewiseError(f"cannot read thresholds file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    except json.JSONDecodeError as exc:
        raise CitewiseError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    try:
        return as_thresholds(data)
    except ValidationError as exc:
        raise CitewiseError(f"{path}: {describe_validation_error(exc)}") from exc


def as_thresholds(data: Thresholds | Mapping[str, Any] | None) -> Thresholds:
    if data is None:
        return NO_THRESHOLDS
    return data if isinstance(data, Thresholds) else Thresholds.model_validate(dict(data))


def load_baseline(path: Path) -> dict[str, float | None]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))["metrics"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CitewiseError(f"cannot read baseline report {path}: {exc}") from exc


GateStatus = Literal["pass", "fail", "not measured"]


@dataclass(frozen=True)
class GateCheck:
    """One gated comparison: a metric against its bound, or against the baseline."""

    metric: str
    kind: Literal["threshold", "baseline"]
    status: GateStatus
    message: str  # "name: ..." as printed after "eval failed:"
    value: float | None = None
    bound: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def gate_checks(metrics: Mapping[str, float | None], thresholds: Thresholds | Mapping[str, Any] | None,
                baseline: Mapping[str, float | None] | None = None) -> list[GateCheck]:
    """Every bound of the thresholds file and every baseline comparison, each passed, failed or not measured."""
    bounds = as_thresholds(thresholds)
    checks: list[GateCheck] = []
    for name, bound in bounds.metrics.items():
        value = metrics.get(name)
        if value is None:
            required = "required, so the run fails" if bound.required else "not required, so not gated"
            checks.append(GateCheck(name, "threshold", "fail" if bound.required else "not measured",
                                    f"{name}: not measured (no question of this run gives it data), {required}",
                                    None, bound.text()))
            continue
        problems = []
        if bound.min is not None and value < bound.min:
            problems.append(f"{value:.4f} below threshold {bound.min}")
        if bound.max is not None and value > bound.max:
            problems.append(f"{value:.4f} above threshold {bound.max}")
        checks.append(GateCheck(name, "threshold", "fail" if problems else "pass",
                                f"{name}: {'; '.join(problems) or f'{value:.4f} within {bound.text()}'}",
                                value, bound.text()))
    for spec in METRICS:
        old, value = (baseline or {}).get(spec.name), metrics.get(spec.name)
        if not spec.compare_to_baseline or old is None or value is None:
            continue
        worse = old - value if spec.higher_is_better else value - old
        failed = worse > bounds.tolerance + 1e-12
        message = (f"{spec.name}: {value:.4f} worse than baseline {old:.4f} beyond tolerance {bounds.tolerance}"
                   if failed else f"{spec.name}: {value:.4f}, baseline {old:.4f}")
        checks.append(GateCheck(spec.name, "baseline", "fail" if failed else "pass", message, value,
                                f"baseline {old:.4f} ± {bounds.tolerance:g}"))
    return checks


def gate(metrics: Mapping[str, float | None], thresholds: Thresholds | Mapping[str, Any] | None,
         baseline: Mapping[str, float | None] | None = None) -> list[str]:
    """One line per failing metric: under (over) its threshold, not measured though required, or worse than the
    baseline beyond tolerance."""
    return [check.message for check in gate_checks(metrics, thresholds, baseline) if check.failed]
