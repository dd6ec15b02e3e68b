"""The quote verifier: locate() on strings, and verify() on a real index of two small hard-wrapped books."""

from __future__ import annotations

import re
import textwrap

import pytest

from citewise.answers.quotes.normalize import normalize_text
from citewise.answers.quotes.verifier import QuoteStatus, QuoteVerifier, locate
from citewise.core.index import IndexReader
from citewise.core.settings import Settings
from citewise.core.types import Passage
from citewise.ingest.pipeline import Ingestor
from citewise.store.sqlite_faiss import SqliteIndexReader

# --- locate() on strings ---------------------------------------------------------------------------------------

WRAPPED = ("He said that the \u201cold lamp\u201d burned all night\u2014and nobody\nknew why. The keeper--a quiet"
           " man--walked the shore and found some-\nthing in the sand.")


@pytest.mark.unit
def test_locate_exact_returns_offsets_of_the_substring() -> None:
    start, end = locate("burned all night", WRAPPED)
    assert WRAPPED[start:end] == "burned all night"


@pytest.mark.unit
def test_locate_across_hard_wrapped_lines_and_typography() -> None:
    quote = 'the "old lamp" burned all night - and nobody knew why.'
    start, end = locate(quote, WRAPPED)
    assert WRAPPED[start:end] == "the \u201cold lamp\u201d burned all night\u2014and nobody\nknew why."
    assert normalize_text(WRAPPED[start:end]) == normalize_text(quote)


@pytest.mark.unit
def test_locate_treats_double_hyphen_and_em_dash_alike() -> None:
    start, end = locate("The keeper \u2014 a quiet man \u2014 walked", WRAPPED)
    assert WRAPPED[start:end] == "The keeper--a quiet man--walked"


@pytest.mark.unit
def test_locate_end_of_line_hyphenation_is_optional() -> None:
    for quote in ("found something in the sand", "found some-thing in the sand"):
        span = locate(quote, WRAPPED)
        assert span is not None, quote
        assert WRAPPED[span[0]:span[1]] == "found some-\nthing in the sand"


@pytest.mark.unit
def test_locate_elisions_find_fragments_in_order() -> None:
    quotes = ("He said that \u2026 nobody knew why", "He said that ... nobody knew why", "He said that [...] nobody")
    for quote in quotes:
        span = locate(quote, WRAPPED)
        assert span is not None, quote
        assert WRAPPED[span[0]:].startswith("He said that") and span[0] == 0
    # Fragments out of order, or too far apart, are not an elided quotation of this text.
    assert locate("nobody knew why \u2026 He said that", WRAPPED) is None
    far = "Alpha begins here. " + "filler words go on " * 40 + "and omega ends it."
    assert locate("Alpha begins here \u2026 omega ends it", far) is None
    assert locate("Alpha begins here \u2026 filler words", far) is not None


@pytest.mark.unit
def test_locate_respects_window_and_word_boundaries() -> None:
    assert locate("burned all night", WRAPPED, 0, 20) is None
    assert locate("burned all night", WRAPPED, 20) is not None
    assert locate("eeper", WRAPPED) is None  # inside the word "keeper"
    assert locate("", WRAPPED) is None
    assert locate("a lamp that was never there", WRAPPED) is None


# --- verify() on a real index ----------------------------------------------------------------------------------

LAMP_SPECIAL = [
    "He said that the \u201cold lamp\u201d burned all night\u2014and nobody knew why the oil never ran out.",
    "The keeper--a quiet man with grey hands--walked the shore every morning before the gulls woke.",
]
RIVER_SPECIAL = ["The ferryman counted eleven silver coins before he would row across the dark water."]
NOUNS = ["harbour", "lantern", "orchard", "granary", "chapel", "meadow", "quarry", "bridge", "cellar", "forge"]
VERBS = ["mended", "painted", "guarded", "measured", "cleaned", "visited", "described", "counted"]


def _book(specials: list[str], theme: str, paragraphs: int) -> str:
    """A hard-wrapped book: generated paragraphs, with `specials` placed early and late."""
    blocks = []
    for p in range(paragraphs):
        sentences = [
            f"In the {p + 1}th year the {theme} people {VERBS[(p + i) % len(VERBS)]} the "
            f"{NOUNS[(p * 3 + i) % len(NOUNS)]} number {p * 10 + i} near the {NOUNS[(p + 2 * i) % len(NOUNS)]}."
            for i in range(7)
        ]
        if p == 1:
            sentences[3:3] = specials
        blocks.append(textwrap.fill(" ".join(sentences), width=68))
    return "\n\n".join(blocks) + "\n"


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory, embedder) -> IndexReader:
    corpus = tmp_path_factory.mktemp("verifier_corpus")
    (corpus / "lamp.txt").write_text(_book(LAMP_SPECIAL, "lighthouse", 12), encoding="utf-8")
    (corpus / "river.txt").write_text(_book(RIVER_SPECIAL, "river", 8), encoding="utf-8")
    settings = Settings(index=tmp_path_factory.mktemp("verifier_index"))
    Ingestor(settings, embedder=embedder, progress=False).run([corpus])
    index = SqliteIndexReader(settings.index)
    yield index
    index.close()


def _source(reader: IndexReader, file: str) -> str:
    return next(s.id for s in reader.sources.values() if s.file == file)


def _passage_with(reader: IndexReader, file: str, phrase: str) -> tuple[Passage, int]:
    source_id = _source(reader, file)
    text = reader.source_text(source_id)
    # textwrap may have broken the phrase over lines, so any run of white space matches its spaces.
    found = re.search(r"\s+".join(map(re.escape, phrase.split())), text)
    assert found is not None, phrase
    offset = found.start()
    passage = next(p for p in reader.passages_of(source_id) if p.start <= offset and found.end() <= p.end)
    return passage, offset


def _far_passage(reader: IndexReader, file: str, than: Passage) -> Passage:
    return next(p for p in reader.passages_of(_source(reader, file)) if p.start > than.end + 200)


@pytest.mark.integration
def test_exact_quote_is_verified_at_its_offsets(reader: IndexReader) -> None:
    phrase = "The keeper--a quiet man with grey hands--walked the shore"
    passage, offset = _passage_with(reader, "lamp.txt", phrase)
    text = reader.source_text(passage.source_id)
    end = text.index("shore", offset) + len("shore")
    quote = text[offset:end]  # verbatim, line break included
    match = QuoteVerifier(reader).verify(quote, passage.id, [passage.id])
    assert (match.status, match.passage_id, match.start, match.end) == (
        QuoteStatus.VERIFIED, passage.id, offset, end)


@pytest.mark.integration
@pytest.mark.parametrize("quote", [
    "the keeper \u2014 a quiet man with grey hands \u2014 walked the shore every morning",  # wrapped, em dashes
    'He said that the "old lamp" burned all night - and nobody knew why the oil never ran out.',  # straight quotes
    "He said that the \u2018old lamp\u2019 burned all night--and nobody knew why",
])
def test_normalised_quotes_are_verified_and_offsets_hold_them(reader: IndexReader, quote: str) -> None:
    passage, _ = _passage_with(reader, "lamp.txt", "a quiet man")
    match = QuoteVerifier(reader).verify(quote, passage.id, [passage.id])
    assert match.status is QuoteStatus.VERIFIED, match.detail
    found = reader.source_text(match.source_id)[match.start : match.end]
    assert normalize_text(found).casefold() == normalize_text(quote).casefold()
    assert "\n" in found or "--" in found or "\u201c" in found  # the source's own typography, not the quote's


@pytest.mark.integration
@pytest.mark.parametrize("mark", ["\u2026", "...", " . . . "])
def test_elided_quote_spans_from_first_to_last_fragment(reader: IndexReader, mark: str) -> None:
    passage, offset = _passage_with(reader, "lamp.txt", "He said that the")
    quote = f"He said that the \u201cold lamp\u201d{mark}the oil never ran out"
    match = QuoteVerifier(reader).verify(quote, passage.id)
    text = reader.source_text(passage.source_id)
    assert match.status is QuoteStatus.VERIFIED
    assert match.start == offset and normalize_text(text[match.start : match.end]).endswith("the oil never ran out")


@pytest.mark.integration
def test_one_changed_word_is_altered_and_named(reader: IndexReader) -> None:
    passage, offset = _passage_with(reader, "lamp.txt", "The keeper--a quiet man")
    match = QuoteVerifier(reader).verify(
        "The keeper--a quiet man with grey hands--walked the beach every morning before the gulls woke.",
        passage.id, [passage.id])
    assert match.status is QuoteStatus.ALTERED
    assert '"beach"' in match.detail and '"shore"' in match.detail
    assert match.start == offset and match.passage_id == passage.id


@pytest.mark.integration
def test_quote_from_another_book_is_misattributed_to_the_right_source(reader: IndexReader) -> None:
    cited, _ = _passage_with(reader, "lamp.txt", "The keeper--a quiet man")
    real, offset = _passage_with(reader, "river.txt", "The ferryman counted")
    quote = "The ferryman counted eleven silver coins before he would row across the dark water."
    match = QuoteVerifier(reader).verify(quote, cited.id, [cited.id])
    assert match.status is QuoteStatus.MISATTRIBUTED
    assert match.source_id == real.source_id and match.start == offset
    text = reader.source_text(real.source_id)
    assert normalize_text(text[match.start : match.end]) == normalize_text(quote)
    assert match.passage_id in {p.id for p in reader.passages_of(real.source_id) if p.start <= offset < p.end}


@pytest.mark.integration
def test_invented_sentence_is_fabricated(reader: IndexReader) -> None:
    passage, _ = _passage_with(reader, "lamp.txt", "The keeper--a quiet man")
    verifier = QuoteVerifier(reader)
    invented = verifier.verify("The keeper sold the lighthouse to a merchant from a distant city.", passage.id)
    assert invented.status is QuoteStatus.FABRICATED and invented.start is None
    assert verifier.verify("   ", passage.id).status is QuoteStatus.FABRICATED
    missing = verifier.verify("The keeper--a quiet man", "no-such-passage")
    assert missing.status is QuoteStatus.FABRICATED and "does not exist" in missing.detail


@pytest.mark.integration
def test_same_source_elsewhere_depends_on_what_was_retrieved(reader: IndexReader) -> None:
    real, offset = _passage_with(reader, "lamp.txt", "The keeper--a quiet man")
    cited = _far_passage(reader, "lamp.txt", real)
    quote = "The keeper--a quiet man with grey hands--walked the shore"
    verifier = QuoteVerifier(reader)
    outside = verifier.verify(quote, cited.id, [cited.id])
    assert outside.status is QuoteStatus.OUTSIDE_RETRIEVED
    assert outside.start == offset and outside.passage_id == real.id
    inside = verifier.verify(quote, cited.id, [cited.id, real.id])
    assert (inside.status, inside.passage_id, inside.start) == (QuoteStatus.VERIFIED, real.id, offset)
    unrestricted = verifier.verify(quote, cited.id, None)
    assert unrestricted.status is QuoteStatus.VERIFIED and unrestricted.start == offset


@pytest.mark.integration
def test_short_quote_is_verified(reader: IndexReader) -> None:
    passage, offset = _passage_with(reader, "river.txt", "silver coins")
    match = QuoteVerifier(reader).verify("silver coins", passage.id, [passage.id])
    assert (match.status, match.start) == (QuoteStatus.VERIFIED, offset)

