"""The data that crosses stage boundaries: a source and the passages cut from its canonical text."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np


def content_hash(*parts: str, length: int = 16) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:length]


@dataclass(frozen=True)
class SourceMeta:
    """Bibliographic metadata: from MANIFEST.tsv, else from the file itself, else from its name."""

    title: str
    author: str = ""
    year: int | str | None = None
    licence: str = ""
    origin: str = ""
    kind: str = ""  # what sort of source: book, encyclopedia article, government health information, review...
    aliases: tuple[str, ...] = ()  # other names readers use for it ("the Big Book", "Varieties")


@dataclass(frozen=True)
class ParsedDocument:
    """A reader's output. `text` is the canonical text every offset in the index refers to."""

    text: str
    meta: SourceMeta
    # (start, end, page number) spans of the canonical text, for paged formats (pdf); else empty.
    pages: list[tuple[int, int, int]] = field(default_factory=list)
    # (offset, heading) pairs in text order.
    headings: list[tuple[int, str]] = field(default_factory=list)
    # (start, end) spans of the canonical text that are markup, not text to quote (data URIs, HTML comments in
    # Markdown): they stay in the text, so offsets hold, but no passage reaches into them.
    hidden: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Source:
    id: str  # content hash of the canonical text
    file: str  # path relative to the ingested folder
    title: str
    author: str
    year: int | str | None
    licence: str
    origin: str
    file_sha256: str
    chars: int
    passages: int = 0
    kind: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Passage:
    id: str  # content hash of (source id, start, end): stable across re-ingest
    source_id: str
    ordinal: int
    start: int  # canonical_text[start:end] == text
    end: int
    text: str
    tokens: int
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True)
class PassageVectors:
    """What embedding one passage's search text yields: its vector, and a vector for each of its sentences read
    off the same forward pass. `spans` are (start, end) in the search text; a zero row in `sentence_vectors`
    marks a sentence the model's window cut off."""

    vector: np.ndarray
    spans: tuple[tuple[int, int], ...]
    sentence_vectors: np.ndarray


@dataclass(frozen=True)
class StoredVectors:
    """A passage's vectors as a query reads them: the passage's, and its sentences' by unwrapped sentence text."""

    passage: np.ndarray
    sentences: dict[str, np.ndarray]

    @classmethod
    def of_passage(cls, vectors: PassageVectors, search_text: str) -> StoredVectors:
        """The stored vectors of a passage whose search text is `search_text`; sentences the model's window cut
        off (a zero row) are left out."""
        sentences = {search_text[s:e]: v for (s, e), v in zip(vectors.spans, vectors.sentence_vectors, strict=True)
                     if v.any()}
        return cls(vectors.vector, sentences)
