"""A GGUF model run on this machine: llama-cpp-python's own OpenAI-compatible server, started as a child process on
a loopback port, shared by every engine of this process, restarted if it dies, stopped when this process ends.

Why a child and not the library in process: see docs/ARCHITECTURE.md (one code path for local and remote models;
a native crash or a model too big for memory takes down the child, not the service)."""

from __future__ import annotations

import atexit
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from citewise.answers.llm.endpoint import extras_token_count
from citewise.core.errors import CitewiseError
from citewise.core.process import free_port
from citewise.core.settings import LLMSettings

LOCAL_CONTEXT_TOKENS = 4096
START_TIMEOUT_S = 180.0
INSTALL_HINT = "install the local runtime with `bash scripts/install.sh --local-llm`"

# Run in the child: exit when the parent is gone (even after kill -9), drop environment variables that
# llama-cpp-python's own settings would read (API_KEY, MODEL, PORT...), then start its server module.
_LAUNCHER = """
import os, sys, threading, time
parent = int(sys.argv.pop(1))
def watch_parent():
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)
threading.Thread(target=watch_parent, daemon=True).start()
from llama_cpp.server.settings import ModelSettings, ServerSettings
names = set(ModelSettings.model_fields) | set(ServerSettings.model_fields)
for key in [k for k in os.environ if k.lower() in names]:
    del os.environ[key]
import runpy
sys.argv[0] = "llama_cpp.server"
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def bundled_model_path() -> Path:
    """Where `scripts/install.sh --local-llm` puts SmolLM2-135M-Instruct (see scripts/fetch_local_model.py)."""
    return Path(sys.prefix) / "share" / "citewise" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def check_model_file(path: Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise CitewiseError(f"CITEWISE_LLM__LOCAL_MODEL: {path}: no such file")
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise CitewiseError(f"CITEWISE_LLM__LOCAL_MODEL: {path}: not a GGUF model file")
    return path.resolve()


def check_runtime() -> None:
    for module in ("llama_cpp", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            raise CitewiseError(f"a local model needs llama-cpp-python with its server extra ({module} is "
                                f"missing): {INSTALL_HINT}")


class LocalModelServer:
    def __init__(self, model: Path, context_tokens: int, threads: int | None) -> None:
        self.model = model
        self.alias = model.stem
        self.context_tokens = context_tokens
        self.threads = threads
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.seconds_to_start: float | None = None
        self._lock = threading.Lock()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def command(self) -> list[str]:
        args = ["--model", str(self.model), "--model_alias", self.alias, "--host", "127.0.0.1",
                "--port", str(self.port), "--n_ctx", str(self.context_tokens),
                # Logits for every prompt position are only needed for logprobs, and cost n_ctx x vocabulary floats.
                "--logits_all", "false", "--verbose", "false"]
        if self.threads:
            args += ["--n_threads", str(self.threads), "--n_threads_batch", str(self.threads)]
        return [sys.executable, "-P", "-c", _LAUNCHER, str(os.getpid()), *args]

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> None:
        """Starts the server, or starts it again if it has died; raises CitewiseError when it cannot start."""
        with self._lock:
            if not self.running():
                self._start()

    def _start(self) -> None:
        self.stop()
        handle, name = tempfile.mkstemp(prefix="citewise-local-llm-", suffix=".log")
        self.log_path = Path(name)
        self.port = free_port()
        started = time.perf_counter()
        with os.fdopen(handle, "wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = started + START_TIMEOUT_S
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise CitewiseError(f"the local model {self.model.name} did not start (exit status "
                                    f"{self.process.returncode}): {self._last_log_line()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2.0).status_code == 200:
                    self.seconds_to_start = time.perf_counter() - started
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise CitewiseError(f"the local model {self.model.name} did not answer within {START_TIMEOUT_S:.0f} s")

    def count(self, text: str) -> int:
        """Tokens of `text` in the model's own tokenizer."""
        self.ensure_running()
        return extras_token_count(self.root, text, timeout_s=30.0)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.log_path is not None and process is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None

    def _last_log_line(self) -> str:
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        except (OSError, AttributeError):
            return "no output"
        return lines[-1][:300] if lines else "no output"


_SERVERS: dict[tuple[Path, int, int | None], LocalModelServer] = {}
_SERVERS_LOCK = threading.Lock()


def local_server(llm: LLMSettings) -> LocalModelServer:
    """The running server for these settings, started on first use and shared by every engine of the process."""
    model = check_model_file(llm.local_model)
    check_runtime()
    key = (model, llm.context_tokens or LOCAL_CONTEXT_TOKENS, llm.threads)
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is None:
            server = _SERVERS[key] = LocalModelServer(*key)
    server.ensure_running()
    return server


@atexit.register
def stop_all() -> None:
    with _SERVERS_LOCK:
        for server in _SERVERS.values():
            server.stop()
