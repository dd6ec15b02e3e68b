"""`citewise bench cold`: process start to first answer, process start to /readyz, and where the time goes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from citewise.bench.common import load_questions, machine
from citewise.bench.server_process import ServerProcess, child_env
from citewise.core.errors import CitewiseError
from citewise.core.process import citewise_command

# The service's start-up path, in order, in a fresh interpreter, each stage timed by the delta since the previous
# one; an import therefore counts only what earlier stages had not already imported. The embedding variant is the
# settings' (CITEWISE_EMBEDDING__VARIANT=bf16 times the torch path).
_STAGES_SCRIPT = r"""
import json, sys, time
from pathlib import Path
marks = {}
last = time.perf_counter()
def mark(name):
    global last
    now = time.perf_counter(); marks[name] = round((now - last) * 1000, 1); last = now
import citewise.cli; mark("import citewise.cli (typer, settings, commands)")
import numpy, faiss; mark("import numpy, faiss")
from citewise.core.settings import load_settings
from citewise.ingest.embedder import load_embedder
from citewise.core.index import IndexReader
from citewise.store.sqlite_faiss import SqliteIndexReader
settings = load_settings(index=Path(sys.argv[1]))
embedder = load_embedder(settings.embedding); mark(f"load model ({settings.embedding.variant})")
embedder.embed(["first query"]); mark("first embed")
reader = SqliteIndexReader(settings.index); mark("open index (sqlite + faiss file)")
import citewise.server.app; mark("import server.app (fastapi, uvicorn)")
marks["torch imported"] = float("torch" in sys.modules)
print(json.dumps(marks))
"""


@dataclass
class ColdBench:
    index: str
    python_start_ms: float
    ask_to_exit_ms: float | None
    ask_status: int | None
    serve_to_ready_ms: float | None
    stages_ms: dict[str, float] = field(default_factory=dict)
    top_imports_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)


def _time_process(argv: list[str], env: dict[str, str] | None = None, timeout_s: float = 300.0
                  ) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    return (time.perf_counter() - started) * 1000, done.returncode, done.stderr


def top_imports(modules: list[str], count: int = 12) -> dict[str, float]:
    """Top-level imports by cumulative time (ms), from `python -X importtime`."""
    code = "; ".join(f"import {m}" for m in modules)
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    totals: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if name.startswith("  ") or not cumulative.strip().isdigit():
            continue  # nested imports are inside their parent's cumulative time
        totals[name.strip()] = totals.get(name.strip(), 0.0) + int(cumulative) / 1000
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:count]
    return {name: round(ms, 1) for name, ms in ranked}


def bench_cold(index: Path, question: str | None = None, serve: bool = True) -> ColdBench:
    if not index.exists():
        raise CitewiseError(f"no index at {index}: run `citewise ingest` first (or pass --index DIR)")
    question = question or load_questions(1)[0]
    python_ms, _, _ = _time_process([sys.executable, "-c", "pass"])
    ask_ms, ask_status, ask_err = _time_process(citewise_command("ask", question), env=child_env(index))
    result = ColdBench(index=str(index), python_start_ms=round(python_ms, 1), ask_to_exit_ms=round(ask_ms, 1),
                       ask_status=ask_status, serve_to_ready_ms=None)
    if ask_status != 0:
        result.ask_to_exit_ms = None
        result.notes.append(f"`citewise ask` exited {ask_status}: {' '.join(ask_err.split())[-300:]}")
    if serve:
        try:
            with ServerProcess(index) as server:
                result.serve_to_ready_ms = round((server.seconds_to_ready or 0.0) * 1000, 1)
        except CitewiseError as exc:
            result.notes.append(str(exc))
    stages = subprocess.run([sys.executable, "-P", "-c", _STAGES_SCRIPT, str(index)], capture_output=True, text=True,
                            timeout=300, stdin=subprocess.DEVNULL)
    if stages.returncode == 0:
        result.stages_ms = json.loads(stages.stdout.strip().splitlines()[-1])
    else:
        result.notes.append(f"stage timing failed: {' '.join(stages.stderr.split())[-300:]}")
    result.top_imports_ms = top_imports(["citewise.cli", "citewise.ingest.embedder", "onnxruntime", "faiss",
                                         "citewise.retrieval.retriever", "citewise.server.app"])
    result.machine = machine()
    return result


def as_dict(result: ColdBench) -> dict[str, object]:
    return asdict(result)
