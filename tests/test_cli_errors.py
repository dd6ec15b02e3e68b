"""The CLI answers a user's mistake with one readable line and a non-zero status, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from citewise.cli import main; main()", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    ("args", "env", "status", "message"),
    [
        (("search", "x", "-k", "0"), {}, 2, "Invalid value for '-k'"),
        (("nosuch",), {}, 2, "No such command"),
        (("sources",), {"CITEWISE_RETRIEVAL__KK": "3"}, 1, "unknown setting CITEWISE_RETRIEVAL__KK"),
        (("sources",), {"CITEWISE_RETRIEVAL__K": "abc"}, 1, "invalid settings"),
        (("ask", "anything"), {}, 1, "no index at"),
        (("ingest", "does-not-exist"), {}, 1, "does-not-exist: no such file or folder"),
        (("serve", "--ingest", "does-not-exist"), {}, 1, "does-not-exist: no such file or folder"),
        (("serve", "corpus"), {}, 1, "paths are only taken with --ingest"),
    ],
)
def test_user_mistakes_get_one_line(tmp_path: Path, args: tuple[str, ...], env: dict[str, str], status: int,
                                    message: str) -> None:
    result = run_cli(*args, env={**env, "CITEWISE_INDEX": str(tmp_path / "idx")}, cwd=tmp_path)
    assert result.returncode == status
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
