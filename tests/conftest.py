"""Shared fixtures: the real embedding model and a real index of a small slice of the demo corpus."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from citewise.settings import EmbeddingSettings, Settings
from ingest.embedder import Embedder, load_embedder
from ingest.pipeline import Ingestor

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
