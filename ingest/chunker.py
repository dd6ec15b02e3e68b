"""Token-aware chunking: passages of at most N tiktoken tokens, cut at sentence boundaries, overlapping."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from citewise.core.sentences import sentence_spans
from citewise.core.settings import ChunkSettings
from citewise.core.tokenizer import get_encoding

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

    def chunk(self, text: str, hidden: Sequence[tuple[int, int]] = ()) -> list[Chunk]:
        """Passages of `text`, none of them reaching into a `hidden` span (markup that is not text to quote)."""
        chunks: list[Chunk] = []
        for start, end in _between(len(text), hidden):
            chunks.extend(self._pack(text, self._units(text, start, end)))
        return chunks

    def _pack(self, text: str, units: list[Chunk]) -> list[Chunk]:
        limit, overlap = self.settings.max_tokens, self.settings.overlap_tokens
        chunks: list[Chunk] = []
        i = 0
        while i < len(units):
            j, tokens = i, 0
            while j < len(units) and (j == i or tokens + units[j].tokens <= limit):
                tokens += units[j].tokens
                j += 1
            # Units were counted one by one; the white space between them can add a token or two.
            tokens = self.count(text[units[i].start:units[j - 1].end])
            while tokens > limit and j - i > 1:
                j -= 1
                tokens = self.count(text[units[i].start:units[j - 1].end])
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

    def _units(self, text: str, start: int, end: int) -> list[Chunk]:
        """Sentences, with any sentence longer than the limit split at word boundaries (or token boundaries)."""
        units: list[Chunk] = []
        for s, e in sentence_spans(text, start, end):
            tokens = self.count(text[s:e])
            if tokens <= self.settings.max_tokens:
                units.append(Chunk(s, e, tokens))
            else:
                units.extend(self._split_long(text, s, e))
        return units

    def _split_long(self, text: str, start: int, end: int) -> list[Chunk]:
        limit = self.settings.max_tokens
        words: list[tuple[int, int, int]] = []  # (start, end, tokens with a leading space)
        for word in _WORD.finditer(text, start, end):
            if self.count(word.group()) <= limit:
                words.append((word.start(), word.end(), self.count(" " + word.group())))
            else:  # no space to cut at (a base64 blob, a paragraph of Chinese): cut between tokens
                words.extend((piece.start, piece.end, piece.tokens)
                             for piece in self._cut_at_tokens(text, word.start(), word.end()))
        pieces: list[Chunk] = []
        i = 0
        while i < len(words):
            j, tokens = i, 0
            while j < len(words) and (j == i or tokens + words[j][2] <= limit):
                tokens += words[j][2]
                j += 1
            tokens = self.count(text[words[i][0]:words[j - 1][1]])
            while tokens > limit and j - i > 1:
                j -= 1
                tokens = self.count(text[words[i][0]:words[j - 1][1]])
            pieces.append(Chunk(words[i][0], words[j - 1][1], tokens))
            i = j
        return pieces

    def _cut_at_tokens(self, text: str, start: int, end: int) -> list[Chunk]:
        """text[start:end] in pieces of at most max_tokens tokens, cut where a token starts (never inside a
        character: a token holding part of a character's bytes goes with the piece that holds its first byte)."""
        limit = self.settings.max_tokens
        segment = text[start:end]
        tokens = self._encoding.encode_ordinary(segment)
        _, offsets = self._encoding.decode_with_offsets(tokens)
        pieces: list[Chunk] = []
        position, first = 0, 0
        while position < len(segment):
            cut = offsets[first + limit] if first + limit < len(tokens) else len(segment)
            cut = max(cut, position + 1)
            count = self.count(segment[position:cut])
            while count > limit and cut - position > 1:  # re-encoded alone, a piece can take a token more
                cut -= 1
                count = self.count(segment[position:cut])
            pieces.append(Chunk(start + position, start + cut, count))
            position = cut
            first = bisect.bisect_left(offsets, position)
        return pieces


def _between(length: int, hidden: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans of [0, length) outside the hidden ones."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for start, end in sorted(hidden):
        if start > cursor:
            spans.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < length:
        spans.append((cursor, length))
    return spans
