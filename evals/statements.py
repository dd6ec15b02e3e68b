"""The statements of an answer's prose (its sentences, with the [n] markers each carries), as ALCE scores them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from citewise.core.sentences import sentence_spans, unwrap

# `[1]`, `[1, 3]`; a run such as `[1][2]` is two matches.
MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SOURCES_HEADING = re.compile(r"^[\s#>*_]*sources(?:\s+cited)?[\s*_:]*$", re.IGNORECASE)
_BLOCK_START = re.compile(r"^\s*(?:[-*+]\s+|\d+[.)]\s+|>\s?)")
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
_MARKER_THEN_SENTENCE = re.compile(r"(?:\[\d+(?:\s*,\s*\d+)*\])+[.,;:]?(?=\s+[\"“‘(]*[A-Z])")
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d+(?:\s*,\s*\d+)*\])+[\s.,;:]*")
_MARKDOWN_NOISE = re.compile(r"[*_`]+")
# Initials ("C. G. Jung", "U.S. National Library") end no sentence, though the generic splitter thinks so.
_ENDS_WITH_INITIAL = re.compile(r"(?:^|[\s(])(?:[A-Z]\.)+$")
# The fallback note an engine prints above an answer ("> Note: the language model endpoint failed ...").
_ENGINE_NOTE = re.compile(r"^\s*>\s*note:", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    """One sentence of the answer: its plain text (markers and Markdown removed) and the citations it names."""

    text: str
    markers: tuple[int, ...]


def answer_body(answer_text: str) -> str:
    """The prose before the 'Sources cited' list (that list restates the citations; it states nothing)."""
    lines = answer_text.splitlines()
    for i, line in enumerate(lines):
        if _SOURCES_HEADING.match(line):
            return "\n".join(lines[:i])
    return answer_text


def markers_in(text: str) -> tuple[int, ...]:
    found: list[int] = []
    for match in MARKER.finditer(text):
        for number in match.group(1).split(","):
            if int(number) not in found:
                found.append(int(number))
    return tuple(found)


def split_statements(answer_text: str) -> list[Statement]:
    """Sentences of the answer body. Quotations are kept whole even when they hold several sentences,
    and a marker written after the full stop ('... end." [2]') belongs to the sentence before it."""
    pieces: list[str] = []
    for block in _blocks(answer_body(answer_text)):
        masked = _mask_quotations(block)
        merged: list[tuple[int, int]] = []
        for start, end in _split_after_markers(masked, sentence_spans(masked)):
            if merged and _ENDS_WITH_INITIAL.search(block[merged[-1][0]:merged[-1][1]]):
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        for start, end in merged:
            piece, piece_masked = block[start:end], masked[start:end]
            lead = _LEADING_MARKERS.match(piece_masked)
            if lead and pieces:
                pieces[-1] = (pieces[-1][0] + " " + lead.group(0).strip(), pieces[-1][1] + " " + lead.group(0).strip())
                piece, piece_masked = piece[lead.end():], piece_masked[lead.end():]
            if piece.strip():
                pieces.append((piece, piece_masked))
    statements = []
    for piece, piece_masked in pieces:
        # Markers are read where quotations are blanked: a source's own "[127]" inside a quote cites nothing.
        markers = markers_in(piece_masked)
        text = unwrap(_MARKDOWN_NOISE.sub("", _strip_markers(piece, piece_masked)))
        text = re.sub(r"\s+([.,;:!?])", r"\1", text).strip()
        if any(ch.isalnum() for ch in text):
            statements.append(Statement(text=text, markers=markers))
    return statements


def _strip_markers(piece: str, masked: str) -> str:
    out, cursor = [], 0
    for match in MARKER.finditer(masked):
        out.append(piece[cursor:match.start()])
        cursor = match.end()
    return "".join(out) + piece[cursor:]


def _split_after_markers(masked: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A marker run followed by a new capitalised sentence closes its statement even without a full stop
    ('... “Title” [5] Elsewhere, ...'), as engines write after quotations that end without one."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        cursor = start
        for match in _MARKER_THEN_SENTENCE.finditer(masked, start, end):
            out.append((cursor, match.end()))
            cursor = match.end()
        out.append((cursor, end))
    return [(s, e) for s, e in out if masked[s:e].strip()]


def _blocks(body: str) -> list[str]:
    """Paragraphs, with each list item or block-quote line starting a block of its own."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in body.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or _ENGINE_NOTE.match(line):
            if current:
                blocks.append(current)
            current = []
            continue
        if _BLOCK_START.match(line) and current:
            blocks.append(current)
            current = []
        current.append(_BLOCK_START.sub("", line, count=1))
    if current:
        blocks.append(current)
    return ["\n".join(lines) for lines in blocks]


def _mask_quotations(text: str) -> str:
    """Same length as `text`, with the inside of each quotation blanked so its full stops end nothing."""
    def blank(match: re.Match[str]) -> str:
        # Upper-case filler, so a quotation opening a sentence still reads as a sentence start; a full stop
        # closing the quotation is kept, so it can end the sentence that holds the quotation.
        inner = match.group(0)[1:-1]
        closing = len(inner) - len(inner.rstrip(".!?\"'”’)"))
        kept = closing if any(ch in ".!?" for ch in inner[len(inner) - closing:]) else 0
        inner = re.sub(r"\S", "X", inner[: len(inner) - kept]) + inner[len(inner) - kept:]
        return match.group(0)[0] + inner + match.group(0)[-1]

    return _QUOTED.sub(blank, text)
