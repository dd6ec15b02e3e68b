"""Token-aware chunking: passages of at most N tiktoken tokens, cut at sentence boundaries, overlapping.

Chunking stays near-linear in the text whatever its white space: a passage is fitted with a handful of encodings
of passage-sized spans (a guess that counts the gaps between sentences or words, then a galloping search), units
are produced lazily, and no span that is surely over the limit is encoded at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import NamedTuple

from citewise.core.sentences import sentence_spans
from citewise.core.settings import ChunkSettings
from citewise.core.tokenizer import get_encoding

_WORD = re.compile(r"\S+")
# The UTF-8 bytes that start a character (all but the continuation bytes 0x80-0xBF).
_CHARACTER_STARTS = bytes([*range(0x80), *range(0xC0, 0x100)])


class Chunk(NamedTuple):
    """A passage (or a unit of one: a sentence, a word, a piece of a long word): text[start:end] and its tokens.
    A named tuple rather than a frozen dataclass: a long sentence makes one per word, and these build faster."""

    start: int
    end: int
    tokens: int


@lru_cache(maxsize=4)
def _longest_token_bytes(encoding: str) -> int:
    return max(len(token) for token in get_encoding(encoding).token_byte_values())


class Chunker:
    def __init__(self, settings: ChunkSettings) -> None:
        if settings.overlap_tokens >= settings.max_tokens:
            raise ValueError("overlap_tokens must be smaller than max_tokens")
        self.settings = settings
        self._encoding = get_encoding(settings.encoding)
        # No token is longer than this many bytes (128 for cl100k), so a span of more characters than
        # max_tokens times that is over the limit without being encoded: a 55 MB sentence is never encoded whole.
        self._surely_over = settings.max_tokens * _longest_token_bytes(settings.encoding)
        self._known_words: dict[str, tuple[int, int]] = {}

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
            chunks.extend(self._pack(text, self._units(text, start, end), self.settings.overlap_tokens, exact=True))
        return chunks

    def _units(self, text: str, start: int, end: int) -> Iterator[Chunk]:
        """Sentences, with any sentence longer than the limit split at word boundaries (or token boundaries)."""
        limit = self.settings.max_tokens
        for s, e in sentence_spans(text, start, end):
            tokens = self.count(text[s:e]) if e - s <= self._surely_over else limit + 1
            if tokens <= limit:
                yield Chunk(s, e, tokens)
            else:
                yield from self._pack(text, self._words(text, s, e), overlap=0, exact=False)

    def _words(self, text: str, start: int, end: int) -> Iterator[Chunk]:
        """The words of text[start:end], each counted with one space before it (as it stands inside a passage);
        a word over the limit (a base64 blob, a paragraph of Chinese) comes in pieces cut between tokens."""
        limit = self.settings.max_tokens
        for word in _WORD.finditer(text, start, end):
            alone, spaced = self._word_tokens(word.group())
            if alone <= limit:
                yield Chunk(*word.span(), spaced)
            else:
                yield from self._cut_at_tokens(text, *word.span())

    def _word_tokens(self, word: str) -> tuple[int, int]:
        """Tokens of `word` alone and after a space. Short words are remembered: a long sentence repeats them, and
        encoding each of its words twice cost more than encoding a whole normal text of its size."""
        if len(word) > 32:
            alone = self.count(word) if len(word) <= self._surely_over else self.settings.max_tokens + 1
            return alone, self.count(" " + word) if alone <= self.settings.max_tokens else alone
        known = self._known_words.get(word)
        if known is None:
            if len(self._known_words) >= 200_000:
                self._known_words.clear()
            known = self._known_words[word] = (self.count(word), self.count(" " + word))
        return known

    def _pack(self, text: str, units: Iterable[Chunk], overlap: int, exact: bool) -> Iterator[Chunk]:
        """Consecutive units in passages of at most max_tokens tokens, each passage as long as fits, neighbours
        sharing whole units worth at most `overlap` tokens. `exact`: each unit's count is that of its own span
        (sentences and pieces; a word is counted with a space before it)."""
        limit = self.settings.max_tokens
        ahead = _Lookahead(iter(units), lambda end, start: self._gap_tokens(text, end, start))
        i = 0
        while ahead.has(i):
            if i > 1024:  # units behind every passage so far are dropped: memory does not grow with the text
                ahead.drop(i)
                i = 0
            # `cap` is where the units' own counts pass the limit (the bound passages always had); `guess` also
            # counts the gaps between them, which units counted one by one leave out.
            cap, guess, own, with_gaps = i, i + 1, 0, 0
            while ahead.has(cap):
                unit = ahead.units[cap]
                if cap > i and own + unit.tokens > limit:
                    break
                own += unit.tokens
                with_gaps += unit.tokens + (ahead.gaps[cap] if cap > i else 0)
                cap += 1
                if with_gaps <= limit:
                    guess = cap
            # Where the gaps are small (ordinary prose), the old bound is tried first: one encoding, as before.
            start_at = cap if with_gaps - own <= max(2, limit // 10) else guess
            j, tokens = self._largest_fitting(text, ahead.units, i, start_at, cap, exact)
            yield Chunk(ahead.units[i].start, ahead.units[j - 1].end, tokens)
            if not ahead.has(j):
                return
            # Step back over whole units worth at most `overlap` tokens, always moving forward.
            # The gaps inside the shared part count too: else a passage of words between long runs of white space
            # would share all but one of its words with the next, making as many passages as the text has words.
            k, shared = j, 0
            while k - 1 > i:
                step = ahead.units[k - 1].tokens + (ahead.gaps[k] if k < j else 0)
                if shared + step > overlap:
                    break
                k, shared = k - 1, shared + step
            i = k

    def _gap_tokens(self, text: str, end: int, start: int) -> int:
        """About the tokens the white space between two units adds to a passage, beyond what the units' own counts
        hold: its last space goes with the next word (as in a word's count), a newline mostly with the full stop
        before it. 0 for ordinary prose, where units are parted by one space or newline."""
        if start - end <= 1:
            return 0
        if start - end > self._surely_over:
            return self.settings.max_tokens + 1
        if text[start - 1] == " ":
            return self.count(text[end:start - 1])
        return max(0, self.count(text[end:start]) - 1)

    def _largest_fitting(self, text: str, units: list[Chunk], i: int, start_at: int, cap: int,
                         exact: bool) -> tuple[int, int]:
        """The largest j <= cap for which units i..j-1 make a passage of at most max_tokens tokens (at least i + 1),
        and its token count: searched from `start_at` by galloping, then bisecting, with one encoding a step."""
        limit = self.settings.max_tokens
        counted: dict[int, int] = {}

        def fits(j: int) -> bool:
            first, last = units[i].start, units[j - 1].end
            if j == i + 1 and exact:
                counted[j] = units[i].tokens
            else:
                counted[j] = self.count(text[first:last]) if last - first <= self._surely_over else limit + 1
            return counted[j] <= limit

        lo, hi = i + 1, cap + 1  # units i..lo-1 fit (or lo is i + 1); units i..hi-1 do not (or hi is past cap)
        if fits(start_at):
            lo, step = start_at, 1
            while lo + step <= cap and fits(lo + step):
                lo, step = lo + step, step * 2
            hi = min(lo + step, cap + 1)
        else:
            hi, step = start_at, 1
            while hi - step > i + 1 and not fits(hi - step):
                hi, step = hi - step, step * 2
            lo = max(hi - step, i + 1)
        while hi - lo > 1:
            middle = (lo + hi) // 2
            if fits(middle):
                lo = middle
            else:
                hi = middle
        if lo not in counted:
            fits(lo)
        return lo, counted[lo]

    def _cut_at_tokens(self, text: str, start: int, end: int) -> Iterator[Chunk]:
        """text[start:end] in pieces of at most max_tokens tokens, cut where a token starts (never inside a
        character: a token holding part of a character's bytes goes with the piece that holds its first byte).
        It is encoded a window at a time, each holding a few passages' worth of tokens, so memory stays flat."""
        limit = self.settings.max_tokens
        position, window = start, 4 * limit
        while position < end:
            stop = min(end, position + window)
            segment = text[position:stop]
            tokens = self._encoding.encode_ordinary(segment)
            if stop < end and len(tokens) <= limit + limit // 2:  # a cut this near the window's end is not trusted
                window *= 2
                continue
            cut = max(self._token_start(tokens, limit), 1) if len(tokens) > limit else len(segment)
            count = self.count(segment[:cut])
            while count > limit and cut > 1:  # re-encoded alone, a piece can take a token more
                cut -= 1
                count = self.count(segment[:cut])
            yield Chunk(position, position + cut, count)
            position += cut
            window = max(4 * limit, 2 * cut)

    def _token_start(self, tokens: list[int], index: int) -> int:
        """Where tokens[index] starts in the text `tokens` encode, in characters; a token starting inside a
        character counts from that character (as tiktoken's decode_with_offsets says, without decoding it all)."""
        before = self._encoding.decode_bytes(tokens[:index])
        characters = len(before) - len(before.translate(None, _CHARACTER_STARTS))
        inside = 0x80 <= self._encoding.decode_single_token_bytes(tokens[index])[0] < 0xC0
        return max(0, characters - inside)


class _Lookahead:
    """Units taken from a feed only as far as a passage needs them, each with the tokens of the gap before it."""

    def __init__(self, feed: Iterator[Chunk], gap_tokens: Callable[[int, int], int]) -> None:
        self._feed, self._gap_tokens = feed, gap_tokens
        self.units: list[Chunk] = []
        self.gaps: list[int] = []

    def has(self, index: int) -> bool:
        while index >= len(self.units):
            unit = next(self._feed, None)
            if unit is None:
                return False
            before = self.units[-1].end if self.units else unit.start
            self.gaps.append(0 if unit.start - before <= 1 else self._gap_tokens(before, unit.start))
            self.units.append(unit)
        return True

    def drop(self, count: int) -> None:
        del self.units[:count], self.gaps[:count]


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
