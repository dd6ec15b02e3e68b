"""The report of `citewise eval quotes`: one line per quotation for a terminal, JSON, Markdown and JUnit cases."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from citewise.evals.junit import JUnitCase
from citewise.evals.quotes.check import VERBATIM, AnswerVerdict, QuoteVerdict
from citewise.evals.report_files import write_json_and_markdown


def build_report(verdicts: list[AnswerVerdict], *, answers_file: str, checked_against: str,
                 require_support: bool) -> dict[str, Any]:
    quotes = [q for v in verdicts for q in v.quotes]
    statements = [s for v in verdicts for s in (v.statements or [])]
    by_status: dict[str, int] = {}
    for q in quotes:
        by_status[q.status] = by_status.get(q.status, 0) + 1
    unsupported = sum(not s.supported for s in statements)
    failed = sum(not q.ok for q in quotes) + (unsupported if require_support else 0)
    return {
        "answers_file": answers_file, "checked_against": checked_against, "require_support": require_support,
        "counts": {
            "answers": len(verdicts), "quotations": len(quotes),
            "passed": sum(q.ok for q in quotes), "not_verbatim": sum(q.status not in (VERBATIM, "not where claimed")
                                                                     for q in quotes),
            "by_status": by_status,
            "wrong_source_details": sum(bool(q.wrong_details) for q in quotes),
            "statements_judged": len(statements), "statements_unsupported": unsupported,
        },
        "passed": failed == 0,
        "answers": [asdict(v) for v in verdicts],
    }


def _label(q: QuoteVerdict) -> str:
    if q.ok:
        return "ok"
    return q.status.upper() if q.status != VERBATIM else "WRONG SOURCE DETAILS"


def _where(q: dict[str, Any] | QuoteVerdict) -> str:
    item = q if isinstance(q, dict) else asdict(q)
    if item["start"] is None:
        return ""
    page = f", page {item['page']}" if item["page"] is not None else ""
    return f"{item['start']}-{item['end']} (line {item['line']}{page})"


def quote_lines(answer_id: str, q: QuoteVerdict) -> list[str]:
    """A quotation's verdict for a terminal: a line, and for a misquote the source's own wording under it."""
    if q.ok:
        return [f"{answer_id} [{q.n}] ok: verbatim in {q.file} at {_where(q)}"]
    lines = [f"{answer_id} [{q.n}] {_label(q)}: {q.file}: {'; '.join(q.problems)}"]
    if q.source_reads is not None:
        lines.append(f"    the source reads at {_where(q)}: \"{q.source_reads}\"")
    return lines


def text_lines(report: dict[str, Any], verdicts: list[AnswerVerdict]) -> list[str]:
    lines = []
    for verdict in verdicts:
        for q in verdict.quotes:
            lines += quote_lines(verdict.id, q)
        for number, s in enumerate(verdict.statements or [], start=1):
            if not s.supported:
                lines.append(f"{verdict.id} statement {number} UNSUPPORTED: {s.problem}: \"{s.text}\"")
    counts = report["counts"]
    failing = {status: n for status, n in sorted(counts["by_status"].items()) if status != VERBATIM}
    summary = (f"{counts['quotations']} quotations in {counts['answers']} answers, checked against "
               f"{report['checked_against']}: {counts['passed']} verbatim where claimed")
    if failing:
        summary += "; " + ", ".join(f"{n} {status}" for status, n in failing.items())
    if counts["wrong_source_details"]:
        summary += f"; {counts['wrong_source_details']} with a title, author or year unlike the file's"
    if counts["statements_judged"]:
        summary += (f"; {counts['statements_unsupported']} of {counts['statements_judged']} statements not "
                    "supported by their quotations")
    return [*lines, summary]


def render_markdown(report: dict[str, Any]) -> str:
    counts = report["counts"]
    lines = [f"# Quotations of `{report['answers_file']}`", "",
             f"Checked against {report['checked_against']}: {counts['quotations']} quotations in {counts['answers']} "
             f"answers, {counts['passed']} verbatim where claimed.", "",
             "| answer | n | file | status | where | problems |", "|---|---|---|---|---|---|"]
    for answer in report["answers"]:
        for q in answer["quotes"]:
            problems = "; ".join(q["problems"]).replace("|", "\\|")
            lines.append(f"| {answer['id']} | {q['n']} | {q['file']} | {q['status']} | {_where(q)} | {problems} |")
    misquotes = [(answer["id"], q) for answer in report["answers"] for q in answer["quotes"]
                 if q["source_reads"] is not None]
    if misquotes:
        lines += ["", "## What the sources say", ""]
        for answer_id, q in misquotes:
            lines += [f"- {answer_id} [{q['n']}] quoted: \"{q['quote']}\"",
                      f"  {q['file']} reads at {_where(q)}: \"{q['source_reads']}\""]
    unsupported = [(answer["id"], s) for answer in report["answers"] for s in (answer["statements"] or [])
                   if not s["supported"]]
    if unsupported:
        lines += ["", "## Statements not supported by their quotations", ""]
        lines += [f"- {answer_id}: {s['problem']}: \"{s['text']}\"" for answer_id, s in unsupported]
    return "\n".join(lines) + "\n"


def junit_cases(report: dict[str, Any], verdicts: list[AnswerVerdict]) -> list[JUnitCase]:
    """A case per quotation (failing unless verbatim where claimed, with the right source details) and, for answers
    with prose, one for its statements (failing only under --require-support)."""
    cases = []
    for verdict in verdicts:
        for q in verdict.quotes:
            cases.append(JUnitCase(verdict.id, f"[{q.n}] {q.file}: {q.quote[:80]}", "pass" if q.ok else "fail",
                                   "; ".join(q.problems), "\n".join(quote_lines(verdict.id, q)),
                                   properties={"status": q.status, "line": q.line}))
        if verdict.statements is not None:
            bad = [s for s in verdict.statements if not s.supported]
            cases.append(JUnitCase(
                verdict.id, "statements supported by their quotations",
                "fail" if bad and report["require_support"] else "pass",
                f"{len(bad)} of {len(verdict.statements)} statements not supported" if bad else "",
                "\n".join(f"{s.problem}: {s.text}" for s in bad)))
    return cases


def write_reports(report: dict[str, Any], out_dir: Path) -> list[Path]:
    return list(write_json_and_markdown(report, render_markdown(report), out_dir, "quotes-report"))
