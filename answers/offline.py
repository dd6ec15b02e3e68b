"""The offline engine: answers woven from the retrieved sentences themselves, so it cannot invent a quote."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from citewise.answers.conversation import offline_standalone, refers_to_a_person
from citewise.answers.evidence import (
    Candidate,
    argument_order,
    candidate_sentences,
    known_vectors,
    retrieve,
    score_candidates,
    select_quotes,
)
from citewise.answers.filtered import confined
from citewise.answers.render import RenderedAnswer, VerifiedQuote, events, nearest_passages, refusal, render_answer
from citewise.answers.terms import QuestionTerms, TermStatistics
from citewise.answers.verifier import QuoteStatus, QuoteVerifier
from citewise.core.answer import Answer, AnswerEvent, Message
from citewise.core.index import IndexReader
from citewise.core.retrieval import Hit, Retriever, SearchFilters
from citewise.core.settings import Settings
from citewise.core.text import named_terms, stems_of, term_stems
from citewise.ingest.embedder import single_threaded
from citewise.ingest.sentences import unwrap

RETRIEVAL_K = 12


@dataclass(frozen=True)
class EvidenceStrength:
    """What the refusal gate looks at: how close the best passage comes to the question, and whether the
    question names something (a person, a title, a code) that no source mentions at all."""

    best_cosine: float
    coverage: float  # idf-weighted share of the question's terms found in the retrieved passages
    missing_names: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        # Sources that never mention what the question is about cannot answer it, however close the rest comes.
        return 0.0 if self.missing_names else self.best_cosine


class OfflineEngine:
    name: Literal["offline"] = "offline"

    def __init__(self, settings: Settings, retriever: Retriever, index: IndexReader, embedder,
                 verifier: QuoteVerifier, scorer) -> None:
        self.settings = settings
        self.retriever = retriever
        self.index = index
        self.embedder = embedder
        self.verifier = verifier
        self.scorer = scorer
        self.term_stats = TermStatistics(index)
        self._metadata_stems = [stems_of(f"{s.author} {s.title}") for s in index.sources.values()]

    def answer(self, question: str, history: list[Message] | None = None,
               filters: SearchFilters | None = None) -> Answer:
        return self.compose(question, history, filters=filters).answer

    def stream(self, question: str, history: list[Message] | None = None,
               filters: SearchFilters | None = None) -> Iterator[AnswerEvent]:
        yield from events(self.compose(question, history, filters=filters))

    def compose(self, question: str, history: list[Message] | None = None, note: str | None = None,
                query: str | None = None, filters: SearchFilters | None = None) -> RenderedAnswer:
        """The whole answer from the sources `filters` let through; `query` overrides what is searched for (e.g.
        an LLM's standalone rewrite)."""
        # Intra-op threads only spin against each other on small batches (see single_threaded).
        with single_threaded():
            return confined(self._compose(question, history, note, query, filters), filters, self.index.sources,
                            lambda: self._compose(question, history, note, query, None))

    def _compose(self, question: str, history: list[Message] | None, note: str | None,
                 query: str | None, filters: SearchFilters | None) -> RenderedAnswer:
        query = query or offline_standalone(question, history)
        personal = refers_to_a_person(question, history)
        hits = retrieve(self.retriever, self.index, query, max(RETRIEVAL_K, self.settings.retrieval.k),
                        only_named=personal, filters=filters)
        if not hits:
            return refusal(question, self.name, hits, note)
        # Once retrieval is confined to the person's works, their name would only favour sentences naming them.
        focus = question if personal else query
        terms = QuestionTerms.of(focus, self.term_stats)
        candidates = candidate_sentences(hits, self.index)
        stored = self.index.stored_vectors([h.passage.id for h in hits])
        # The gate judges the standalone form: a bare "what did he say about X?" is far from any passage.
        passage_cosines, candidates = score_candidates(
            focus, terms, hits, candidates, self.embedder, stored, gate_question=query if focus != query else None,
            embed_query=getattr(self.retriever, "embed_query", None))
        strength = self.evidence_strength(query, terms, hits, passage_cosines)
        if strength.score < self.settings.answer.refusal_threshold:
            return refusal(question, self.name, hits, note)
        chosen = argument_order(select_quotes(candidates, self.settings.answer.max_quotes))
        quotes = self._verified(chosen, hits, candidates, known_vectors(stored))
        if not quotes:
            return refusal(question, self.name, hits, note)
        return render_answer(question, quotes, self.name, note, nearest_passages(hits))

    def evidence_strength(self, question: str, terms: QuestionTerms, hits: list[Hit],
                          passage_cosines: dict[str, float]) -> EvidenceStrength:
        stems: set[str] = set()
        for hit in hits:
            stems |= stems_of(f"{hit.passage.text} {hit.source.author} {hit.source.title}")
        missing = tuple(name for name in named_terms(question) if not self._mentioned(name))
        return EvidenceStrength(max(passage_cosines.values(), default=0.0), terms.coverage(stems), missing)

    def _mentioned(self, name: str) -> bool:
        if self.term_stats.document_count(name) > 0:
            return True
        return any(term_stems(name) <= stems for stems in self._metadata_stems)

    def _verified(self, chosen: list[Candidate], hits: list[Hit], embedded: list[Candidate],
                  known: dict[str, np.ndarray]) -> list[VerifiedQuote]:
        """Every quote goes through the verifier, even though it was cut from the passage itself."""
        retrieved = [h.passage.id for h in hits]
        quotes: list[VerifiedQuote] = []
        for candidate in chosen:
            match = self.verifier.verify(candidate.text, candidate.hit.passage.id, retrieved)
            if match.status is not QuoteStatus.VERIFIED:
                continue
            quotes.append(VerifiedQuote(unwrap(candidate.text), candidate.hit.source, candidate.hit.passage,
                                        match.start, match.end))
        known = known | {unwrap(c.text): c.vector for c in embedded if c.vector is not None}
        pairs = [(q.quote, unwrap(q.passage.text)) for q in quotes]
        supports = self.scorer.scores(pairs, known_vectors=known) if quotes else []
        for quote, support in zip(quotes, supports, strict=True):
            quote.support = float(support)
        return quotes
