"""Text normalisation for quote matching, keeping a map from every normalised character back to the original text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from citewise.core.text import NORMALISED_WORD

# Typographic variants that a faithful quotation may legitimately change.
_CHAR_MAP = {
    # Double and single quote marks are one: quoting a quotation turns its inner double marks into single ones.
    **dict.fromkeys("‘’‚‛′`´\"“”„‟″«»", "'"),
    **dict.fromkeys("‐‑‒–—―−⁃﹘﹣－", "-"),
    # Soft hyphens, zero-width characters and byte-order marks are invisible in print.
    **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff", ""),
    # Emphasis markers (Gutenberg _italics_, Markdown *bold*) are dropped when text is quoted.
    "_": "",
    "*": "",
}


@dataclass(frozen=True)
class Normalized:
    """A normalised text; char i came from original[starts[i]:ends[i]] (offsets relative to `base`)."""

    text: str
    starts: np.ndarray
    ends: np.ndarray
    base: int = 0

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Original (start, end) offsets of the normalised slice [a, b), b > a."""
        return self.base + int(self.starts[a]), self.base + int(self.ends[b - 1])

    def index_at_or_after(self, original_offset: int) -> int:
        """First normalised index whose source char starts at or after `original_offset`."""
        # An int32 needle: a Python int would make numpy cast the whole array to int64 on every call.
        return int(np.searchsorted(self.starts, np.int32(original_offset - self.base), side="left"))

    def without_hyphens(self) -> Normalized:
        """The looser form in which hyphens vanish, so "some-thing" (hyphenated at a line end) equals "something"."""
        if "-" not in self.text:
            return self
        codes = np.frombuffer(self.text.encode("utf-32-le"), dtype=np.uint32)
        keep = codes != ord("-")
        return Normalized(self.text.replace("-", ""), self.starts[keep], self.ends[keep], self.base)


@lru_cache(maxsize=8192)
def _char_replacement(ch: str) -> str:
    if ch.isspace():
        return " "
    if ch in _CHAR_MAP:
        return _CHAR_MAP[ch]
    if ch.isascii():
        return ch
    decomposed = unicodedata.normalize("NFKD", ch)
    if decomposed.isspace():
        return " "
    return "".join(_CHAR_MAP.get(c, c) for c in decomposed)


def _empty(start: int) -> Normalized:
    return Normalized("", np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), start)


def normalize(text: str, start: int = 0, end: int | None = None) -> Normalized:
    """NFKD, one kind of quote mark and dash, folded white space (none around dashes), no emphasis markers.

    `--` and `—` both become "-"; hard-wrapped line breaks become single spaces. Vectorised with numpy,
    because whole books are normalised.
    """
    end = len(text) if end is None else end
    window = text[start:end]
    if not window:
        return _empty(start)
    codes = np.frombuffer(window.encode("utf-32-le"), dtype=np.uint32)
    # A dense lookup table instead of np.unique, whose sort dominated the cost on whole books.
    uniq = np.flatnonzero(np.bincount(codes))
    lookup = np.zeros(int(uniq[-1]) + 1, dtype=np.int64)
    lookup[uniq] = np.arange(len(uniq))
    inverse = lookup[codes]
    replacements = [_char_replacement(chr(code)) for code in uniq]
    lengths = np.array([len(r) for r in replacements], dtype=np.int64)
    table = np.zeros((len(uniq), max(1, int(lengths.max()))), dtype=np.uint32)
    for row, replacement in enumerate(replacements):
        table[row, : len(replacement)] = [ord(ch) for ch in replacement]
    counts = lengths[inverse]
    # Each output character points at the original character it came from (deleted ones have none).
    if lengths.max() <= 1:  # the usual case: no character expands, so no repeats
        origin = np.flatnonzero(counts)
        out = table[:, 0][inverse[origin]]
    else:
        origin = np.repeat(np.arange(len(codes), dtype=np.int64), counts)
        within = np.arange(len(origin)) - np.repeat(np.cumsum(counts) - counts, counts)
        out = table[inverse[origin], within]
    if len(origin) == 0:
        return _empty(start)
    starts, ends = origin.copy(), origin + 1

    # A run of spaces and dashes becomes one "-" if it holds a dash, else one " ".
    is_dash = out == ord("-")
    spaced = (out == ord(" ")) | is_dash
    run_start = spaced & ~np.concatenate(([False], spaced[:-1]))
    run_end = spaced & ~np.concatenate((spaced[1:], [False]))
    firsts, lasts = np.flatnonzero(run_start), np.flatnonzero(run_end)
    run_has_dash = np.add.reduceat(is_dash.astype(np.int64), firsts) > 0 if len(firsts) else np.zeros(0, bool)
    if len(firsts):
        # reduceat over [first_i, first_{i+1}) also counts the word between runs, which holds no dash.
        out[firsts] = np.where(run_has_dash, ord("-"), ord(" "))
        char_starts, char_ends = starts.copy(), ends.copy()
        ends[firsts] = char_ends[lasts]
        # A dash run's span is its dashes, without the white space around them.
        dashes = np.flatnonzero(is_dash)
        dash_runs = (np.cumsum(run_start) - 1)[dashes]
        # dash_runs is sorted, so each run's dashes are contiguous in `dashes`.
        new_run = np.concatenate(([len(dashes) > 0], dash_runs[1:] != dash_runs[:-1]))[: len(dashes)]
        last_of_run = np.concatenate((new_run[1:], [len(dashes) > 0]))[: len(dashes)]
        runs = dash_runs[new_run]
        starts[firsts[runs]] = char_starts[dashes[new_run]]
        ends[firsts[runs]] = char_ends[dashes[last_of_run]]
    keep = ~spaced | run_start
    if len(firsts) and firsts[0] == 0 and not run_has_dash[0]:
        keep[0] = False
    if len(firsts) and lasts[-1] == len(out) - 1 and not run_has_dash[-1]:
        keep[firsts[-1]] = False
    out, starts, ends = out[keep], starts[keep], ends[keep]
    return Normalized(out.tobytes().decode("utf-32-le"), starts.astype(np.int32), ends.astype(np.int32), start)


def normalize_text(text: str) -> str:
    """Just the normalised string (for comparisons)."""
    return normalize(text).text


def word_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """Words (letters/digits, inner apostrophes kept) of text[start:end] with their (start, end) positions."""
    end = len(text) if end is None else end
    return [(m.group(), m.start(), m.end()) for m in NORMALISED_WORD.finditer(text, start, end)]


# An elision mark in a normalised quote ("…" is NFKD "..."), optionally bracketed: "[...]".
_ELISION = re.compile(r" ?(?:\[ ?)?\.(?: ?\.){2,}(?: ?\])? ?")
_EDGE_STRIP = " \t\r\n\"'“”‘’«»"
_TRAILING_PUNCT = ".,;:!?"
MAX_ELISION_GAP = 400


def quote_variants(quote: str) -> list[str]:
    """The quote as given, then without outer quote marks, then without end punctuation, then first-letter recased.

    Quoting conventions allow all of these, so each is tried in turn; the first that matches wins.
    """
    variants = [quote]
    stripped = quote.strip(_EDGE_STRIP)
    variants.append(stripped)
    bare = stripped.rstrip(_TRAILING_PUNCT + _EDGE_STRIP)
    variants.append(bare)
    if bare[:1].isalpha():
        variants.append(bare[0].swapcase() + bare[1:])
    seen: set[str] = set()
    return [v for v in variants if v and not (v in seen or seen.add(v))]


def split_elisions(normalized_quote: str) -> list[str]:
    return [fragment for fragment in _ELISION.split(normalized_quote) if fragment.strip()]


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


class TextFinder:
    """Finds quotes in one text: exact, then normalised, then with hyphens ignored; elisions as ordered fragments."""

    def __init__(self, text: str, start: int = 0, end: int | None = None) -> None:
        self.text = text
        self.start = start
        self.end = len(text) if end is None else end
        self.norm = normalize(text, start, self.end)
        self._loose: Normalized | None = None

    @property
    def loose(self) -> Normalized:
        if self._loose is None:
            self._loose = self.norm.without_hyphens()
        return self._loose

    def find(self, quote: str, start: int | None = None, end: int | None = None) -> tuple[int, int] | None:
        return next(self.find_all(quote, start, end), None)

    def find_all(self, quote: str, start: int | None = None, end: int | None = None) -> Iterator[tuple[int, int]]:
        """Original-text (start, end) spans of the quote in text[start:end], in text order, for the first
        variant and matching level that finds anything."""
        start = self.start if start is None else max(start, self.start)
        end = self.end if end is None else min(end, self.end)
        if not quote.strip() or start >= end:
            return
        for variant in quote_variants(quote):
            found = False
            pos = self.text.find(variant, start, end)
            while pos >= 0:
                if self._bounded(self.text, pos, pos + len(variant), start, end):
                    found = True
                    yield pos, pos + len(variant)
                pos = self.text.find(variant, pos + 1, end)
            if found:
                return
            normalized_quote = normalize(variant).text
            for level, form in (("norm", self.norm), ("loose", None)):
                norm = form if form is not None else self.loose
                q = normalized_quote if level == "norm" else normalized_quote.replace("-", "")
                fragments = split_elisions(q)
                if not fragments:
                    break
                for span in self._find_in(norm, fragments, start, end):
                    found = True
                    yield span
                if found:
                    return

    def _find_in(self, norm: Normalized, fragments: list[str], start: int, end: int) -> Iterator[tuple[int, int]]:
        text = norm.text
        lo, hi = norm.index_at_or_after(start), norm.index_at_or_after(end)
        first = fragments[0]
        pos = text.find(first, lo, hi)
        while pos >= 0:
            cursor = pos + len(first)
            ok = self._bounded(text, pos, cursor, lo, hi)
            for fragment in fragments[1:]:
                if not ok:
                    break
                nxt = text.find(fragment, cursor, hi)
                # The earliest next fragment is the closest one, so one look decides the gap.
                ok = nxt >= 0 and norm.span(nxt, nxt + 1)[0] - norm.span(cursor - 1, cursor)[1] <= MAX_ELISION_GAP
                ok = ok and self._bounded(text, nxt, nxt + len(fragment), lo, hi)
                cursor = nxt + len(fragment)
            if ok:
                yield norm.span(pos, cursor)
            pos = text.find(first, pos + 1, hi)

    @staticmethod
    def _bounded(text: str, a: int, b: int, lo: int, hi: int) -> bool:
        """A quote that begins (ends) with a letter may not begin (end) inside a word of the source."""
        if _is_word_char(text[a]) and a > lo and _is_word_char(text[a - 1]):
            return False
        return not (_is_word_char(text[b - 1]) and b < hi and _is_word_char(text[b]))
