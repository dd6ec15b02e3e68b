"""The offline engine on the real slice index: verified citations, refusals, follow-ups, streaming, `citewise ask`."""

from __future__ import annotations

import json

import pytest

from citewise.answers.engines import build_engine
from citewise.answers.offline.conversation import follow_up_context
from citewise.answers.output.render import display_author
from citewise.core.answer import REFUSAL_TEXT, Answer, Message
from citewise.core.errors import CitewiseError
from citewise.core.sentences import unwrap
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index
from tests.cli import run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def retriever(slice_settings, embedder) -> IndexRetriever:
    return IndexRetriever(slice_settings, open_index(slice_settings), embedder=embedder)


@pytest.fixture(scope="module")
def engine(slice_settings, retriever, embedder):
    return build_engine(slice_settings, retriever, retriever.index, name="offline", embedder=embedder)


def _assert_citations_verbatim(answer: Answer, retriever: IndexRetriever) -> None:
    for citation in answer.citations:
        text = retriever.index.source_text(citation.source.id)
        assert unwrap(text[citation.start:citation.end]) == citation.quote
        passage = retriever.index.passage(citation.passage_id)
        assert passage.start <= citation.start and citation.end <= passage.end
        assert f"[{citation.n}]" in answer.answer
        assert 0.0 <= citation.support <= 1.0


def test_answerable_question_gets_verified_citations_and_sources(engine, retriever):
    answer = engine.answer("What are the most serious short-term physical dangers of taking ecstasy?")
    assert not answer.refused and answer.engine == "offline" and answer.refusal_reason is None
    assert 1 <= len(answer.citations) <= engine.settings.answer.max_quotes
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    _assert_citations_verbatim(answer, retriever)
    prose, _, sources = answer.answer.partition("**Sources cited**")
    assert sources, "the answer ends with a Sources cited list"
    for citation in answer.citations:
        assert f"“{citation.quote}” [{citation.n}]" in prose
        assert citation.source.file in sources and citation.source.author in sources
        assert display_author(retriever.index.sources[citation.source.id]) in prose
    assert any("wikipedia-2025-mdma" in c.source.file for c in answer.citations)


def test_question_about_a_named_author_cites_that_author(engine, retriever):
    answer = engine.answer("According to Dudley Wright, how long did the Greater Mysteries at Eleusis last?")
    assert not answer.refused
    _assert_citations_verbatim(answer, retriever)
    assert answer.citations[0].source.file.startswith("wright-1919")
    # The work is named the first time it is quoted, with its year and kind.
    assert "In *The Eleusinian Mysteries and Rites* (1919, book), Dudley Wright writes:" in answer.answer


def test_a_misspelt_author_is_read_as_the_sources_spell_it_and_the_answer_says_so(engine, retriever):
    # "Wrigth" is a name no source mentions: read as asked, the question would be refused as unknown.
    answer = engine.answer("According to Dudley Wrigth, how long did the Greater Mysteries at Eleusis last?")
    assert not answer.refused
    assert answer.answer.startswith("> Read “Wrigth” as “Wright”, as the sources spell it.")
    _assert_citations_verbatim(answer, retriever)
    assert answer.citations[0].source.file.startswith("wright-1919")


@pytest.mark.parametrize(("question", "reason"), [
    ("Who won the 2014 FIFA World Cup final?", "unknown_name"),  # no source mentions FIFA
    ("How do I configure nginx as a reverse proxy with HTTPS?", "below_answerability_bar"),
])
def test_question_the_sources_cannot_answer_is_refused(engine, question, reason):
    answer = engine.answer(question)
    assert answer.refused and answer.refusal_reason == reason
    assert answer.answer == REFUSAL_TEXT
    assert answer.citations == []
    assert answer.nearest and all(n.text and n.source.file for n in answer.nearest)


@pytest.mark.parametrize(("question", "missing"), [
    ("What does James Hillman mean by 'soul-making'?", "James Hillman"),
    ("What did Aldous Huxley report about mescaline in The Doors of Perception?", "The Doors of Perception"),
])
def test_a_question_about_a_work_the_index_lacks_is_refused_naming_it(engine, question, missing):
    answer = engine.answer(question)
    assert answer.refused and answer.citations == [] and answer.refusal_reason == "absent_work_or_author"
    assert answer.answer.startswith("I cannot answer this from the indexed sources: they do not include")
    assert f"*{missing}*" in answer.answer


def test_a_compound_question_gets_a_paragraph_per_part(engine, retriever):
    answer = engine.answer("What is MDMA-assisted psychotherapy for PTSD, and what are the risks of recreational "
                           "ecstasy use?")
    assert not answer.refused
    _assert_citations_verbatim(answer, retriever)
    prose = answer.answer.split("**Sources cited**")[0]
    # The health notice stands apart, as a quoted block of its own.
    paragraphs = [p for p in prose.split("\n\n") if p.strip() and not p.startswith(">")]
    assert len(paragraphs) == 2
    assert paragraphs[0].startswith("**What is MDMA-assisted psychotherapy for PTSD?**")
    assert paragraphs[1].startswith("**What are the risks of recreational ecstasy use?**")
    assert all("[" in paragraph for paragraph in paragraphs)  # each part is answered with a quote


def test_a_part_the_sources_do_not_answer_is_named_after_the_answer(engine, retriever):
    answer = engine.answer("What is MDMA-assisted psychotherapy for PTSD, and who won the 2014 FIFA World Cup final?")
    assert not answer.refused
    _assert_citations_verbatim(answer, retriever)
    prose = answer.answer.split("**Sources cited**")[0]
    assert "> Note: none of the passages I found answers this part of the question: “Who won the 2014 FIFA World Cup " \
           "final?”" in prose
    # Every quotation answers the first part; none is offered for the second.
    assert "**Who won" not in prose and "FIFA" not in " ".join(c.quote for c in answer.citations)


def test_follow_up_borrows_the_previous_question_names(engine, retriever):
    history = [
        Message(role="user", content="What does Alcoholics Anonymous require of someone who wants to join?"),
        Message(role="assistant", content="The foreword says: “The only requirement ...” [1]"),
    ]
    follow_up = "and does it cost anything?"
    assert "Alcoholics Anonymous" in follow_up_context(follow_up, history)
    assert follow_up_context("What is MDMA?", history) == ""  # a standalone question leans on nothing
    assert engine.plan(follow_up, history).parts[0].query.startswith(follow_up)
    answer = engine.answer(follow_up, history)
    assert answer.question == follow_up
    assert not answer.refused
    _assert_citations_verbatim(answer, retriever)
    assert any(c.source.file.startswith("alcoholics-anonymous") for c in answer.citations)


def test_follow_up_about_what_he_said_stays_with_his_works(engine, retriever):
    history = [Message(role="user", content="According to Dudley Wright, how long did the Greater Mysteries last?")]
    answer = engine.answer("And what did he say about the drink the initiates took after fasting?", history)
    assert not answer.refused
    _assert_citations_verbatim(answer, retriever)
    assert {c.source.file for c in answer.citations} == {"wright-1919-eleusinian-mysteries-and-rites.txt"}


def test_stream_emits_text_then_each_citation_then_the_answer(engine):
    question = "What happened at the Lesser Mysteries at Agra?"
    events = list(engine.stream(question))
    assert events[-1].type == "done" and events[-1].answer is not None
    final = events[-1].answer
    assert "".join(e.text for e in events if e.type == "text") == final.answer
    streamed = [e.citation for e in events if e.type == "citation"]
    assert streamed == final.citations
    # A citation event never arrives before the text that carries its marker.
    for i, event in enumerate(events):
        if event.type == "citation":
            shown = "".join(e.text for e in events[:i] if e.type == "text")
            assert f"[{event.citation.n}]" in shown


def test_unknown_engine_name_is_a_user_error(slice_settings, retriever, embedder):
    with pytest.raises(CitewiseError, match="unknown answer engine"):
        build_engine(slice_settings, retriever, retriever.index, name="oracle", embedder=embedder)


def test_ask_command_prints_contract_json(slice_settings):
    result = run_cli("ask", "What is the only requirement for membership of Alcoholics Anonymous?",
                           "--json", "--index", str(slice_settings.index), timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"question", "answer", "refused", "engine", "citations", "nearest", "notice", "filters",
                         "refusal_reason", "excluded_by_filters"}
    answer = Answer.model_validate(data)
    assert answer.engine == "offline" and not answer.refused and answer.citations
    citation = data["citations"][0]
    assert set(citation) == {"n", "quote", "passage_id", "start", "end", "page", "support", "source"}
    assert set(citation["source"]) == {"id", "title", "author", "year", "file", "kind"}


def test_ask_command_reports_a_missing_index_in_one_line(tmp_path):
    result = run_cli("ask", "anything", "--index", str(tmp_path / "none"), timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith("citewise: error:") and "Traceback" not in result.stderr


def test_lines_with_web_addresses_are_never_candidates(retriever):
    from types import SimpleNamespace

    from citewise.answers.offline.evidence import candidate_sentences

    index = retriever.index
    with_address = [p for source in index.sources.values() for p in index.passages_of(source.id)
                    if "https://" in p.text]
    assert with_address, "the slice holds article headers like 'Source: https://...'"
    hits = [SimpleNamespace(passage=p, source=index.sources[p.source_id]) for p in with_address]
    candidates = candidate_sentences(hits, index)
    assert candidates and not any("http" in c.text for c in candidates)


@pytest.fixture(scope="module")
def printed_names_engine(tmp_path_factory, embedder):
    """An index of one small text that prints a person by initial and a work's title in lower case and capitals."""
    from citewise.core.settings import Settings
    from citewise.ingest.pipeline import Ingestor

    corpus = tmp_path_factory.mktemp("printed_names")
    (corpus / "MANIFEST.tsv").write_text(
        "file\ttitle\tauthor\tyear\nnotes.txt\tNotes on Totems\tEdith Quennell\t1920\n", encoding="utf-8")
    (corpus / "notes.txt").write_text(
        "THE CONTENT OF THE PSYCHOSES\n\n"
        "My short sketch on the Content of the Psychoses first appeared in 1908.\n\n"
        "S. Reinach drew up a code of totemism in twelve articles, which I give here in full.\n\n"
        "The Rev. J. G. Campbell, minister of Tiree, tells of second sight among the islanders.\n",
        encoding="utf-8")
    settings = Settings(index=tmp_path_factory.mktemp("printed_names_index"))
    Ingestor(settings, embedder=embedder, progress=False).run([corpus])
    retriever = IndexRetriever(settings, open_index(settings))
    return build_engine(settings, retriever, retriever.index, name="offline", embedder=embedder)


@pytest.mark.parametrize(("question", "missing"), [
    # A person the text prints with the given name as an initial is not absent ...
    ("How many articles are in Salomon Reinach's code of totemism?", ()),
    # ... but another given name's initial, or a middle initial between them, is someone else.
    ("What did Joseph Campbell write about the hero's journey?", ("Joseph Campbell",)),
    ("What did Theodore Reinach say about totems?", ("Theodore Reinach",)),
    # A title the text names with a lower-case article, or as a heading in capitals, is there.
    ("In The Content of the Psychoses, how many patients had dementia praecox?", ()),
    ("What does The Doors of Perception say about mescaline?", ("The Doors of Perception",)),
])
def test_names_are_missing_only_when_the_text_never_prints_them(printed_names_engine, question, missing):
    assert printed_names_engine.plan(question).missing == missing


@pytest.mark.parametrize(("question", "unknown"), [
    # The given name of a person printed by initial is not an unknown name either ...
    ("How many articles are in Salomon Reinach's code of totemism?", ()),
    # ... unless the initial is another's.
    ("How many articles are in Theodore Reinach's code of totemism?", ("theodore",)),
])
def test_a_given_name_printed_as_an_initial_is_no_unknown_name(printed_names_engine, question, unknown):
    import numpy as np

    strength = printed_names_engine.evidence_strength(question, {}, np.zeros(384, dtype=np.float32))
    assert strength.missing_names == unknown
