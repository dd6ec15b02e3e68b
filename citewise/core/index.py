"""The index contract: what ingest writes and retrieval, the answer engines, the evals and the service read.

Everything is keyed by source and passage id (content hashes, stable across re-ingests); no backend's row ids,
query syntax or connection crosses it. SQLite + FAISS (citewise.store.sqlite_faiss) is one implementation; every
backend passes the same contract tests (tests/index_contract.py).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from citewise.core.types import Passage, PassageVectors, Source, StoredVectors

# How lexical_search combines its terms: any of them (ranked by BM25), all of them, or all in a row as a phrase.
TermMatch = Literal["any", "all", "phrase"]


@dataclass(frozen=True)
class NewSource:
    """A source to add, with its canonical text and where its pages and headings start in it."""

    source: Source
    text: str
    pages: list[tuple[int, int, int]]  # (start, end, page number)
    headings: list[tuple[int, str]]  # (offset, heading)


@dataclass(frozen=True)
class NewPassage:
    passage: Passage
    search_text: str  # what is embedded and searched lexically: the passage with hard-wrapped lines unwrapped
    text_hash: str  # hash of (embedder, search text): the key under which its vectors are reused
    vectors: PassageVectors


class IndexReader(Protocol):
    """A read-only view of one published state of the index. Safe to share between threads."""

    @property
    def token(self) -> str:
        """Names the published state; changes whenever an ingest publishes a new one."""
        ...

    @property
    def sources(self) -> Mapping[str, Source]:
        """Every source by id, with its passage count."""
        ...

    @property
    def meta(self) -> Mapping[str, str]:
        """What the index records about how it was built (schema, embedder, chunker, dim, ...)."""
        ...

    def source_text(self, source_id: str) -> str:
        """The canonical text every offset of the source refers to; KeyError for an unknown id."""
        ...

    def source_pages(self, source_id: str) -> list[tuple[int, int, int]]: ...

    def source_headings(self, source_id: str) -> list[tuple[int, str]]: ...

    def passage(self, passage_id: str) -> Passage | None: ...

    def passages(self, passage_ids: Collection[str]) -> dict[str, Passage]:
        """The passages of those ids that exist."""
        ...

    def passages_of(self, source_id: str) -> list[Passage]:
        """A source's passages in order."""
        ...

    def passage_count(self) -> int: ...

    def dense_search(self, vector: np.ndarray, k: int,
                     source_ids: Collection[str] | None = None) -> list[tuple[str, float]]:
        """(passage id, cosine) of the passages nearest `vector`, best first; only from `source_ids` if given."""
        ...

    def lexical_search(self, terms: Sequence[str], k: int, source_ids: Collection[str] | None = None,
                       match: TermMatch = "any") -> list[tuple[str, float]]:
        """(passage id, BM25 score; higher is better) of the passages holding the plain words `terms` (any of them,
        all of them, or all in a row), best first. Terms are words, never query syntax."""
        ...

    def document_frequency(self, term: str) -> int:
        """How many passages hold `term` (a word, or a hyphenated word whose parts stand in a row)."""
        ...

    def passage_vectors(self, passage_ids: Sequence[str]) -> np.ndarray:
        """The stored, L2-normalised vectors of these passages, in the given order."""
        ...

    def stored_vectors(self, passage_ids: Collection[str]) -> dict[str, StoredVectors]:
        """By passage id: its vector and its sentences' vectors (those the model's window cut off are left out)."""
        ...

    def close(self) -> None: ...


class IndexWriter(Protocol):
    """One ingest's changes; nobody reads them until `publish()`."""

    def meta(self) -> dict[str, str]: ...

    def set_meta(self, values: Mapping[str, str]) -> None: ...

    def sources_by_file(self) -> dict[str, Source]: ...

    def remove_source(self, source_id: str) -> None: ...

    def cached_vectors(self, text_hashes: Collection[str]) -> dict[str, PassageVectors]:
        """Vectors already stored for passages with these text hashes (from this or an earlier ingest)."""
        ...

    def add_source(self, new: NewSource) -> None: ...

    def add_passages(self, passages: Sequence[NewPassage]) -> None: ...

    def publish(self) -> dict[str, str]:
        """Makes every change visible to new readers at once, and returns facts for the report (index kind,
        passages). Leaving the writing block without publishing abandons the changes."""
        ...


class IndexStore(Protocol):
    """Where an index lives: it opens readers of the published state and writing sessions that replace it."""

    @property
    def location(self) -> str:
        """Where the index is, as a user would name it in a message (a folder, a database URL without password)."""
        ...

    def current_token(self) -> str | None:
        """The token of the published state, or None when nothing is published yet. Cheap: polled every second."""
        ...

    def current_meta(self) -> dict[str, str] | None: ...

    def reader(self) -> IndexReader:
        """A reader of the published state; IndexMissingError when there is none."""
        ...

    def writing(self, rebuild: bool = False) -> AbstractContextManager[IndexWriter]:
        """One writer at a time (another gets a CitewiseError at once). It starts from the published state, or
        empty with `rebuild`; readers see the old state until `publish()`, then the new one, never half of one."""
        ...

