"""Runs `citewise serve` as a child process on a free loopback port, for the HTTP and cold-start benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from citewise.errors import CitewiseError

# The CLI entry point run with this interpreter, so the child sees the same venv without relying on PATH.
CLI = [sys.executable, "-c", "from citewise.cli import main; main()"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(index: Path, port: int | None = None) -> dict[str, str]:
    """Settings travel by environment so the benchmark does not depend on the commands' option spellings."""
    env = dict(os.environ)
    env["CITEWISE_INDEX"] = str(index)
    env["CITEWISE_ANSWER__ENGINE"] = "offline"
    if port is not None:
        env["CITEWISE_SERVER__HOST"] = "127.0.0.1"
        env["CITEWISE_SERVER__PORT"] = str(port)
    return env


class ServerProcess:
    """`with ServerProcess(index) as server:` starts the service, waits for /readyz, and stops it on exit."""

    def __init__(self, index: Path, ready_timeout_s: float = 180.0) -> None:
        self.index = Path(index)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout_s = ready_timeout_s
        self.seconds_to_ready: float | None = None
        # Closed in __exit__: the log must outlive __init__ for the child to write into it.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        started = time.perf_counter()
        self._process = subprocess.Popen(
            [*CLI, "serve"], env=child_env(self.index, self.port), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            self._wait_ready(started)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self, started: float) -> None:
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() - started < self.ready_timeout_s:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise CitewiseError(f"`citewise serve` exited with status {self._process.returncode} before "
                                        f"it was ready: {self.log_tail()}")
                try:
                    if client.get(f"{self.base_url}/readyz").status_code == 200:
                        self.seconds_to_ready = time.perf_counter() - started
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        raise CitewiseError(f"`citewise serve` was not ready within {self.ready_timeout_s:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 400) -> str:
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace").strip()
        return " ".join(text[-chars:].split()) or "(no output)"

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
