"""`citewise bench cold --from-empty CORPUS`: a new user's wait, from `citewise serve --ingest CORPUS` on an empty
index to the first answer with a citation, and to the whole corpus being served."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from citewise.bench.common import machine
from citewise.bench.server_process import ServerProcess
from citewise.core.errors import CitewiseError
from citewise.store.sqlite_faiss.layout import IndexLayout

# Answerable from the demo corpus's smallest files (the MDMA article), so it measures the first part; a question
# about a long book waits for the whole index instead.
DEFAULT_QUESTION = "What are the effects of MDMA on serotonin?"
# Readiness and the swap to a new generation are checked this often; small next to the seconds measured.
POLL_S = 0.1
# The whole demo corpus takes minutes on two cores; this only bounds a run that hangs.
TIMEOUT_S = 3600.0


@dataclass
class FromEmptyBench:
    corpus: str
    index: str
    question: str
    serve_to_ready_s: float | None = None  # first /readyz 200: the first published part is loaded
    serve_to_first_answer_s: float | None = None  # first /v1/ask answer with at least one citation
    serve_to_full_index_s: float | None = None  # the ingest has ended and its last generation is the one served
    first_answer_citations: int = 0
    first_part: dict[str, int] = field(default_factory=dict)  # sources and passages live at first readiness
    full_index: dict[str, int] = field(default_factory=dict)
    ingest_exit_status: int | None = None
    loadavg_before: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)


def bench_from_empty(corpus: Path, index: Path | None = None, question: str = DEFAULT_QUESTION,
                     timeout_s: float = TIMEOUT_S) -> FromEmptyBench:
    """Runs `citewise serve --ingest corpus` on `index` (which must hold no index; a temporary folder, removed
    afterwards, when None) and times it from the process start."""
    if not corpus.exists():
        raise CitewiseError(f"{corpus}: no such file or folder")
    own_index = index is None
    index = Path(tempfile.mkdtemp(prefix="citewise-from-empty-")) if index is None else index
    if IndexLayout(index).current() is not None:
        raise CitewiseError(f"{index} already holds an index; --from-empty needs a new or empty folder")
    result = FromEmptyBench(corpus=str(corpus), index=str(index), question=question,
                            loadavg_before=[round(x, 2) for x in os.getloadavg()])
    try:
        started = time.perf_counter()
        with ServerProcess(index, args=["--ingest", str(corpus.resolve())], wait_for="healthz",
                           ready_timeout_s=timeout_s) as server, \
                httpx.Client(base_url=server.base_url, timeout=300, headers=server.headers) as http:
            _measure(http, server, result, started, timeout_s)
    finally:
        if own_index:
            shutil.rmtree(index, ignore_errors=True)
    result.machine = machine()
    return result


def _measure(http: httpx.Client, server: ServerProcess, result: FromEmptyBench, started: float,
             timeout_s: float) -> None:
    def elapsed() -> float:
        return round(time.perf_counter() - started, 2)

    def check_alive() -> None:
        if time.perf_counter() - started > timeout_s:
            raise CitewiseError(f"gave up after {timeout_s:.0f} s: {server.log_tail()}")
        if server.process is not None and server.process.poll() is not None:
            raise CitewiseError(f"`citewise serve` exited with status {server.process.returncode}: "
                                f"{server.log_tail()}")

    ready = http.get("/readyz")
    while ready.status_code != 200:
        check_alive()
        if not ready.json().get("indexing", True):
            raise CitewiseError(f"the ingest ended without an index: {server.log_tail()}")
        time.sleep(POLL_S)
        ready = http.get("/readyz")
    result.serve_to_ready_s = elapsed()
    body = ready.json()
    result.first_part = {"sources": body["sources"], "passages": body["passages"]}

    # The first part may not hold an answer to the question; then ask again whenever a new generation is served.
    asked_generation = None
    while result.serve_to_first_answer_s is None:
        check_alive()
        status = http.get("/readyz").json()
        if status.get("generation") != asked_generation:
            asked_generation = status.get("generation")
            answer = http.post("/v1/ask", json={"question": result.question})
            if answer.status_code == 200 and answer.json()["citations"]:
                result.serve_to_first_answer_s = elapsed()
                result.first_answer_citations = len(answer.json()["citations"])
                break
            if answer.status_code != 200:
                result.notes.append(f"/v1/ask answered {answer.status_code}: {answer.text[:200]}")
            elif not status.get("indexing"):
                result.notes.append("no answer with a citation, even from the whole index: try another --question")
                break
        time.sleep(POLL_S)

    layout = IndexLayout(Path(result.index))
    while True:
        check_alive()
        body = http.get("/readyz").json()
        ingest = body.get("ingest", {})
        if not body.get("indexing") and body.get("generation") == layout.current_token():
            break
        time.sleep(POLL_S)
    result.ingest_exit_status = ingest.get("exit_status")
    if ingest.get("state") == "finished":
        result.serve_to_full_index_s = elapsed()
    else:
        result.notes.append(f"the ingest ended {ingest.get('state')}: {server.log_tail()}")
    result.full_index = {"sources": body["sources"], "passages": body["passages"]}


def as_dict(result: FromEmptyBench) -> dict[str, object]:
    return asdict(result)
