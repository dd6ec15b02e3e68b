"""The index contract's tests (citewise.core.index): every backend's test module subclasses IndexContractTests and
provides a `make_store` fixture returning a function that opens a new, empty store; the tests themselves are not
changed for a backend. Vectors are small hand-made ones, so no model is needed. A second backend also subclasses
SameAnswersTests: on a real corpus and the real model, it must answer as the embedded index does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from citewise.core.answer import Answer
from citewise.core.errors import CitewiseError, IndexMissingError
from citewise.core.index import IndexStore, NewPassage, NewSource
from citewise.core.types import Passage, PassageVectors, Source, content_hash
from citewise.library import Library

DIM = 8
StoreFactory = Callable[[], IndexStore]


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def make_source(file: str, text: str, *, title: str = "A title", author: str = "An Author",
                year: int | str | None = 1900) -> Source:
    return Source(id=content_hash(file, text), file=file, title=title, author=author, year=year, licence="PD",
                  origin="test", file_sha256=content_hash(text), chars=len(text), kind="book",
                  aliases=("The Short Title", "Another"))


def passages_of_text(source: Source, text: str, vectors: list[np.ndarray]) -> list[NewPassage]:
    """One passage per paragraph of `text`, each with the given vector and one sentence vector per sentence."""
    new: list[NewPassage] = []
    start = 0
    for ordinal, (paragraph, vector) in enumerate(zip(text.split("\n\n"), vectors, strict=True)):
        begin = text.index(paragraph, start)
        end = begin + len(paragraph)
        start = end
        sentences = [(0, len(paragraph))]
        passage = Passage(id=content_hash(source.id, str(begin), str(end)), source_id=source.id, ordinal=ordinal,
                          start=begin, end=end, text=paragraph, tokens=len(paragraph.split()), page=ordinal + 1,
                          heading=f"Part {ordinal + 1}")
        vectors_of = PassageVectors(vector, tuple(sentences), np.stack([vector]))
        new.append(NewPassage(passage, paragraph, content_hash("test-embedder", paragraph), vectors_of))
    return new


OPIUM = ("Opium was taken as laudanum, dissolved in spirits.\n\n"
         "The druggist sold the tincture on a rainy Sunday in London.")
MYSTIC = ("Mystical states are ineffable and noetic.\n\n"
          "Transiency and passivity mark the mystical states of consciousness.")
RITES = "The Eleusinian rites took place in Boedromion, and the initiates fasted before the kykeon."
# Words two lexical analyses once split differently: contractions, a hyphen, Markdown's underscores.
WORDS = ("Why can't the drinker simply stop by willpower? He can't, and he don't know why.\n\n"
         "The self-will of the man can be the trouble.\n\n"
         "_History_. The histories of the drug can't begin before 1912.")
# Chinese is written without spaces between words; the second paragraph also writes an English word against it.
BUDDHISM = "佛教认为人生是苦，修行可以带来解脱。\n\n禅宗强调顿悟，MDMA不是修行的方法。"


def write(store: IndexStore, documents: list[tuple[str, str, list[np.ndarray]]], *, rebuild: bool = False,
          remove: tuple[str, ...] = (), meta: dict[str, str] | None = None) -> dict[str, Source]:
    """One writing session: adds the (file, text, vectors) documents, removes the named files, publishes."""
    added: dict[str, Source] = {}
    with store.writing(rebuild=rebuild) as writer:
        current = writer.sources_by_file()
        for file in remove:
            writer.remove_source(current[file].id)
        for file, text, vectors in documents:
            source = make_source(file, text)
            writer.add_source(NewSource(source, text, [(0, len(text), 1)], [(0, "Opening")]))
            writer.add_passages(passages_of_text(source, text, vectors))
            added[file] = source
        writer.set_meta({"dim": str(DIM), "embedder": "test-embedder", **(meta or {})})
        writer.publish()
    return added


class IndexContractTests:
    """What every index backend must do. Subclasses provide the `make_store` fixture."""

    @pytest.fixture
    def make_store(self) -> StoreFactory:
        raise NotImplementedError("a backend's test module provides make_store")

    @pytest.fixture
    def corpus(self, make_store: StoreFactory) -> tuple[IndexStore, dict[str, Source]]:
        store = make_store()
        sources = write(store, [
            ("opium.txt", OPIUM, [unit(1, 0, 0), unit(0.9, 0.1, 0)]),
            ("mystic.txt", MYSTIC, [unit(0, 1, 0), unit(0, 0.95, 0.05)]),
            ("rites.txt", RITES, [unit(0, 0, 1)]),
        ])
        return store, sources

    def test_an_empty_store_has_nothing_published(self, make_store: StoreFactory) -> None:
        store = make_store()
        assert store.current_token() is None
        assert store.current_meta() is None
        with pytest.raises(IndexMissingError):
            store.reader()

    def test_sources_texts_and_passages_read_back(self, corpus) -> None:
        store, sources = corpus
        reader = store.reader()
        assert set(reader.sources) == {s.id for s in sources.values()}
        opium = reader.sources[sources["opium.txt"].id]
        assert (opium.file, opium.title, opium.author, opium.year, opium.passages, opium.kind, opium.aliases) == (
            "opium.txt", "A title", "An Author", 1900, 2, "book", ("The Short Title", "Another"))
        assert reader.source_text(opium.id) == OPIUM
        assert reader.source_pages(opium.id) == [(0, len(OPIUM), 1)]
        assert reader.source_headings(opium.id) == [(0, "Opening")]
        passages = reader.passages_of(opium.id)
        assert [p.ordinal for p in passages] == [0, 1]
        for passage in passages:
            assert OPIUM[passage.start:passage.end] == passage.text
            assert reader.passage(passage.id) == passage
        assert (passages[1].page, passages[1].heading) == (2, "Part 2")
        assert reader.passages([p.id for p in passages] + ["no-such-id"]) == {p.id: p for p in passages}
        assert reader.passage("no-such-id") is None
        assert reader.passage_count() == 5
        assert reader.meta["embedder"] == "test-embedder"
        with pytest.raises(KeyError):
            reader.source_text("no-such-source")

    def test_dense_search_ranks_by_cosine_and_filters_by_source(self, corpus) -> None:
        store, sources = corpus
        reader = store.reader()
        found = reader.dense_search(unit(1, 0.05, 0), 3)
        first = reader.passage(found[0][0])
        assert first is not None and first.source_id == sources["opium.txt"].id and first.ordinal == 0
        assert found[0][1] == pytest.approx(float(unit(1, 0, 0) @ unit(1, 0.05, 0)), abs=1e-4)
        assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)
        assert len(reader.dense_search(unit(1, 0, 0), 2)) == 2
        only = reader.dense_search(unit(1, 0, 0), 5, source_ids=[sources["rites.txt"].id])
        assert [reader.passage(pid).source_id for pid, _ in only] == [sources["rites.txt"].id]
        assert reader.dense_search(unit(1, 0, 0), 5, source_ids=[]) == []

    def test_lexical_search_any_all_and_phrase(self, corpus) -> None:
        store, sources = corpus
        reader = store.reader()
        any_found = reader.lexical_search(["laudanum", "kykeon"], 10)
        assert {reader.passage(pid).source_id for pid, _ in any_found} == {
            sources["opium.txt"].id, sources["rites.txt"].id}
        assert all(score > 0 for _, score in any_found)
        assert reader.lexical_search(["laudanum", "kykeon"], 10, match="all") == []
        both = reader.lexical_search(["initiates", "kykeon"], 10, match="all")
        assert [reader.passage(pid).source_id for pid, _ in both] == [sources["rites.txt"].id]
        phrase = reader.lexical_search(["mystical", "states", "of", "consciousness"], 10, match="phrase")
        assert len(phrase) == 1 and reader.passage(phrase[0][0]).ordinal == 1
        assert reader.lexical_search(["consciousness", "states", "mystical"], 10, match="phrase") == []
        only = reader.lexical_search(["laudanum", "kykeon"], 10, source_ids=[sources["rites.txt"].id])
        assert [reader.passage(pid).source_id for pid, _ in only] == [sources["rites.txt"].id]

    def test_lexical_search_ranks_the_more_relevant_passage_first(self, corpus) -> None:
        store, _ = corpus
        reader = store.reader()
        found = reader.lexical_search(["mystical", "states", "transiency"], 10)
        assert reader.passage(found[0][0]).text.startswith("Transiency")
        assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)

    def test_lexical_search_finds_words_of_scripts_written_without_spaces(self, make_store: StoreFactory) -> None:
        store = make_store()
        sources = write(store, [("buddhism.txt", BUDDHISM, [unit(1, 0, 0), unit(0, 1, 0)]),
                                ("opium.txt", OPIUM, [unit(0, 0, 1), unit(0, 0.9, 0.1)])])
        reader = store.reader()

        def found(*terms: str, match="any") -> list[tuple[str, int]]:
            hits = reader.lexical_search(list(terms), 10, match=match)
            return [(reader.sources[reader.passage(pid).source_id].file, reader.passage(pid).ordinal)
                    for pid, _ in hits]

        assert found("解脱") == [("buddhism.txt", 0)]
        assert found("顿悟") == [("buddhism.txt", 1)]
        assert sorted(found("修行")) == [("buddhism.txt", 0), ("buddhism.txt", 1)]
        assert found("mdma") == [("buddhism.txt", 1)]
        assert found("涅槃") == []  # a word the text does not hold
        assert found("人苦") == []  # both characters occur, but not as this word
        assert found("禅宗", "顿悟", match="all") == [("buddhism.txt", 1)]
        assert found("修行可以带来解脱", match="phrase") == [("buddhism.txt", 0)]
        assert reader.document_frequency("修行") == 2
        assert found("laudanum") == [("opium.txt", 0)]  # English as before
        assert sources["buddhism.txt"].id in reader.sources

    def test_every_backend_counts_and_finds_the_same_words(self, make_store: StoreFactory) -> None:
        """One analysis of words (core/lexemes.py): no stop words dropped, apostrophes, hyphens and underscores
        split, Porter stems. PostgreSQL's `english` configuration once dropped "can" and "t", so "can't" had no
        document frequency there, and it read "_History_." as one odd word."""
        store = make_store()
        write(store, [("words.txt", WORDS, [unit(1, 0, 0), unit(0, 1, 0), unit(0, 0, 1)])])
        reader = store.reader()

        def found(*terms: str, match="any") -> list[int]:
            return sorted(reader.passage(pid).ordinal for pid, _ in reader.lexical_search(list(terms), 10, match=match))

        assert reader.document_frequency("can't") == 2
        assert reader.document_frequency("don't") == 1
        assert reader.document_frequency("can") == 3 and reader.document_frequency("the") == 3
        assert found("can't", match="phrase") == [0, 2]
        assert found("history") == found("histories") == [2]  # "_History_." is the word history
        assert found("willpower", "stop", match="all") == [0]
        assert reader.document_frequency("self-will") == 1 and found("self", "will", match="phrase") == [1]

    @pytest.mark.parametrize("terms", [
        ['"unbalanced'], ["NEAR(a", "b)"], ["col:umn", "^start", "*"], ["OR", "AND", "NOT"], ["()"], [""], [],
        ["a'b\"c"], ["ünïcödé", "—"],
    ])
    def test_lexical_search_takes_words_never_syntax(self, corpus, terms: list[str]) -> None:
        store, _ = corpus
        for match in ("any", "all", "phrase"):
            assert isinstance(store.reader().lexical_search(terms, 5, match=match), list)

    def test_document_frequency_counts_passages(self, corpus) -> None:
        store, _ = corpus
        reader = store.reader()
        assert reader.document_frequency("mystical") == 2
        assert reader.document_frequency("laudanum") == 1
        assert reader.document_frequency("sourdough") == 0
        assert reader.document_frequency("rainy-sunday") == 1  # a hyphenated term: its parts in a row

    def test_vectors_read_back_in_the_order_asked(self, corpus) -> None:
        store, sources = corpus
        reader = store.reader()
        rites = reader.passages_of(sources["rites.txt"].id)[0]
        opium = reader.passages_of(sources["opium.txt"].id)[0]
        vectors = reader.passage_vectors([rites.id, opium.id])
        assert vectors.shape == (2, DIM)
        np.testing.assert_allclose(vectors[0], unit(0, 0, 1), atol=1e-6)
        np.testing.assert_allclose(vectors[1], unit(1, 0, 0), atol=1e-6)
        stored = reader.stored_vectors([opium.id, "no-such-id"])
        assert set(stored) == {opium.id}
        np.testing.assert_allclose(stored[opium.id].passage, unit(1, 0, 0), atol=1e-6)
        (sentence_vector,) = stored[opium.id].sentences.values()
        assert float(sentence_vector @ unit(1, 0, 0)) > 0.99  # sentence vectors may be stored quantised
        assert list(stored[opium.id].sentences) == [opium.text]

    def test_a_new_session_starts_from_the_published_state(self, corpus) -> None:
        store, sources = corpus
        before = store.current_token()
        write(store, [("more.txt", "A fourth text about sourdough bread and its hydration.", [unit(0, 0, 0, 1)])],
              remove=("opium.txt",))
        assert store.current_token() != before
        reader = store.reader()
        files = {s.file for s in reader.sources.values()}
        assert files == {"mystic.txt", "rites.txt", "more.txt"}
        assert reader.passage_count() == 4
        assert reader.lexical_search(["laudanum"], 5) == []
        assert all(reader.passage(pid).source_id != sources["opium.txt"].id
                   for pid, _ in reader.dense_search(unit(1, 0, 0), 10))
        assert reader.lexical_search(["sourdough"], 5)

    def test_rebuild_starts_empty(self, corpus) -> None:
        store, _ = corpus
        write(store, [("only.txt", RITES, [unit(0, 0, 1)])], rebuild=True)
        reader = store.reader()
        assert [s.file for s in reader.sources.values()] == ["only.txt"]
        assert reader.passage_count() == 1

    def test_vectors_are_reused_by_text_hash(self, corpus) -> None:
        store, _ = corpus
        paragraph = RITES
        with store.writing() as writer:
            cached = writer.cached_vectors([content_hash("test-embedder", paragraph), "unknown-hash"])
            assert set(cached) == {content_hash("test-embedder", paragraph)}
            np.testing.assert_allclose(cached[content_hash("test-embedder", paragraph)].vector, unit(0, 0, 1),
                                       atol=1e-6)

    def test_unpublished_changes_are_never_seen(self, corpus) -> None:
        store, sources = corpus
        token = store.current_token()
        with pytest.raises(RuntimeError), store.writing() as writer:
            writer.remove_source(sources["opium.txt"].id)
            raise RuntimeError("the ingest died before publishing")
        assert store.current_token() == token
        assert sources["opium.txt"].id in store.reader().sources
        with store.writing() as writer:  # left without publish(): abandoned
            writer.remove_source(sources["opium.txt"].id)
        assert sources["opium.txt"].id in store.reader().sources

    def test_a_reader_keeps_its_state_while_a_new_one_is_published(self, corpus) -> None:
        store, sources = corpus
        reader = store.reader()
        token = reader.token
        write(store, [], remove=("opium.txt",))
        assert store.current_token() != token
        assert reader.token == token
        assert sources["opium.txt"].id in reader.sources
        assert reader.source_text(sources["opium.txt"].id) == OPIUM
        assert reader.lexical_search(["laudanum"], 5)
        assert sources["opium.txt"].id not in store.reader().sources

    def test_one_writer_at_a_time(self, corpus) -> None:
        store, _ = corpus
        with store.writing(), pytest.raises(CitewiseError, match="another ingest"), store.writing():
            pass

    def test_meta_is_kept_across_sessions(self, corpus) -> None:
        store, _ = corpus
        write(store, [], meta={"chunker": "sentences/200"})
        write(store, [])
        assert store.current_meta()["chunker"] == "sentences/200"
        assert store.reader().meta["chunker"] == "sentences/200"
        assert store.location


REPO = Path(__file__).resolve().parent.parent
# Two questions that once were answered from the embedded index and refused from PostgreSQL, or cited otherwise.
ONCE_DIFFERENT = ("Why can't an alcoholic simply stop drinking by willpower?", "What is the history of MDMA?")


def development_questions() -> list[str]:
    lines = (REPO / "evals" / "data" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()] + list(ONCE_DIFFERENT)


def outcome(answer: Answer) -> tuple[bool, str | None, list[tuple[str, int, int]]]:
    """What must not depend on the backend: whether (and why) it refused, and every quotation's place."""
    return answer.refused, answer.refusal_reason, [(c.source.file, c.start, c.end) for c in answer.citations]


class SameAnswersTests:
    """A backend answers the development questions (evals/data/questions.jsonl) of the slice corpus exactly as the
    embedded index does: the same refusals, for the same reasons, and the same quotations at the same offsets.
    Subclasses provide `backend_library`: a Library on their backend holding the slice corpus (tests/conftest.py)."""

    @pytest.fixture
    def backend_library(self) -> Library:
        raise NotImplementedError("a backend's test module provides backend_library")

    def test_the_development_questions_get_the_same_answers(self, backend_library: Library, slice_settings,
                                                            embedder) -> None:
        reference = Library(slice_settings, embedder=embedder)
        differ: dict[str, tuple[object, object]] = {}
        answered = 0
        for question in development_questions():
            ours, theirs = outcome(backend_library.ask(question)), outcome(reference.ask(question))
            answered += not theirs[0]
            if ours != theirs:
                differ[question] = (ours, theirs)
        reference.close()
        # (This module is not rewritten by pytest: the messages say what differed.)
        assert differ == {}, f"{len(differ)} answered otherwise:\n" + "\n".join(
            f"{question}\n  this backend: {ours}\n  embedded:     {theirs}"
            for question, (ours, theirs) in differ.items())
        assert answered >= 5, f"the slice answers {answered}: the comparison must not be of refusals only"
