"""The installed `citewise` command as a user runs it, for tests: no CITEWISE_ or OPENAI_ variable of the test
session's environment reaches it, so only the arguments and the `env` a test passes configure it."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from citewise.store.sqlite_faiss import SqliteIndexReader

CITEWISE = Path(sys.executable).with_name("citewise")


def clean_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without citewise's or the OpenAI client's settings, plus `env`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("CITEWISE_", "OPENAI_"))}, **(env or {})}


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CITEWISE), *args], capture_output=True, text=True, timeout=timeout,
                          env=clean_environment(env), cwd=cwd, check=False)


def run_on_terminal(*args: str) -> str:
    """What `citewise ARGS` prints to a pseudo-terminal (its standard output is a TTY there)."""
    main, child = pty.openpty()
    process = subprocess.Popen([str(CITEWISE), *args], stdin=subprocess.DEVNULL, stdout=child,
                               stderr=subprocess.PIPE, env=clean_environment())
    os.close(child)
    output = bytearray()
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.wait(timeout=300) == 0, process.stderr.read()
    return output.decode("utf-8").replace("\r\n", "\n")


def indexed_files(index: Path) -> set[str]:
    """The corpus files an embedded index holds, as its current generation lists them."""
    reader = SqliteIndexReader(index)
    try:
        return {source.file for source in reader.sources.values()}
    finally:
        reader.close()
