"""Token-aware chunking: passages of at most N tiktoken tokens, cut at sentence boundaries, overlapping."""

from __future__ import annotations

import re
from dataclasses import dataclass

from citewise.core.settings import ChunkSettings
from citewise.ingest.sentences import sentence_spans
from citewise.ingest.tokenizer import get_encoding

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Chunk:
    start: int
    end: int
    tokens: int


class Chunker:
    def __init__(self, settings: ChunkSettings) -> None:
        if settings.overlap_tokens >= settings.max_tokens:
            raise ValueError("overlap_tokens must be smaller than max_tokens")
        self.settings = settings
        self._encoding = get_encoding(settings.encoding)

    @property
    def signature(self) -> str:
        s = self.settings
        return f"sentences/{s.encoding}/{s.max_tokens}/{s.overlap_tokens}"

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def chunk(self, text: str) -> list[Chunk]:
        units = self._units(text)
        limit, overlap = self.settings.max_tokens, self.settings.overlap_tokens
        chunks: list[Chunk] = []
        i = 0
        while i < len(units):
            j, tokens = i, 0
            while j < len(units) and (j == i or tokens + units[j].tokens <= limit):
                tokens += units[j].tokens
                j += 1
            chunks.append(Chunk(units[i].start, units[j - 1].end, tokens))
            if j == len(units):
                break
            # Step back over whole sentences worth at most `overlap` tokens, always moving forward.
            k, shared = j, 0
            while k - 1 > i and shared + units[k - 1].tokens <= overlap:
                k -= 1
                shared += units[k].tokens
            i = k
        return chunks

    def _units(self, text: str) -> list[Chunk]:
        """Sentences, with any sentence longer than the limit split at word boundaries."""
        units: list[Chunk] = []
        for start, end in sentence_spans(text):
            tokens = self.count(text[start:end])
            if tokens <= self.settings.max_tokens:
                units.append(Chunk(start, end, tokens))
            else:
                units.extend(self._split_long(text, start, end))
        return units

    def _split_long(self, text: str, start: int, end: int) -> list[Chunk]:
        pieces: list[Chunk] = []
        piece_start, piece_tokens, last_end = None, 0, start
        for word in _WORD.finditer(text, start, end):
            word_tokens = self.count(" " + word.group())
            if piece_start is not None and piece_tokens + word_tokens > self.settings.max_tokens:
                pieces.append(Chunk(piece_start, last_end, piece_tokens))
                piece_start, piece_tokens = None, 0
            if piece_start is None:
                piece_start = word.start()
            piece_tokens += word_tokens
            last_end = word.end()
        if piece_start is not None:
            pieces.append(Chunk(piece_start, last_end, piece_tokens))
        return pieces
