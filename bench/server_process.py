"""Runs `citewise serve` as a child process on a free loopback port, for the benchmarks and the server tests."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Literal

import httpx

from citewise.core.errors import CitewiseError
from citewise.core.process import citewise_command, free_port
from citewise.core.settings import ENV_PREFIX

# Generous because the first start on a cold machine loads torch and the embedding model.
READY_TIMEOUT_S = 180.0
# Short, so seconds_to_ready measures the server rather than the polling.
POLL_INTERVAL_S = 0.02
# uvicorn is given 5 s of graceful shutdown; past this the child is killed.
STOP_TIMEOUT_S = 15.0


def child_env(index: Path, port: int | None = None, extra: Mapping[str, str] | None = None, *,
              inherit_settings: bool = True) -> dict[str, str]:
    """Environment for a `citewise` child; settings travel by environment so callers do not depend on the
    commands' option spellings.

    inherit_settings=True passes this process's CITEWISE_* settings on, so a benchmark measures what the user
    configured (and query_bench's API key matches the server's); False drops them, so a test is not swayed by
    whatever the developer's shell exports. The engine is offline unless `extra` says otherwise, so nothing
    calls an LLM by accident; index, host and port are set last because the caller polls exactly those.
    """
    env = {key: value for key, value in os.environ.items() if inherit_settings or not key.startswith(ENV_PREFIX)}
    env[f"{ENV_PREFIX}ANSWER__ENGINE"] = "offline"
    env.update(extra or {})
    env[f"{ENV_PREFIX}INDEX"] = str(index)
    if port is not None:
        env[f"{ENV_PREFIX}SERVER__HOST"] = "127.0.0.1"
        env[f"{ENV_PREFIX}SERVER__PORT"] = str(port)
    return env


class ServerProcess:
    """`with ServerProcess(index) as server:` starts the service on server.base_url, waits for /readyz, and
    stops it on exit.

    env adds or overrides settings for the child (see child_env for inherit_settings). With log_dir the child's
    output is kept there as serve-<port>.log for a look after the run; without it the log is a temporary file
    removed on exit. args go after `serve` (e.g. `--ingest PATH`); wait_for="healthz" returns as soon as the
    process answers at all, for callers that watch an index appear.
    """

    def __init__(self, index: Path, env: Mapping[str, str] | None = None, *, inherit_settings: bool = True,
                 log_dir: Path | None = None, ready_timeout_s: float = READY_TIMEOUT_S, args: Sequence[str] = (),
                 wait_for: Literal["readyz", "healthz"] = "readyz") -> None:
        self.index = Path(index).resolve()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(env or {})
        self.inherit_settings = inherit_settings
        self.ready_timeout_s = ready_timeout_s
        self.args = list(args)
        self.wait_for = wait_for
        self.seconds_to_ready: float | None = None  # to the first 200 from /readyz (or /healthz, see wait_for)
        self.keep_log = log_dir is not None
        self.log_path: Path | None = Path(log_dir) / f"serve-{self.port}.log" if log_dir is not None else None
        self.process: subprocess.Popen[bytes] | None = None
        self.headers: dict[str, bytes] = {}  # what a client sends: the API key (UTF-8), when the service has one
        self._log: IO[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        if self.log_path is None:
            handle, name = tempfile.mkstemp(prefix=f"citewise-serve-{self.port}-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        # The log is read back through its path, never through this handle: the child shares this handle's file
        # offset, and moving it while the child still writes would garble the log. Closed in __exit__, once the
        # child is gone.
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        try:
            started = time.perf_counter()
            env = child_env(self.index, self.port, self.extra_env, inherit_settings=self.inherit_settings)
            self.process = subprocess.Popen(
                citewise_command("serve", *self.args), stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT, env=env,
            )
            # Every route but /healthz (and the page) needs the API key when the service has one.
            key = env.get(f"{ENV_PREFIX}SERVER__API_KEY")
            self.headers = {"Authorization": f"Bearer {key}".encode()} if key else {}
            self._wait_ready(started, self.headers)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self, started: float, headers: dict[str, bytes]) -> None:
        assert self.process is not None
        with httpx.Client(timeout=2.0, headers=headers) as client:
            while time.perf_counter() - started < self.ready_timeout_s:
                if self.process.poll() is not None:
                    raise self._failure(f"`citewise serve` exited with status {self.process.returncode} before "
                                        "it was ready")
                try:
                    if client.get(f"{self.base_url}/{self.wait_for}").status_code == 200:
                        self.seconds_to_ready = time.perf_counter() - started
                        return
                except httpx.TransportError:
                    pass
                time.sleep(POLL_INTERVAL_S)
        raise self._failure(f"`citewise serve` was not ready within {self.ready_timeout_s:.0f} s")

    def _failure(self, what: str) -> CitewiseError:
        # The message stays one line because the cold benchmark reports it in its notes; the whole log goes in
        # a note, which pytest prints with the traceback and str() leaves out.
        error = CitewiseError(f"{what}: {self.log_tail()}")
        error.add_note(f"`citewise serve` output:\n{self.log()}")
        return error

    def log(self) -> str:
        """Everything the child has written to stdout and stderr so far."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, chars: int = 400) -> str:
        """The end of the log on one line, short enough for an error message or a benchmark note."""
        return " ".join(self.log().strip()[-chars:].split()) or "(no output)"

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if not self.keep_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None
