"""Sentence and paragraph spans over a canonical text, robust to hard-wrapped lines."""

from __future__ import annotations

import re
from bisect import bisect_right

# Where a sentence may end: terminal punctuation, closing quotes/brackets, then white space; or the full-width
# stops of Chinese and Japanese, which no space follows.
_SENTENCE_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s)|[。！？]+[」』”’）)\]]*""")
_FULL_WIDTH_STOPS = "。！？"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "prof", "rev", "vol", "vols", "ch", "chap", "cf", "e.g", "i.e", "etc",
    "viz", "p", "pp", "no", "fig", "ed", "trans", "transl", "op", "cit", "ibid", "jr", "sr", "mt", "ff", "vs", "esp",
    "b", "c", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii",
}
_NEXT_STARTS_SENTENCE = re.compile(r"""\s+["'“‘(\[_]*[A-Z0-9]""")
# Words that open a sentence and are no one's name: after an initial they mean the initial ended one ("Mrs. X. We
# must therefore ...", "We came to K. A wedding was just going on there", "about 660 B.C. In his ...").
_OPENS_SENTENCE = re.compile(r"""\s+["'“‘(\[_]*(?:The|A|An|In|On|At|As|He|She|It|We|They|I|But|And|This|There|"""
                             r"""His|Her|Its|These|Those|Our|My|You|If|So|Yet|Now|When|After|For|Then|What|How|Why)\s""")


def paragraph_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Blank-line separated blocks, trimmed of surrounding white space."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    return [trimmed for s, e in spans if (trimmed := _trim(text, s, e))[0] < trimmed[1]]


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences in text[start:end], as trimmed (start, end) spans; paragraph breaks always end one."""
    spans: list[tuple[int, int]] = []
    for p_start, p_end in paragraph_spans(text, start, end):
        cursor = p_start
        for match in _SENTENCE_END.finditer(text, p_start, p_end):
            if not _ends_sentence(text, match.start(), match.end(), p_end):
                continue
            spans.append(_trim(text, cursor, match.end()))
            cursor = match.end()
        spans.append(_trim(text, cursor, p_end))
    return [(s, e) for s, e in spans if s < e]


def _ends_sentence(text: str, punct_start: int, punct_end: int, limit: int) -> bool:
    if text[punct_start] in _FULL_WIDTH_STOPS:
        return True
    if not _NEXT_STARTS_SENTENCE.match(text, punct_end, limit):
        return False
    if text[punct_start] != ".":
        return True
    word_start = punct_start
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:punct_start]
    # An initial ("Lady M. W. Montague", "J. G. Frazer") or a dotted run of single letters ("A.D. 129", "the U.S. Food
    # and Drug Administration", "T.W. Allen") ends a sentence only before a word that opens one and names no one
    # ("about 660 B.C. In his ..."); elsewhere two whole sentences quoted as one are still whole, where a split
    # leaves a sentence cut inside a name.
    if word.isupper() and all(len(letter) == 1 for letter in word.split(".")):
        return _OPENS_SENTENCE.match(text, punct_end, limit) is not None
    return word.lower() not in _ABBREVIATIONS


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def unwrap(text: str) -> str:
    """Hard-wrapped lines joined into one line: the form used for embedding, lexical search and display."""
    return " ".join(text.split())


# Sentences are split with this much text either side of a passage, so that one cut by the passage edge is seen
# whole and dropped rather than taken for a short sentence.
_PASSAGE_CONTEXT = 600
_NON_SPACE = re.compile(r"\S+")


def passage_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The whole sentences of text[start:end], as spans of `text`."""
    window = (max(0, start - _PASSAGE_CONTEXT), min(len(text), end + _PASSAGE_CONTEXT))
    return [(s, e) for s, e in sentence_spans(text, *window) if s >= start and e <= end]


def unwrapped_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int] | None]:
    """Where each span of `text` (trimmed, as sentence_spans gives them) lies in unwrap(text); None for a span
    that does not map onto it word for word."""
    words = [(m.start(), m.end()) for m in _NON_SPACE.finditer(text)]
    starts = [s for s, _ in words]
    offsets, position = [], 0
    for s, e in words:
        offsets.append(position)
        position += e - s + 1
    flat = unwrap(text)
    found: list[tuple[int, int] | None] = []
    for s, e in spans:
        first, last = bisect_right(starts, s) - 1, bisect_right(starts, e - 1) - 1
        if first < 0 or last < 0 or s >= words[first][1] or e > words[last][1]:
            found.append(None)
            continue
        mapped = (offsets[first] + s - words[first][0], offsets[last] + e - words[last][0])
        found.append(mapped if flat[mapped[0]:mapped[1]] == unwrap(text[s:e]) else None)
    return found
