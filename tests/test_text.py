"""The one text module: words, stop words, Snowball stems, question terms and names."""

from __future__ import annotations

import pytest

from citewise.core.text import (
    capitalised_runs,
    content_terms,
    named_terms,
    query_terms,
    stem,
    stems_of,
    term_stems,
    tokens,
)

pytestmark = pytest.mark.unit


def test_query_terms_drop_stopwords_and_punctuation():
    assert query_terms('What\'s "MDMA" (ecstasy)?') == ["mdma", "ecstasy"]
    assert query_terms("the of and") == []
    assert query_terms("a 5 b_c") == ["5"]  # single letters go, single digits stay; '_' splits words
    assert query_terms("opium, opium and laudanum") == ["opium", "opium", "laudanum"]  # repeats weigh more


def test_stems_match_inflections_and_possessives():
    assert stem("marks") == stem("mark")
    assert stem("defined") == stem("define") == stem("defining")
    assert stem("James's") == stem("James") == stem("James’s")
    assert stem("Mystics") == stem("mystic")


def test_stems_of_a_hyphenated_word_include_its_parts():
    found = stems_of("Self-surrender is the vital turning-point.")
    assert {stem("self"), stem("surrender"), stem("self-surrender"), stem("turning")} <= found
    assert term_stems("self-surrender") == {stem("self"), stem("surrender")}


def test_content_terms_leave_out_question_scaffolding_and_repeats():
    assert content_terms("According to William James, what does James mean by 'mystical'?") == [
        "william", "james", "mystical"]
    assert content_terms("Describe the Eleusinian kykeon.") == ["eleusinian", "kykeon"]


def test_named_terms_are_mid_sentence_capitals_and_codes():
    assert named_terms("What did Jung write to Bill Wilson about alcohol?") == ["jung", "bill", "wilson"]
    assert named_terms("Where is the MAPP1 trial?") == ["mapp1"]
    assert named_terms("Opium. What is it?") == []  # sentence openers are not names


def test_capitalised_runs_and_sentence_openers():
    text = "Thomas De Quincey met a friend. Later William James wrote."
    assert capitalised_runs(text) == ["Thomas De Quincey", "Later William James"]
    assert capitalised_runs(text, skip_sentence_openers=True) == []
    assert capitalised_runs("What did the celebrated Carl Jung say?", skip_sentence_openers=True) == ["Carl Jung"]


def test_tokens_split_like_a_lexical_index():
    assert tokens("Self-surrender, Jung's 'persona' (1917)") == ["self", "surrender", "jung", "s", "persona", "1917"]


def test_stems_are_right_when_threads_stem_at_once() -> None:
    # Snowball stemmers keep their word in themselves; one shared between threads garbled words under load.
    from concurrent.futures import ThreadPoolExecutor

    from citewise.core.text import stem

    words = [f"{base}{ending}" for base in ("nation", "relat", "generaliz", "hopeful", "connect", "adjust")
             for ending in ("", "s", "ing", "ingly", "ations", "ational", "ness", "ments")]
    expected = {word: stem.__wrapped__(word) for word in words}

    def stem_many(offset: int) -> list[str]:
        picked = [words[(i + offset) % len(words)] for i in range(3000)]
        return [word for word in picked if stem.__wrapped__(word) != expected[word]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        wrong = [w for part in pool.map(stem_many, range(8)) for w in part]
    assert not wrong, wrong[:5]


def test_the_lexical_index_words_are_fts5s_for_every_backend():
    """core/lexemes.py: what both index backends index and look up, FTS5's own analysis run in process."""
    import sqlite3
    from concurrent.futures import ThreadPoolExecutor

    from citewise.core.lexemes import TOKENIZER, index_terms, index_terms_of, lexical_form

    assert index_terms("Why can't the _History_. be") == ["why", "can", "t", "the", "histori", "be"]
    assert index_terms("Ünïcödé self-surrender, generously; Psychology") == [
        "unicod", "self", "surrend", "gener", "psycholog"]  # Porter as SQLite has it: not Snowball's "psychologi"
    assert index_terms("  ") == [] and index_terms_of(["a b", "", "c"]) == [["a", "b"], [], ["c"]]
    assert index_terms(lexical_form("禅宗强调顿悟，MDMA不是")) == [*"禅宗强调顿悟", "mdma", "不", "是"]
    text = "The man's self-will ran riot: he can't stop (nor won't) — 1912's HISTORIES, naïvely; é_t_é!"
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(body, tokenize='{TOKENIZER}')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    conn.execute("INSERT INTO t(body) VALUES (?)", (text,))
    assert index_terms(text) == [term for term, _ in sorted(
        ((term, offset) for term, offset in conn.execute("SELECT term, offset FROM v")), key=lambda row: row[1])]
    with ThreadPoolExecutor(4) as pool:  # one tokenizer per thread: concurrent requests never share one
        assert set(pool.map(lambda _: tuple(index_terms(text)), range(40))) == {tuple(index_terms(text))}


def test_the_index_terms_tokenizer_keeps_nothing_between_calls():
    """After an ingest's worth of passages, a query's terms cost what they cost at first: the in-memory index is
    emptied outright, not row by row (deleted rows' entries would be skipped by every later read)."""
    from citewise.core.lexemes import _tokenizer, index_terms, index_terms_of

    for start in range(0, 3000, 500):
        index_terms_of([f"passage {i}: opium and laudanum sold on a rainy Sunday {i * 7}"
                        for i in range(start, start + 500)])
    assert index_terms("laudanum") == ["laudanum"]
    assert _tokenizer().execute("SELECT count(*) FROM words_data").fetchone()[0] <= 2
