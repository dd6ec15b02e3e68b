"""The line that closes scripts/test.sh: which tests did not run, grouped by why, from a real pytest run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.unit

SUITE = '''
import pytest

def test_runs():
    pass

@pytest.mark.skip(reason="no Chromium: apt-get install chromium")
def test_page_a():
    pass

@pytest.mark.skip(reason="no Chromium: apt-get install chromium")
def test_page_b():
    pass

@pytest.mark.slow
def test_long():
    pass
'''


def _run(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    summary = folder / "summary.txt"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.not_run", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(folder), "-c", os.devnull, *args, str(folder)],
                          capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, "PYTEST_NOT_RUN_FILE": str(summary)})
    return done, summary.read_text(encoding="utf-8")


def test_skipped_groups_and_deselected_tests_are_named_with_their_reason(tmp_path: Path) -> None:
    (tmp_path / "test_pages.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "test_extra.py").write_text('import pytest\npytest.importorskip("no_such_module_here", '
                                            'reason="the optional extra extra")\n', encoding="utf-8")
    done, line = _run(tmp_path, "-m", "not slow")
    assert done.returncode == 0, done.stdout + done.stderr
    assert line == ("not run: test_extra.py (all): the optional extra extra; "
                    "test_pages.py (2 tests): no Chromium: apt-get install chromium; "
                    "1 test deselected by -m 'not slow'\n")
    assert line.strip() in done.stdout


def test_a_full_run_says_nothing_was_left_out(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_runs():\n    pass\n", encoding="utf-8")
    done, line = _run(tmp_path)
    assert done.returncode == 0 and line == "not run: none, every collected test ran\n"
