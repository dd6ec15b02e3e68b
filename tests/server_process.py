"""Starts `citewise serve` as a real subprocess on a free loopback port and waits until /readyz says ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
CITEWISE = Path(sys.executable).parent / "citewise"
READY_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`with ServerProcess(index) as server:` gives server.url; the process is ended on exit."""

    def __init__(self, index: Path, env: dict[str, str] | None = None, log_dir: Path | None = None) -> None:
        self.index = Path(index)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.log_path = (log_dir or self.index.parent) / f"serve-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> ServerProcess:
        env = {key: value for key, value in os.environ.items() if not key.startswith("CITEWISE_")}
        env.update(self.extra_env)
        command = [str(CITEWISE), "serve", "--index", str(self.index), "--host", "127.0.0.1", "--port",
                   str(self.port)]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"citewise serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"citewise serve was not ready within {READY_TIMEOUT_S:.0f} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
