"""`citewise serve --ingest PATH`: the service starts on an empty index, answers once the ingest's first part is
published, serves everything once it ends, reports a failed ingest, and stops the ingest when it stops."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from citewise.bench.server_process import ServerProcess
from citewise.core.settings import Settings
from citewise.server.background_ingest import BackgroundIngest
from citewise.server.state import ServiceState
from citewise.store.sqlite_faiss import SqliteFaissStore, SqliteIndexReader
from citewise.store.sqlite_faiss.schema import DB_NAME

QUESTION = "What are the effects of MDMA on serotonin?"
# The slice's two smallest files (the MedlinePlus summaries and the MDMA article) make the first part.
FIRST_PART_BYTES = 100_000
DEADLINE_S = 300.0


def wait_for(check, what: str, server: ServerProcess, timeout_s: float = DEADLINE_S):
    """Polls `check()` until it returns something truthy; fails with the service's log when it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if server.process is not None and server.process.poll() is not None:
            raise AssertionError(f"`citewise serve` exited while waiting for {what}:\n{server.log()}")
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout_s:.0f} s:\n{server.log()}")


def slice_files(corpus: Path) -> list[str]:
    return sorted(p.name for p in corpus.iterdir() if p.suffix in (".md", ".txt"))


@pytest.mark.integration
def test_serve_ingest_answers_from_the_first_part_then_serves_everything(slice_corpus: Path, tmp_path: Path
                                                                         ) -> None:
    args = ["--ingest", str(slice_corpus), "--first-part-bytes", str(FIRST_PART_BYTES)]
    # ServerProcess returns once /readyz is 200, which on an empty index means the first part is live.
    with ServerProcess(tmp_path / "index", inherit_settings=False, log_dir=tmp_path, args=args) as server, \
            httpx.Client(base_url=server.base_url, timeout=120) as http:
        ready = http.get("/readyz").json()
        assert ready["ingest"]["state"] == "running"
        assert 0 < ready["sources"] < len(slice_files(slice_corpus)), "answering before the whole corpus is in"
        early_sources = {s["id"] for s in http.get("/v1/sources").json()}

        answer = http.post("/v1/ask", json={"question": QUESTION})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert not body["refused"] and body["citations"], body
        assert {c["source"]["id"] for c in body["citations"]} <= early_sources

        ingest = wait_for(lambda: (s := http.get("/readyz").json()["ingest"])["state"] != "running" and s,
                          "end of the background ingest", server)
        assert (ingest["state"], ingest["exit_status"]) == ("finished", 0)
        files = wait_for(lambda: (f := sorted(s["file"] for s in http.get("/v1/sources").json())) == slice_files(
            slice_corpus) and f, "all the slice's sources", server, timeout_s=30)
        assert files == slice_files(slice_corpus)
        log = server.log()
    assert "[ingest] citewise: first part published" in log
    assert "citewise: background ingest finished" in log


@pytest.mark.integration
def test_serve_ingest_stops_the_ingest_when_the_service_stops(slice_corpus: Path, tmp_path: Path) -> None:
    smallest = min((slice_corpus / name for name in slice_files(slice_corpus)), key=lambda p: p.stat().st_size)
    args = ["--ingest", str(slice_corpus), "--first-part-bytes", str(smallest.stat().st_size)]
    index = tmp_path / "index"
    with ServerProcess(index, inherit_settings=False, log_dir=tmp_path, args=args) as server:
        ingest = httpx.get(f"{server.base_url}/readyz").json()["ingest"]
        # The other three files (~360 passages) take many seconds; the service is stopped well before.
        assert ingest["state"] == "running", server.log()
        assert server.process is not None
        serve_pid = server.process.pid
        children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split()
        assert len(children) == 1, children
        pid = int(children[0])
        assert "ingest" in Path(f"/proc/{pid}/cmdline").read_text()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "citewise: stopped the background ingest with the service" in server.log()
    # What was published stays live and readable: the first part.
    reader = SqliteIndexReader(index)
    assert [s.file for s in reader.sources.values()] == [smallest.name]
    reader.close()


@pytest.mark.integration
def test_serve_ingest_reports_a_failed_ingest_and_goes_on_serving(slice_settings: Settings, slice_corpus: Path,
                                                                  tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(slice_settings.index, index)
    # Other chunking than the index was built with: the ingest refuses to mix them and exits 1 at once.
    env = {"CITEWISE_CHUNKING__MAX_TOKENS": "150"}
    with ServerProcess(index, env=env, inherit_settings=False, log_dir=tmp_path,
                       args=["--ingest", str(slice_corpus)]) as server, \
            httpx.Client(base_url=server.base_url, timeout=120) as http:
        ingest = wait_for(lambda: (s := http.get("/readyz").json()["ingest"])["state"] != "running" and s,
                          "end of the background ingest", server)
        assert (ingest["state"], ingest["exit_status"]) == ("failed", 1)
        assert "--rebuild" in ingest["message"]
        assert http.get("/readyz").status_code == 200 and len(http.get("/v1/sources").json()) == 4
        log = server.log()
    assert f"the background `citewise ingest {slice_corpus}` failed with exit status 1" in log
    assert "the service goes on serving the part of the index already published" in log
    assert "  | citewise: error: the index at" in log


@pytest.mark.integration
def test_bench_from_empty_times_first_answer_and_full_index(slice_corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    done = subprocess.run([sys.executable, "-c", "from citewise.cli import main; main()", "bench", "cold",
                           "--from-empty", str(slice_corpus), "--index", str(index), "--json"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["notes"] == [] and figures["ingest_exit_status"] == 0
    assert 0 < figures["serve_to_ready_s"] <= figures["serve_to_first_answer_s"] <= figures["serve_to_full_index_s"]
    assert figures["first_answer_citations"] >= 1
    assert figures["full_index"]["sources"] == len(slice_files(slice_corpus)) >= figures["first_part"]["sources"]
    # The index it built is kept when --index is given, and it is the whole slice.
    reader = SqliteIndexReader(index)
    assert sorted(s.file for s in reader.sources.values()) == slice_files(slice_corpus)
    reader.close()
    again = subprocess.run([sys.executable, "-c", "from citewise.cli import main; main()", "bench", "cold",
                            "--from-empty", str(slice_corpus), "--index", str(index)],
                           capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 1 and "already holds an index" in again.stderr


@pytest.mark.unit
def test_indexing_lasts_until_the_last_published_generation_is_served(tmp_path: Path) -> None:
    state = {"state": "running"}
    service = ServiceState(Settings(index=tmp_path), embedder=None, ingest_status=lambda: dict(state))
    assert service.indexing()  # running, nothing published yet
    (tmp_path / "gen-a").mkdir()
    (tmp_path / "gen-a" / DB_NAME).touch()
    (tmp_path / "CURRENT").write_text("gen-a\n", encoding="utf-8")
    state["state"] = "finished"
    assert service.indexing(), "ended, but its generation is not served yet: a client must keep waiting"
    service.current = SimpleNamespace(token="gen-a")
    assert not service.indexing()
    state["state"] = "failed"
    service.current = None
    assert not service.indexing()
    assert not ServiceState(Settings(index=tmp_path), embedder=None).indexing()  # plain `serve`


@pytest.mark.integration
def test_a_failing_ingest_is_reported_with_its_status_and_last_lines(tmp_path: Path) -> None:
    out = io.StringIO()
    background = BackgroundIngest([tmp_path / "nowhere"], tmp_path / "index", SqliteFaissStore(tmp_path / "index"),
                                  out=out)
    background.start()
    assert background.process is not None
    background.process.wait(timeout=120)
    assert background._thread is not None
    background._thread.join(timeout=30)
    status = background.status()
    assert (status["state"], status["exit_status"]) == ("failed", 1)
    assert status["message"] == f"citewise: error: {tmp_path / 'nowhere'}: no such file or folder"
    text = out.getvalue()
    assert f"[ingest] citewise: error: {tmp_path / 'nowhere'}: no such file or folder\n" in text
    assert "failed with exit status 1; the service goes on serving nothing: there is no index at" in text
    assert f"  | citewise: error: {tmp_path / 'nowhere'}: no such file or folder" in text
