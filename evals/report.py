"""The answer-eval report: overall metrics from per-question records, the gate's verdicts (evals/thresholds.py),
and report.json + report.md."""

from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from citewise.evals.answers import RETRIEVAL_KS, QuestionRecord
from citewise.evals.faithfulness import ratio
from citewise.evals.junit import JUnitCase
from citewise.evals.metric_specs import METRICS
from citewise.evals.report_files import write_json_and_markdown
from citewise.evals.thresholds import Thresholds, gate_checks


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def summarize(records: list[QuestionRecord]) -> dict[str, float | None]:
    """Overall metrics. Quote-level shares pool all citations; ALCE recall/precision average over answers."""
    relevance = [r.relevance for r in records if r.relevance is not None]
    on_topic = [flag for rel in relevance for flag in rel.on_topic]
    parts = [rel.parts_covered for rel in relevance if rel.parts_covered]
    named = [rel.missing_named for rel in relevance if rel.missing_named is not None]
    citations = [c for r in records for c in r.score.citations]
    judged = [c.attributed for c in citations if c.attributed is not None]
    answered = [r for r in records if not r.answer.refused]
    answerable = [r for r in records if r.question.answerable]
    unanswerable = [r for r in records if not r.question.answerable]
    ranked = [r.retrieval for r in records if r.retrieval is not None]
    latencies = sorted(r.latency_s for r in records)
    metrics: dict[str, float | None] = {
        "quote_exactness": ratio(sum(c.exact for c in citations), len(citations)),
        "attribution": ratio(sum(judged), len(judged)),
        "citation_recall": _mean([r.score.citation_recall for r in answered]),
        "citation_precision": _mean([r.score.citation_precision for r in answered]),
        "evidence_hit": _mean([float(r.score.evidence_hit) for r in answerable if r.score.evidence_hit is not None]),
    }
    for k in RETRIEVAL_KS:
        metrics[f"retrieval_recall@{k}"] = _mean([rank[f"recall@{k}"] for rank in ranked])
    metrics[f"retrieval_mrr@{max(RETRIEVAL_KS)}"] = _mean([rank[f"mrr@{max(RETRIEVAL_KS)}"] for rank in ranked])
    metrics["off_topic_rate"] = ratio(sum(not flag for flag in on_topic), len(on_topic))
    metrics["part_coverage"] = ratio(sum(sum(covered) for covered in parts), sum(len(covered) for covered in parts))
    metrics["all_parts_covered"] = ratio(sum(all(covered) for covered in parts), len(parts))
    metrics["refusal_rate"] = ratio(sum(r.answer.refused for r in unanswerable), len(unanswerable))
    metrics["false_refusal_rate"] = ratio(sum(r.answer.refused for r in answerable), len(answerable))
    metrics["missing_named_rate"] = ratio(sum(named), len(named))
    metrics["latency_p50_s"] = _percentile(latencies, 0.50)
    metrics["latency_p95_s"] = _percentile(latencies, 0.95)
    return metrics


# The figures per question kind: what a reader needs to see where answers fail.
BY_KIND = ("evidence_hit", "off_topic_rate", "part_coverage", "refusal_rate", "false_refusal_rate",
           "missing_named_rate", "latency_p50_s")


def by_kind(records: list[QuestionRecord]) -> dict[str, dict[str, float | int | None]]:
    """The BY_KIND metrics per question kind (unanswerable ones by the kind of unanswerable), with counts."""
    groups: dict[str, list[QuestionRecord]] = {}
    for record in records:
        q = record.question
        name = (q.kind or "unknown") if q.answerable else f"unanswerable: {q.unanswerable_type or q.kind or '?'}"
        groups.setdefault(name, []).append(record)
    table: dict[str, dict[str, float | int | None]] = {}
    for name in sorted(groups):
        metrics = summarize(groups[name])
        table[name] = {"questions": len(groups[name]), **{key: metrics.get(key) for key in BY_KIND}}
    return table


def counts(records: list[QuestionRecord]) -> dict[str, int]:
    return {
        "questions": len(records),
        "answerable": sum(r.question.answerable for r in records),
        "unanswerable": sum(not r.question.answerable for r in records),
        "refused": sum(r.answer.refused for r in records),
        "citations": sum(len(r.score.citations) for r in records),
        "statements": sum(len(r.score.statements) for r in records),
        "gold_quotes_not_located": sum(len(r.gold_problems) for r in records),
    }


def question_json(record: QuestionRecord) -> dict[str, Any]:
    score = record.score
    return {
        "id": record.question.id, "kind": record.question.kind, "question": record.question.question,
        "answerable": record.question.answerable, "refused": record.answer.refused,
        "refusal_reason": record.answer.refusal_reason,
        "latency_s": round(record.latency_s, 4),
        "quote_exactness": score.quote_exactness, "attribution": score.attribution,
        "citation_recall": score.citation_recall, "citation_precision": score.citation_precision,
        "evidence_hit": score.evidence_hit,
        "split": record.question.split,
        "on_topic": record.relevance.on_topic if record.relevance else [],
        "parts_covered": record.relevance.parts_covered if record.relevance else [],
        "missing_named": record.relevance.missing_named if record.relevance else None,
        "retrieval": record.retrieval,
        "checks": [{"n": c.n, "quote": c.quote, "status": c.status, "exact": c.exact, "attributed": c.attributed,
                    "precise": c.precise, "problems": c.problems} for c in score.citations],
        "statements": [{"text": s.text, "markers": s.markers, "support": round(s.support, 4),
                        "supported": s.supported} for s in score.statements],
        "gold_problems": record.gold_problems,
        # The whole answer (less the refusal's nearest passages), so a report can be re-read or re-scored.
        "answer": record.answer.model_dump(mode="json", exclude={"nearest"}),
    }


def build_report(records: list[QuestionRecord], *, engine: str, index: str, questions_file: str,
                 support: dict[str, Any], thresholds: Thresholds, thresholds_file: str | None = None,
                 baseline: dict[str, float | None] | None = None) -> dict[str, Any]:
    metrics = summarize(records)
    checks = gate_checks(metrics, thresholds, baseline)
    return {
        "engine": engine, "index": index, "questions_file": questions_file,
        "counts": counts(records), "support_scorer": support,
        "metrics": metrics, "by_kind": by_kind(records),
        "thresholds_file": thresholds_file, "thresholds": thresholds.model_dump(mode="json", exclude_none=True),
        "gates": [asdict(check) for check in checks],
        "failures": [check.message for check in checks if check.failed],
        "not_measured": [check.message for check in checks if check.status == "not measured"],
        "questions": [question_json(r) for r in records],
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render_markdown(report: dict[str, Any]) -> str:
    bounds = report["thresholds"].get("metrics", {})
    status_of: dict[str, str] = {}
    for check in report.get("gates", []):
        # A failure outranks a pass: one metric may be gated by a threshold and the baseline.
        if status_of.get(check["metric"]) != "FAIL":
            status_of[check["metric"]] = {"fail": "FAIL", "pass": "ok"}.get(check["status"], check["status"])
    gated_by = (f"thresholds `{report['thresholds_file']}`" if report.get("thresholds_file")
                else "no thresholds file: nothing is gated")
    lines = [
        f"# Citation-faithfulness eval ({report['engine']} engine)", "",
        f"Index `{report['index']}`, questions `{report['questions_file']}`: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report["counts"].items()) + ".", "",
        f"Support judgements: {report['support_scorer'].get('description', 'support scorer')}.", "",
        f"Gate: {gated_by}.", "",
        "| metric | value | gate | status | meaning |", "|---|---|---|---|---|",
    ]
    for spec in METRICS:
        bound = bounds.get(spec.name, {})
        gate_text = " ".join(f"{'≥' if key == 'min' else '≤'} {bound[key]}" for key in ("min", "max") if key in bound)
        gate_text += " (required)" if bound.get("required") else ""
        status = status_of.get(spec.name, "")
        lines.append(f"| {spec.name} | {_fmt(report['metrics'].get(spec.name))} | {gate_text or '-'} | {status} "
                     f"| {spec.meaning} |")
    lines += ["", f"Baseline tolerance: {report['thresholds'].get('tolerance', 0)}.", ""]
    if report.get("by_kind"):
        lines += ["## By kind of question", "", "| kind | questions | " + " | ".join(BY_KIND) + " |",
                  "|---|---|" + "---|" * len(BY_KIND)]
        for name, row in report["by_kind"].items():
            lines.append(f"| {name} | {row['questions']} | " + " | ".join(_fmt(row.get(k)) for k in BY_KIND) + " |")
        lines.append("")
    if report["failures"]:
        lines += ["## Failures", "", *[f"- {line}" for line in report["failures"]], ""]
    if report.get("not_measured"):
        lines += ["## Not measured", "", *[f"- {line}" for line in report["not_measured"]], ""]
    lines += ["## Per question", "",
              "| id | kind | refused | quotes | exact | attributed | recall | precision | evidence hit | off topic "
              "| parts | r@5 | r@10 | RR | s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for q in report["questions"]:
        r = q["retrieval"] or {}
        lines.append("| " + " | ".join(_fmt(v) for v in (
            q["id"], q["kind"], q["refused"], len(q["checks"]), q["quote_exactness"], q["attribution"],
            q["citation_recall"], q["citation_precision"], q["evidence_hit"],
            sum(not flag for flag in q.get("on_topic", [])) if q.get("on_topic") else None,
            f"{sum(q['parts_covered'])}/{len(q['parts_covered'])}" if q.get("parts_covered") else None,
            r.get("recall@5"), r.get("recall@10"),
            r.get(f"mrr@{max(RETRIEVAL_KS)}"), q["latency_s"])) + " |")
    problems = [f"- {q['id']} [{c['n']}] {c['status']}: {'; '.join(c['problems'])}"
                for q in report["questions"] for c in q["checks"] if c["problems"]]
    problems += [f"- {p}" for q in report["questions"] for p in q["gold_problems"]]
    if problems:
        lines += ["", "## Problems found", "", *problems]
    return "\n".join(lines) + "\n"


def junit_cases(report: dict[str, Any]) -> list[JUnitCase]:
    """One case per question (failing when a quotation is not verbatim where cited, or its citation names the wrong
    source: the faults no answer may have) and one per gate (skipped when not measured and not required)."""
    cases = []
    for q in report["questions"]:
        faults = [f"[{c['n']}] {c['status']}: {'; '.join(c['problems'])}" for c in q["checks"]
                  if not c["exact"] or c["attributed"] is False]
        outcome = ("refused" if q["refused"] else f"answered with {len(q['checks'])} quotation(s)") + (
            "; the question is answerable" if q["answerable"] else "; the question is unanswerable")
        if q["evidence_hit"] is not None:
            outcome += f"; gold evidence {'cited' if q['evidence_hit'] else 'not cited'}"
        cases.append(JUnitCase(
            "questions", f"{q['id']}: {q['question'][:100]}", "fail" if faults else "pass",
            faults[0] + (f" (and {len(faults) - 1} more)" if len(faults) > 1 else "") if faults else "",
            "\n".join([outcome, *faults]), q["latency_s"],
            {"kind": q["kind"], "split": q["split"], "answerable": q["answerable"],
             "refused": q["refused"], "quotations": len(q["checks"])}))
    for check in report.get("gates", []):
        name = f"{check['metric']} {check['bound']}" if check["kind"] == "threshold" else \
            f"{check['metric']} against the baseline"
        status = {"pass": "pass", "fail": "fail"}.get(check["status"], "skip")
        cases.append(JUnitCase("gates", name, status, check["message"] if status != "pass" else "",
                               check["message"], properties={"value": check["value"]}))
    return cases


def write_report(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    return write_json_and_markdown(report, render_markdown(report), out_dir, "report")
