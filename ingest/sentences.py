"""Sentence and paragraph spans over a canonical text, robust to hard-wrapped lines."""

from __future__ import annotations

import re

# Where a sentence may end: terminal punctuation, closing quotes/brackets, then white space.
_SENTENCE_END = re.compile(r"""[.!?]+["'”’)\]]*(?=\s)""")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "prof", "rev", "vol", "vols", "ch", "chap", "cf", "e.g", "i.e", "etc",
    "viz", "p", "pp", "no", "fig", "ed", "trans", "transl", "op", "cit", "ibid", "jr", "sr", "mt", "ff", "vs",
    "b", "c", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii",
}
_NEXT_STARTS_SENTENCE = re.compile(r"""\s+["'“‘(\[_]*[A-Z0-9]""")


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
    if not _NEXT_STARTS_SENTENCE.match(text, punct_end, limit):
        return False
    if text[punct_start] != ".":
        return True
    word_start = punct_start
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:punct_start].lower()
    return word not in _ABBREVIATIONS


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def unwrap(text: str) -> str:
    """Hard-wrapped lines joined into one line: the form used for embedding, lexical search and display."""
    return " ".join(text.split())
