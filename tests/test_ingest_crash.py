"""kill -9 at several points of `citewise ingest`, on the incremental path (an existing index grows) and on the
staged path (a new index publishes a first part, then the rest): every time a readable index is left (the previous
one, or the one just published), and running the same command again completes it."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from citewise.core.settings import Settings
from citewise.ingest.pipeline import Ingestor
from citewise.store.sqlite_faiss import SqliteIndexReader
from citewise.store.sqlite_faiss.layout import IndexLayout
from tests.cli import CITEWISE, clean_environment, indexed_files

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
# Two mid-sized texts: a couple of hundred passages, still being embedded seconds after the model has loaded,
# and few enough that embedding them again after each kill stays short.
BIG_BOOKS = ("wikipedia-2025-post-traumatic-stress-disorder.md",
             "alcoholics-anonymous-1939-big-book-foreword-to-chapter-2.md")
SMALL = "medlineplus-2025-ptsd-club-drugs-drug-use-summaries.md"
QUERY = "symptoms of post-traumatic stress disorder"
FIRST_PART_BYTES = "20000"  # the small file alone; the books come in the second run
# When to kill: it sees the ingest's stderr so far, the index folder, and the generation live when it started.
Trigger = Callable[[str, Path, str | None], bool]


def _new_generation(_: str, index: Path, live: str | None) -> bool:
    """A writing session has begun: a new generation's folder exists (its database being copied or filled)."""
    return any(path.name != live for path in index.glob("gen-*"))


def _embedding(text: str, _: Path, __: str | None) -> bool:
    return "embedding" in text


def _faiss_written(_: str, index: Path, live: str | None) -> bool:
    """Publishing: the new generation's FAISS file is (being) written, CURRENT not yet swapped, or just."""
    return any(path.name != live and (path / "vectors.faiss").exists() for path in index.glob("gen-*"))


def _first_part_published(text: str, _: Path, __: str | None) -> bool:
    return "first part published" in text


def _embedding_the_rest(text: str, _: Path, __: str | None) -> bool:
    return "embedding" in text.partition("first part published")[2]


def _search(index: Path, query_vector) -> tuple[list[tuple[str, float]], list[tuple[str, float]], str]:
    reader = SqliteIndexReader(index)
    try:
        return reader.dense_search(query_vector, 5), reader.lexical_search(["trauma"], 5), reader.token
    finally:
        reader.close()


def _kill_when(trigger: Trigger, args: list[str], index: Path, stderr_file: Path, limit_s: float = 240.0) -> str:
    """Runs `citewise ingest ARGS`, kill -9s it as soon as `trigger` fires, and returns its stderr."""
    live = IndexLayout(index).current_token()
    with stderr_file.open("w") as stderr:
        process = subprocess.Popen([str(CITEWISE), "ingest", *args, "--index", str(index)],
                                   stdout=subprocess.DEVNULL, stderr=stderr, env=clean_environment())
        try:
            deadline = time.monotonic() + limit_s
            while time.monotonic() < deadline and process.poll() is None:
                if trigger(stderr_file.read_text(encoding="utf-8", errors="replace"), index, live):
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.005)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    return stderr_file.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("trigger", [_new_generation, _embedding, _faiss_written], ids=lambda t: t.__name__[1:])
def test_kill_9_while_an_index_grows_keeps_a_working_index(tmp_path: Path, embedder, trigger: Trigger) -> None:
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
    _kill_when(trigger, [str(corpus)], index, tmp_path / "ingest.stderr")
    # The previous index, unless the kill came after CURRENT was swapped: then the whole new one.
    files = indexed_files(index)
    if files == {SMALL}:
        assert _search(index, query_vector) == before
    else:
        assert files == {SMALL, *BIG_BOOKS}

    report = ingestor.run([corpus])  # the same ingest again completes it
    assert indexed_files(index) == {SMALL, *BIG_BOOKS}
    assert report.unchanged >= 1 and report.skipped == []
    assert _search(index, query_vector)[0]
    assert len(list(index.glob("gen-*"))) == 1  # the next ingest cleared the abandoned generation


@pytest.mark.parametrize("trigger", [_embedding, _first_part_published, _embedding_the_rest],
                         ids=lambda t: t.__name__[1:])
def test_kill_9_during_a_staged_first_ingest_leaves_a_working_index(tmp_path: Path, embedder,
                                                                      trigger: Trigger) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in (SMALL, *BIG_BOOKS):
        shutil.copy(CORPUS / name, corpus / name)
    index = tmp_path / "idx"
    stderr = _kill_when(trigger, [str(corpus), "--first-part-bytes", FIRST_PART_BYTES], index,
                        tmp_path / "ingest.stderr")
    published = IndexLayout(index).current_token()
    if trigger is _embedding:
        assert published is None  # killed while embedding the first part: nothing was published yet
    else:
        assert "first part published" in stderr
        assert indexed_files(index) == {SMALL}  # the first part answers; the books were still on their way
        assert _search(index, embedder.embed([QUERY])[0])[0]

    report = Ingestor(Settings(index=index), embedder=embedder, progress=False).run([corpus])
    assert indexed_files(index) == {SMALL, *BIG_BOOKS}
    if published is not None:
        assert report.unchanged == 1  # the first part is not embedded again
    assert len(list(index.glob("gen-*"))) == 1
