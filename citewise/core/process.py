"""How citewise starts itself as a child process (the service's background ingest, benchmarks, tests)."""

from __future__ import annotations

import os
import socket
import sys

# Not CITEWISE_-prefixed: settings reject unknown variables with that prefix.
PARENT_PID_VAR = "_CITEWISE_PARENT_PID"


def citewise_command(*args: str) -> list[str]:
    """`python -P -m citewise ARGS` with this interpreter: the same venv without relying on PATH, and -P keeps the
    working directory off sys.path, so a stray `citewise/` folder where the caller stands cannot shadow the package."""
    return [sys.executable, "-P", "-m", "citewise", *args]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for a child server to bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tied_child_env(env: dict[str, str]) -> dict[str, str]:
    """`env` plus the marker that makes the child stop when this process dies (see die_with_parent)."""
    return {**env, PARENT_PID_VAR: str(os.getpid())}


def die_with_parent() -> None:
    """In a child started with tied_child_env: ask Linux to send SIGTERM when the parent dies (even by kill -9), and
    exit at once if that has already happened."""
    parent = int(os.environ.pop(PARENT_PID_VAR, "0") or 0)
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        sys.exit("citewise: the process that started this one has already stopped")
