"""Chunker and sentence splitting: token limits, overlap, sentence boundaries, hard-wrapped text."""

from __future__ import annotations

import pytest

from citewise.core.sentences import paragraph_spans, sentence_spans
from citewise.core.settings import ChunkSettings
from citewise.ingest.chunker import Chunker

pytestmark = pytest.mark.unit

WRAPPED = (
    "Mr. Hale went down to St. Giles with Dr.\n"
    "Brand, who carried vol. ii. of the\n"
    "history. Then the rain began, and\n"
    "they waited under the arch (cf. the\n"
    "engraving on p. 12). Nobody spoke.\n"
    "\n"
    "A new paragraph without a final stop\n"
    "\n"
    "“Will it clear?” she asked. It did not.\n"
)

PROSE = " ".join(
    f"Sentence number {i} talks about {'rivers' if i % 2 else 'mountains'} and the people who live near them."
    for i in range(40)
)


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_chunker_sentence_spans_hard_wrapped_with_abbreviations() -> None:
    assert _sentences(WRAPPED) == [
        "Mr. Hale went down to St. Giles with Dr.\nBrand, who carried vol. ii. of the\nhistory.",
        "Then the rain began, and\nthey waited under the arch (cf. the\nengraving on p. 12).",
        "Nobody spoke.",
        "A new paragraph without a final stop",
        "“Will it clear?” she asked.",
        "It did not.",
    ]


def test_chunker_paragraph_spans_trimmed() -> None:
    spans = paragraph_spans("\n\n  first\nline\n\n\n second \n")
    assert spans == [(4, 14), (18, 24)]


def test_chunker_passages_respect_token_limit_and_sentences() -> None:
    chunker = Chunker(ChunkSettings(max_tokens=40, overlap_tokens=10))
    chunks = chunker.chunk(PROSE)
    assert len(chunks) > 5
    starts = {s for s, _ in sentence_spans(PROSE)}
    ends = {e for _, e in sentence_spans(PROSE)}
    for chunk in chunks:
        assert chunk.tokens == chunker.count(PROSE[chunk.start:chunk.end])
        assert chunk.tokens <= 40
        assert chunk.start in starts and chunk.end in ends
    assert chunks[0].start == 0 and chunks[-1].end == len(PROSE)


def test_chunker_overlap_shares_whole_sentences() -> None:
    chunker = Chunker(ChunkSettings(max_tokens=60, overlap_tokens=20))
    chunks = chunker.chunk(PROSE)
    for previous, current in zip(chunks, chunks[1:], strict=False):
        assert previous.start < current.start  # always moves forward
        assert current.start < previous.end  # neighbours share text
        shared = PROSE[current.start:previous.end]
        assert chunker.count(shared) <= 20 + 2  # token counts of a split string may differ by a token at the cut
    without = Chunker(ChunkSettings(max_tokens=60, overlap_tokens=0)).chunk(PROSE)
    assert all(b.start >= a.end for a, b in zip(without, without[1:], strict=False))


def test_chunker_long_sentence_split_at_words_and_long_word_cut_between_tokens() -> None:
    chunker = Chunker(ChunkSettings(max_tokens=16, overlap_tokens=0))
    long_sentence = " ".join(["word"] * 100) + "."
    long_word = "x" * 400
    text = f"{long_sentence}\n\n{long_word}"
    chunks = chunker.chunk(text)
    assert all(chunker.count(text[c.start:c.end]) <= 16 == max(c.tokens for c in chunks) for c in chunks)
    word_start = text.index(long_word)
    word_pieces = [c for c in chunks if word_start <= c.start < word_start + len(long_word)]
    assert len(word_pieces) > 1 and "".join(text[c.start:c.end] for c in word_pieces) == long_word
    sentence_pieces = [text[c.start:c.end] for c in chunks if c.end <= len(long_sentence)]
    assert len(sentence_pieces) > 1 and sum(len(piece.split()) for piece in sentence_pieces) == 100


def test_chunker_overlap_must_be_smaller_than_limit() -> None:
    with pytest.raises(ValueError, match="overlap"):
        Chunker(ChunkSettings(max_tokens=20, overlap_tokens=20))
