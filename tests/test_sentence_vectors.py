"""Sentence vectors read off each passage's forward pass at ingest, stored, and used by the offline engine."""

from __future__ import annotations

import numpy as np
import pytest

from citewise.answers.engines import build_engine
from citewise.answers.offline.evidence import candidate_sentences
from citewise.core.sentences import sentence_spans, unwrap, unwrapped_spans
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index
from citewise.store.sqlite_faiss import SqliteIndexReader
from citewise.store.sqlite_faiss.schema import decode_sentence_vectors, encode_sentence_vectors


@pytest.mark.unit
def test_unwrapped_spans_follow_hard_wrapped_text() -> None:
    text = "  The soul\n  is a   thing.  It moves,\n\tsaid James.\n\nA new para-\ngraph here. "
    spans = sentence_spans(text)
    mapped = unwrapped_spans(text, spans)
    flat = unwrap(text)
    assert [flat[s:e] for s, e in mapped] == [unwrap(text[s:e]) for s, e in spans]
    assert unwrapped_spans(text, [(3, 6)]) == [None]  # starts inside a word: no word-for-word image


@pytest.mark.unit
def test_int8_codec_keeps_cosines() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[7] = 0.0  # a sentence the model's window cut off
    decoded = decode_sentence_vectors(encode_sentence_vectors(vectors), 50, 384)
    assert not decoded[7].any()
    kept = [i for i in range(50) if i != 7]
    cosines = (decoded[kept] * vectors[kept]).sum(1) / np.linalg.norm(decoded[kept], axis=1)
    assert cosines.min() > 0.999
    assert decode_sentence_vectors(encode_sentence_vectors(np.zeros((0, 384))), 0, 384).shape == (0, 384)


@pytest.mark.integration
def test_span_vectors_come_from_the_same_forward_pass(embedder) -> None:
    sentence = "Psilocybin produced a lasting sense of meaning in most volunteers. "
    text = sentence * 3 + "Tail " * 400  # far longer than the model's window
    spans = [(0, len(sentence) - 1), (len(sentence) * 3, len(sentence) * 3 + 4), (len(text) - 4, len(text))]
    vectors, pooled = embedder.embed_with_spans([text, sentence], [spans, [(0, len(sentence) - 1)]])
    assert np.allclose(vectors, embedder.embed([text, sentence]), atol=0.03)
    first, past_window = pooled[0][0], pooled[0][2]
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-3)
    assert not past_window.any()  # the window cut it off: the caller must embed it alone
    alone, unrelated = embedder.embed([sentence.strip(), "The stock market fell sharply on Tuesday."])
    # Context moves a pooled sentence vector, but it stays nearer its own sentence than an unrelated one.
    assert float(first @ alone) > float(first @ unrelated) + 0.2
    assert float(pooled[1][0] @ alone) > 0.9


@pytest.mark.integration
def test_every_quotable_sentence_of_the_index_has_a_stored_vector(slice_settings) -> None:
    index = SqliteIndexReader(slice_settings.index)
    rows = index.conn.execute("SELECT id FROM passages ORDER BY rowid LIMIT 60").fetchall()
    passages = [index.passage(row["id"]) for row in rows]
    stored = index.stored_vectors([p.id for p in passages])
    missing = total = 0
    for passage in passages:
        hit = type("HitLike", (), {"passage": passage, "source": index.sources[passage.source_id]})()
        for candidate in candidate_sentences([hit], index):
            total += 1
            missing += unwrap(candidate.text) not in stored[passage.id].sentences
    assert total > 100
    assert missing / total < 0.1  # only sentences past the model's window are left to embed at query time


class CountingEmbedder:
    """The real model, recording what it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.dim, self.signature = inner, inner.dim, inner.signature
        self.texts: list[str] = []

    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts, batch_size)

    def embed_with_spans(self, texts, spans):  # noqa: ANN001, ANN201
        self.texts.extend(texts)
        return self.inner.embed_with_spans(texts, spans)


@pytest.mark.integration
def test_an_offline_answer_embeds_the_question_and_only_the_few_sentences_the_index_holds_no_vector_for(
        slice_settings, embedder) -> None:
    counting = CountingEmbedder(embedder)
    retriever = IndexRetriever(slice_settings, open_index(slice_settings), embedder=counting)
    engine = build_engine(slice_settings, retriever, retriever.index, name="offline", embedder=counting)
    question = "What are the short-term effects of MDMA on the body?"
    answer = engine.answer(question)
    assert not answer.refused and answer.citations
    assert counting.texts[0] == question
    embedded = {unwrap(text) for text in counting.texts[1:]}
    # The sentences without a stored vector: one pointing back, quoted with the one before it, or one past the
    # model's window.
    plan = engine.plan(question)
    unstored: set[str] = set()
    candidates = 0
    for i in range(len(plan.parts)):
        evidence = engine.part_evidence(plan, i)
        candidates += len(evidence.candidates)
        unstored |= {unwrap(c.text) for c in evidence.candidates
                     if unwrap(c.text) not in evidence.stored[c.hit.passage.id].sentences}
    assert embedded == unstored
    assert len(unstored) <= 0.05 * candidates
