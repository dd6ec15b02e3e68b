"""kill -9 in the middle of `citewise ingest` leaves the previous index live, and the next ingest works."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from citewise.core.settings import Settings
from citewise.ingest.pipeline import Ingestor
from citewise.store.sqlite_faiss import SqliteIndexReader

pytestmark = pytest.mark.integration

CITEWISE = Path(sys.executable).with_name("citewise")
CORPUS = Path(__file__).resolve().parent.parent / "corpus"
# Two mid-sized books: several hundred passages, still being embedded seconds after the model has loaded.
BIG_BOOKS = ("wright-1919-eleusinian-mysteries-and-rites.txt", "harrison-1913-ancient-art-and-ritual.txt")
SMALL = "medlineplus-2025-ptsd-club-drugs-drug-use-summaries.md"
QUERY = "symptoms of post-traumatic stress disorder"


def _search(index: Path, query_vector) -> tuple[list[tuple[int, float]], list[tuple[int, float]], str]:
    reader = SqliteIndexReader(index)
    try:
        return reader.dense_search(query_vector, 5), reader.lexical_search("trauma", 5), reader.token
    finally:
        reader.close()


def _wait_for_embedding(process: subprocess.Popen, stderr_file: Path, limit_s: float = 180.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.poll() is None:
        if "embedding" in stderr_file.read_text(encoding="utf-8", errors="replace"):
            time.sleep(1.0)  # let a batch or two of vectors be computed
            return
        time.sleep(0.2)


def test_ingest_kill_9_keeps_previous_index(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SMALL, corpus / SMALL)
    index = tmp_path / "idx"
    ingestor = Ingestor(Settings(index=index), embedder=embedder, progress=False)
    ingestor.run([corpus])
    query_vector = embedder.embed([QUERY])[0]
    before = _search(index, query_vector)
    assert before[0] and before[1]

    for name in BIG_BOOKS:
        shutil.copy(CORPUS / name, corpus / name)
    stderr_file = tmp_path / "ingest.stderr"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    with stderr_file.open("w") as stderr:
        process = subprocess.Popen([str(CITEWISE), "ingest", str(corpus), "--index", str(index)],
                                   stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        try:
            _wait_for_embedding(process, stderr_file)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    assert "embedding" in stderr_file.read_text(encoding="utf-8", errors="replace")
    assert len(list(index.glob("gen-*"))) == 2  # the abandoned generation is still lying there

    assert _search(index, query_vector) == before

    for name in BIG_BOOKS:
        (corpus / name).unlink()
    report = ingestor.run([corpus])
    assert report.unchanged == 1 and report.passages_embedded == 0
    after = _search(index, query_vector)
    assert after[:2] == before[:2] and after[2] != before[2]
    assert len(list(index.glob("gen-*"))) == 1  # the next ingest cleared the abandoned generation
