"""Hybrid search on the real slice index: signals, filters, punctuation, and the `citewise search` command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from citewise.cli import app
from citewise.core.errors import CitewiseError
from citewise.core.retrieval import SearchFilters
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def retriever(slice_settings, embedder) -> IndexRetriever:
    return IndexRetriever(slice_settings, open_index(slice_settings), embedder=embedder)


def _source_id(retriever: IndexRetriever, file_prefix: str) -> str:
    return next(s.id for s in retriever.index.sources.values() if s.file.startswith(file_prefix))


def test_hybrid_hits_carry_both_signals_and_exact_offsets(retriever):
    hits = retriever.search('what\'s "MDMA" (ecstasy)?', k=6, mode="hybrid")
    assert [h.rank for h in hits] == list(range(1, 7))
    assert any("MDMA" in h.passage.text for h in hits[:3])
    assert any("lexical" in h.signals and "dense_rank" in h.signals for h in hits)
    for hit in hits:
        assert {"dense", "fused", "fused_rank"} <= set(hit.signals)
        assert hit.score == pytest.approx(hit.signals["fused"])
        text = retriever.index.source_text(hit.source.id)
        assert text[hit.passage.start:hit.passage.end] == hit.passage.text
        assert hit.source.id == hit.passage.source_id


def test_single_signal_modes_rank_by_their_own_score(retriever):
    dense = retriever.search("the festival of the Greater Mysteries at Eleusis", k=5, mode="dense")
    lexical = retriever.search("the festival of the Greater Mysteries at Eleusis", k=5, mode="lexical")
    assert dense and lexical
    assert all(set(h.signals) == {"dense", "dense_rank"} for h in dense)
    assert all(set(h.signals) == {"lexical", "lexical_rank"} for h in lexical)
    for hits in (dense, lexical):
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
    # Every lexical hit holds a query word (stems: 'mysteries' matches 'mystery', 'eleusis' matches 'eleusi-').
    assert all(any(stem in h.passage.text.lower() for stem in ("festival", "greater", "myster", "eleusi"))
               for h in lexical)


def test_query_of_only_punctuation_and_stopwords(retriever):
    assert retriever.search('"(what)" OR AND * ?', k=5, mode="lexical") == []
    assert retriever.search("   ", k=5) == []
    assert retriever.search('NEAR("x" -y):*', k=3, mode="hybrid")  # dense still answers


def test_source_filter_is_applied_before_truncation(retriever):
    medline = _source_id(retriever, "medlineplus")
    filters = SearchFilters(source_ids=frozenset({medline}))
    # A question about another source: unfiltered top hits are elsewhere, yet k filtered hits still come back.
    for mode in ("dense", "lexical", "hybrid"):
        hits = retriever.search("initiation into the Eleusinian Mysteries and their drugs", k=5, mode=mode,
                                filters=filters)
        assert len(hits) == 5, mode
        assert {h.source.id for h in hits} == {medline}


def test_author_and_year_filters(retriever):
    by_author = retriever.search("the sacred rites", k=8, filters=SearchFilters(authors=frozenset({"WRIGHT"})))
    assert by_author and all("wright" in h.source.author.lower() for h in by_author)
    by_year = retriever.search("drinking and recovery", k=8, filters=SearchFilters(year_min=1900, year_max=1950))
    assert by_year and all(isinstance(h.source.year, int) and 1900 <= h.source.year <= 1950 for h in by_year)
    assert retriever.search("anything", k=3, filters=SearchFilters(year_min=3000)) == []


def test_mmr_off_keeps_fused_order(slice_settings, embedder):
    config = slice_settings.retrieval.model_copy(update={"mmr_lambda": 1.0})
    plain = IndexRetriever(slice_settings.model_copy(update={"retrieval": config}), open_index(slice_settings),
                           embedder=embedder)
    hits = plain.search("ecstasy risks and dehydration", k=8)
    assert [h.signals["fused_rank"] for h in hits] == list(range(1, 9))


def test_unknown_mode_is_a_user_error(retriever):
    with pytest.raises(CitewiseError):
        retriever.search("x", mode="fuzzy")  # type: ignore[arg-type]


def test_search_command_json_with_filters(slice_settings):
    result = CliRunner().invoke(app, [
        "search", 'what\'s "MDMA" (ecstasy)?', "-k", "3", "--author", "wikipedia", "--year-from", "2000",
        "--index", str(slice_settings.index), "--json",
    ])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 3
    assert all("wikipedia" in row["author"].lower() and row["year"] >= 2000 for row in rows)
    assert all({"dense", "fused"} <= set(row["signals"]) for row in rows)


def test_search_command_rejects_unknown_source(slice_settings):
    result = CliRunner().invoke(app, ["search", "x", "--source", "nope", "--index", str(slice_settings.index)])
    assert result.exit_code != 0
    assert isinstance(result.exception, CitewiseError) and "nope" in str(result.exception)
