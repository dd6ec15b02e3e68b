"""Filters a clinician would use (year, kind, source), what a refusal under them says, and the standing notice on
answers to health questions: the resolver on its own, then the offline engine and `citewise ask` on the slice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citewise.answers.engines import build_engine
from citewise.answers.output.notice import HEALTH_NOTICE, health_notice, is_health_question
from citewise.core.errors import CitewiseError
from citewise.core.retrieval import FilterRequest, SearchFilters
from citewise.core.types import Source
from citewise.retrieval.filters import resolve_filters
from citewise.retrieval.retriever import IndexRetriever, source_matches
from citewise.store import open_index
from tests.cli import run_cli, run_on_terminal

CLINICAL = "Is MDMA-assisted therapy approved for PTSD?"
HISTORICAL = "How long did the Greater Mysteries at Eleusis last?"


def _source(sid: str, kind: str, year: int | str | None, **more) -> Source:
    fields = {"file": f"{sid}.md", "title": f"Title {sid}", "author": "Someone", "licence": "", "origin": "",
              "file_sha256": "", "chars": 10, "aliases": ()} | more
    return Source(id=sid, year=year, kind=kind, **fields)


SOURCES = {s.id: s for s in (
    _source("a1", "book", 1902, title="The Varieties", aliases=("Varieties",), file="james-1902.txt"),
    _source("b2", "encyclopedia article", 2025, file="wiki/mdma.md"),
    _source("c3", "government health information", 2025, title="MedlinePlus summaries"),
    _source("d4", "", "c. 1900"),
)}


@pytest.mark.unit
def test_filters_resolve_names_and_kinds_and_refuse_what_the_index_lacks() -> None:
    filters = resolve_filters(FilterRequest(since=2000, kinds=["Encyclopedia  Article"],
                                            sources=["varieties", "mdma", "b2"]), SOURCES)
    assert filters.kinds == {"encyclopedia article"} and filters.source_ids == {"a1", "b2"}
    assert filters.year_min == 2000
    with pytest.raises(CitewiseError, match="kind 'clinical trial'.*book, encyclopedia article"):
        resolve_filters(FilterRequest(kinds=["clinical trial"]), SOURCES)
    with pytest.raises(CitewiseError, match="'Freud'"):
        resolve_filters(FilterRequest(sources=["Freud"]), SOURCES)
    with pytest.raises(CitewiseError, match="since 2020 is after until 2000"):
        resolve_filters(FilterRequest(since=2020, until=2000), SOURCES)
    assert resolve_filters(FilterRequest(), SOURCES).is_empty()


@pytest.mark.unit
def test_a_source_passes_on_its_kind_and_a_year_it_can_show() -> None:
    recent_articles = SearchFilters(kinds=frozenset({"encyclopedia article", "book"}), year_min=2000)
    assert [sid for sid, s in SOURCES.items() if source_matches(s, recent_articles)] == ["b2"]
    assert not source_matches(SOURCES["d4"], SearchFilters(year_max=2000)), "no numeric year: not shown in range"
    narrowed = SearchFilters(source_ids=frozenset({"a1", "b2"})).restricted_to(frozenset({"b2", "c3"}))
    assert narrowed.source_ids == {"b2"}
    assert SearchFilters().restricted_to(frozenset({"c3"})).source_ids == {"c3"}
    described = SearchFilters(year_min=2020, kinds=frozenset({"book"}), source_ids=frozenset({"c3"})).describe(SOURCES)
    assert described == "published in or after 2020; kind: book; only MedlinePlus summaries"


@pytest.mark.unit
def test_health_questions_are_told_by_their_words_or_their_sources_kinds() -> None:
    assert is_health_question(CLINICAL)
    assert is_health_question("What dose is too much?") and is_health_question("Any side-effects of ecstasy?")
    assert not is_health_question("What are James's marks of mystical states?", [SOURCES["a1"]])
    # Everyday words, but the answer cites a health agency: the notice is due all the same.
    assert is_health_question("Where are club drugs often used?", [SOURCES["c3"]])
    assert not is_health_question("Who founded the rites at Eleusis?", [SOURCES["b2"], SOURCES["a1"]])
    assert health_notice(HISTORICAL, [SOURCES["a1"]]) is None


# --- the offline engine under filters, on the slice index ------------------------------------------------------

@pytest.fixture(scope="module")
def engine(slice_settings, embedder):
    retriever = IndexRetriever(slice_settings, open_index(slice_settings), embedder=embedder)
    return build_engine(slice_settings, retriever, retriever.index, name="offline", embedder=embedder)


def _filters(engine, **request) -> SearchFilters:
    return resolve_filters(FilterRequest(**request), engine.index.sources)


@pytest.mark.integration
def test_every_citation_shows_year_and_kind_and_the_notice_stands_once_outside_quotations(engine) -> None:
    answer = engine.answer(CLINICAL)
    assert not answer.refused and answer.citations
    prose, _, cited = answer.answer.partition("**Sources cited**")
    for citation in answer.citations:
        source = citation.source
        assert source.kind, "the demo manifest gives every source a kind"
        assert f"({source.year}, {source.kind})" in cited
        assert HEALTH_NOTICE not in citation.quote
    first = answer.citations[0].source
    assert f"({first.year}, {first.kind}), {first.author.split(';')[0]} write" in prose, (
        "the first attribution names the work's year and kind")
    assert answer.notice == HEALTH_NOTICE
    assert answer.answer.count(HEALTH_NOTICE) == 1
    assert f"\n\n> {HEALTH_NOTICE}\n\n" in prose + "\n\n", "a block of its own, not inside a quotation"


@pytest.mark.integration
def test_a_historical_question_gets_no_notice(engine) -> None:
    answer = engine.answer(HISTORICAL)
    assert not answer.refused and answer.notice is None
    assert "medical advice" not in answer.answer


@pytest.mark.integration
def test_a_year_filter_confines_the_citations_and_is_echoed(engine) -> None:
    answer = engine.answer(CLINICAL, filters=_filters(engine, since=2020))
    assert not answer.refused and answer.citations
    assert all(isinstance(c.source.year, int) and c.source.year >= 2020 for c in answer.citations)
    assert answer.filters is not None and answer.filters.since == 2020
    by_source = engine.answer("What are other names for ecstasy?", filters=_filters(engine, sources=["MedlinePlus"]))
    assert not by_source.refused
    assert {c.source.kind for c in by_source.citations} == {"government health information"}
    assert by_source.notice == HEALTH_NOTICE, "no health words in the question, but a health agency answers it"


@pytest.mark.integration
def test_a_refusal_says_when_the_filters_excluded_the_evidence(engine) -> None:
    unfiltered = engine.answer(HISTORICAL)
    answer = engine.answer(HISTORICAL, filters=_filters(engine, since=2000))
    assert answer.refused and answer.refusal_reason == "excluded_by_filters"
    assert all(p.source.year >= 2000 for p in answer.nearest)
    assert "The filters (published in or after 2000) excluded the evidence" in answer.answer
    assert [s.id for s in answer.excluded_by_filters] == list(dict.fromkeys(c.source.id for c in unfiltered.citations))
    books_only = engine.answer(CLINICAL, filters=_filters(engine, kinds=["book"]))
    assert books_only.refused and "(kind: book) excluded the evidence" in books_only.answer
    assert books_only.refusal_reason == "excluded_by_filters"
    assert all(p.source.kind == "book" for p in books_only.nearest)


@pytest.mark.integration
def test_a_refusal_the_filters_did_not_cause_says_so(engine) -> None:
    answer = engine.answer("What is the capital of Peru?", filters=_filters(engine, since=2020))
    assert answer.refused and not answer.excluded_by_filters
    assert answer.refusal_reason == "unknown_name", "the reason found without the filters: no source mentions Peru"
    assert "not what stands in the way" in answer.answer


@pytest.mark.integration
def test_cli_filters_and_kinds(slice_settings) -> None:
    index = ["--index", str(slice_settings.index)]
    listed = run_cli("sources", "--json", *index)
    assert listed.returncode == 0, listed.stderr
    assert {row["kind"] for row in json.loads(listed.stdout)} == {"book", "encyclopedia article",
                                                                  "government health information"}
    found = run_cli("search", "ecstasy", "--kind", "government health information", "--json", *index)
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert hits and {h["kind"] for h in hits} == {"government health information"}
    asked = run_cli("ask", HISTORICAL, "--since", "2000", *index)
    assert asked.returncode == 0, asked.stderr
    assert "excluded the evidence" in asked.stdout
    as_json = run_cli("ask", HISTORICAL, "--since", "2000", "--json", *index)
    assert json.loads(as_json.stdout)["refusal_reason"] == "excluded_by_filters"
    wrong = run_cli("ask", HISTORICAL, "--kind", "sermon", *index)
    assert wrong.returncode == 1 and wrong.stderr.startswith("citewise: error: no source in the index is of kind")
    assert "Traceback" not in wrong.stderr


@pytest.mark.integration
def test_cli_shows_a_quotation_as_written_on_a_terminal_and_inert_markdown_in_a_pipe(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "almanac.txt").write_text(
        "The Lighthouse Almanac\n\nThe keeper trimmed the wicks, filled the oil, polished the lens, &c., every "
        "evening before dusk. He logged the tide as <high water> and the wind as force 3 & rising.\n",
        encoding="utf-8")
    index = ["--index", str(tmp_path / "index")]
    assert run_cli("ingest", str(corpus), *index).returncode == 0
    question = "What did the keeper do every evening before dusk?"
    on_terminal = run_on_terminal("ask", question, *index)
    assert "polished the lens, &c., every evening" in on_terminal
    assert "&amp;" not in on_terminal
    piped = run_cli("ask", question, *index)
    assert piped.returncode == 0, piped.stderr
    assert "polished the lens, &amp;c., every evening" in piped.stdout

