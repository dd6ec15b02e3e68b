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


def test_chunker_initials_and_dotted_abbreviations_do_not_end_a_sentence() -> None:
    text = ("His style was admired by Lady M. W. Montague. In A.D.\n129 he was again at Athens, as T.W. Allen\n"
            "shows. The U.S. Food and Drug Administration approved it. So did I. Then we left.")
    assert _sentences(text) == [
        "His style was admired by Lady M. W. Montague.",
        "In A.D.\n129 he was again at Athens, as T.W. Allen\nshows.",
        "The U.S. Food and Drug Administration approved it.",
        "So did I.",
        "Then we left.",
    ]


def test_chunker_a_scholar_s_especially_does_not_end_a_sentence() -> None:
    text = "The rite was old; cf. esp. Voigt in Roscher, who gives the sources. Then came the dance."
    assert _sentences(text) == ["The rite was old; cf. esp. Voigt in Roscher, who gives the sources.",
                                "Then came the dance."]


def test_chunker_initial_before_a_word_that_opens_a_sentence_ends_one() -> None:
    text = ("We came to K. A wedding was just going on there. Inquiries about Mrs. X. We must make them. "
            "It dates from about 660 B.C. In his time it was new. J. A. Smith wrote it.")
    assert _sentences(text) == [
        "We came to K.",
        "A wedding was just going on there.",
        "Inquiries about Mrs. X.",
        "We must make them.",
        "It dates from about 660 B.C.",
        "In his time it was new.",
        "J. A. Smith wrote it.",
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


class _CountingEncoding:
    """An encoding that adds up the characters it is given to encode (issue 24: chunking must stay near-linear)."""

    def __init__(self, encoding) -> None:
        self._encoding = encoding
        self.characters = 0

    def encode_ordinary(self, text: str) -> list[int]:
        self.characters += len(text)
        return self._encoding.encode_ordinary(text)

    def __getattr__(self, name: str):
        return getattr(self._encoding, name)


# Texts of about 60 kB whose white space once made the chunker re-encode a passage's span once per word it dropped.
WHITESPACE_HEAVY = {
    "spaces": ("word" + " " * 1000) * 60,
    "newlines": ("word" + "\n" * 300) * 200,
    "tabs": ("Word." + "\t" * 500) * 120,
    "nested list": "".join("  " * (i % 300) + f"- item {i}\n" for i in range(200)),
    "prose": PROSE * 16,
}


@pytest.mark.parametrize("name", list(WHITESPACE_HEAVY))
def test_chunker_encodes_each_character_a_few_times_whatever_the_white_space(name: str) -> None:
    text = WHITESPACE_HEAVY[name]
    chunker = Chunker(ChunkSettings())
    counting = chunker._encoding = _CountingEncoding(chunker._encoding)
    chunks = chunker.chunk(text)
    # Today's prose costs about 3 characters encoded per character of text; 1,000-space gaps cost 900 before.
    assert counting.characters <= 8 * len(text), f"{counting.characters / len(text):.0f} per character"
    for chunk in chunks:
        assert chunk.tokens == chunker.count(text[chunk.start:chunk.end]) <= 200
        assert not text[chunk.start].isspace() and not text[chunk.end - 1].isspace()
    words = text.split()
    assert " ".join(" ".join(text[c.start:c.end].split()) for c in chunks).split()[-1] == words[-1]


def test_chunker_overlap_counts_the_white_space_between_words() -> None:
    # 300 newlines are ~10 tokens: a 200-token passage holds ~18 words, and an overlap counting the words alone
    # (40 of them) made every passage start one word after the last, one passage per word of the text.
    text = WHITESPACE_HEAVY["newlines"]
    chunks = Chunker(ChunkSettings()).chunk(text)
    assert len(chunks) <= len(text.split()) // 5
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:], strict=False))


def test_chunker_memory_stays_flat_on_one_endless_sentence() -> None:
    import tracemalloc

    text = "word " * 200_000  # 1 MB, no full stop: one sentence, split at words
    chunker = Chunker(ChunkSettings())
    tracemalloc.start()
    try:
        chunks = chunker.chunk(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert chunks and chunks[-1].end == len(text) - 1
    # A list of every word's span took 25 MB here; now only the passages found and the units near the current
    # one are held (0.5 MB).
    assert peak < 0.7 * len(text), f"peak {peak / 1e6:.1f} MB for a text of {len(text) / 1e6:.1f} MB"


def test_chunker_a_huge_word_is_cut_in_windows_at_the_same_token_starts() -> None:
    chunker = Chunker(ChunkSettings(max_tokens=50, overlap_tokens=0))
    word = "".join(f"{i:x}q" for i in range(40_000))  # one 'word' of ~200 kB, no white space
    chunks = chunker.chunk(word)
    assert "".join(word[c.start:c.end] for c in chunks) == word
    assert all(c.tokens == chunker.count(word[c.start:c.end]) <= 50 for c in chunks)
    tokens = chunker._encoding.encode_ordinary(word)
    _, offsets = chunker._encoding.decode_with_offsets(tokens)
    assert chunks[0].end == offsets[50]  # where the whole word's own encoding puts the 51st token
