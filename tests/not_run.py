"""One line naming the tests that did not run and why, so a green run is not taken for a full one: pytest prints it
in its summary, and writes it to $PYTEST_NOT_RUN_FILE, which scripts/test.sh prints as its very last line."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def not_run_line(skipped: Sequence[Any], deselected: int, markexpr: str) -> str:
    """"not run: ...": each reason for skipping, with the test modules it held back (a module skipped whole is
    "all"), and how many tests the -m expression left out; or that nothing was left out."""
    by_reason: dict[str, dict[str, int | None]] = {}
    for report in skipped:
        module = report.nodeid.split("::")[0]
        counts = by_reason.setdefault(_reason(report), {})
        # A skip at collection (importorskip, a module-level skip) holds back the whole module.
        whole = "::" not in report.nodeid
        counts[module] = None if whole or counts.get(module, 0) is None else (counts.get(module) or 0) + 1
    groups = []
    for reason, modules in by_reason.items():
        named = ", ".join(f"{module} ({'all' if n is None else f'{n} test' + ('s' if n > 1 else '')})"
                          for module, n in sorted(modules.items()))
        groups.append(f"{named}: {reason}")
    if deselected:
        groups.append(f"{deselected} test{'s' if deselected > 1 else ''} deselected by -m {markexpr!r}")
    return "not run: " + ("; ".join(groups) if groups else "none, every collected test ran")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    stats = terminalreporter.stats
    line = not_run_line(stats.get("skipped", []), len(stats.get("deselected", [])), config.option.markexpr or "")
    terminalreporter.write_line(line)
    target = os.environ.get("PYTEST_NOT_RUN_FILE")
    if target:
        Path(target).write_text(line + "\n", encoding="utf-8")
