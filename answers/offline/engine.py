"""The offline engine: answers woven from the retrieved sentences themselves, so it cannot invent a quote."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from citewise.answers.offline.answerability import READER_FEATURES, READER_MODEL_PATH, AnswerabilityModel
from citewise.answers.offline.conversation import follow_up_context, refers_to_a_person
from citewise.answers.offline.evidence import (
    SENTENCE_BATCH,
    Candidate,
    candidate_sentences,
    known_vectors,
    read_candidates,
    reading_order,
    retrieve,
    score_candidates,
    select_for_part,
)
from citewise.answers.offline.question import (
    QuestionPart,
    QuestionPlan,
    SourceNames,
    plan_question,
    with_follow_up,
)
from citewise.answers.offline.refusal import confined, part_refusal, question_refusal, refusal
from citewise.answers.offline.spelling import NameSpellings, respelling_note
from citewise.answers.offline.terms import QuestionTerms, TermStatistics
from citewise.answers.output.render import RenderedAnswer, VerifiedQuote, events, nearest_passages, render_answer
from citewise.answers.quotes.verifier import QuoteStatus, QuoteVerifier
from citewise.core.answer import Answer, AnswerEvent, Message, RefusalReason
from citewise.core.index import IndexReader, TermMatch
from citewise.core.retrieval import Hit, Retriever, SearchFilters
from citewise.core.sentences import unwrap
from citewise.core.settings import Settings
from citewise.core.text import named_terms, stems_of, term_stems
from citewise.core.types import StoredVectors
from citewise.ingest.embedder import single_threaded

# Passages whose sentences the answerability gate reads (it was fitted on them) ...
GATE_PASSAGES = 12
# ... and passages whose sentences may be quoted, of which the reader reads the best-scored: wider, for an answer the
# search ranks lower (on the tune half the gold sentence is among the candidates for 0.76 of answerable questions at
# 12 passages, 0.85 at 20; 50 since round 3's ninth session: docs/EVALUATION.md).
QUOTE_PASSAGES = 50
# Passages holding a work's words in a row that are read for its name spelled out.
PHRASE_CHECKS = 20


@dataclass(frozen=True)
class ReaderPolicy:
    """How the reader is used, chosen on the tune half of evals/data/questions-2.jsonl, the development set and the
    questions about two of the works the reader never trained on, with `python -m citewise.evals.reader_tuning`
    (docs/EVALUATION.md, "The reader")."""

    read_at_most: int = 24  # candidates read per part, the best by the engine's score
    logit_weight: float = 0.05  # of the reader's logit, added to a candidate's score to choose the quotes and lead

    def shortlist(self, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates the reader reads: the `read_at_most` best by the engine's score."""
        return sorted(candidates, key=lambda c: -c.score)[:self.read_at_most]

    def directness(self, candidates: list[Candidate]) -> Callable[[Candidate], float]:
        """How directly a part's candidate answers: its score plus `logit_weight` times the reader's logit (one
        the reader did not read counts as the lowest logit it gave the part)."""
        lowest = min((c.reader for c in candidates if c.reader is not None), default=0.0)
        return lambda c: c.score + self.logit_weight * (c.reader if c.reader is not None else lowest)


@dataclass(frozen=True)
class EvidenceStrength:
    """What the refusal gate looks at for one part of a question: how close the best passage comes to it, and
    whether the question names something (a person, a title, a code) that no source mentions at all."""

    best_cosine: float
    missing_names: tuple[str, ...] = ()


@dataclass
class PartEvidence:
    part: QuestionPart
    hits: list[Hit]
    candidates: list[Candidate]  # of every passage retrieved, the nearest passages' first
    nearest: list[Candidate]  # of the GATE_PASSAGES nearest: what the answerability gate reads
    stored: dict[str, StoredVectors]
    strength: EvidenceStrength
    terms: QuestionTerms
    asked: str  # the part as the reader reads it: its words, with what a follow-up leans on
    features: dict[str, float] = field(default_factory=dict)  # what the answerability gate reads


@dataclass
class QuestionEvidence:
    """What the engine reads before it writes: the question's plan, each part's evidence and the parts the gate lets
    through (no evidence when the plan names works the index lacks). The LLM engine shows its model the same."""

    plan: QuestionPlan
    parts: list[PartEvidence]
    answerable: list[PartEvidence]
    reasons: list[RefusalReason | None]  # why each part is not answered (refusal.py); None where it is

    @property
    def hits(self) -> list[Hit]:
        """The first part's passages: what a refusal offers as the nearest."""
        return self.parts[0].hits if self.parts else []


def _without_repeats(hits: list[Hit]) -> list[Hit]:
    unique: dict[str, Hit] = {}
    for hit in hits:
        unique.setdefault(hit.passage.id, hit)
    return list(unique.values())


class OfflineEngine:
    name: Literal["offline"] = "offline"

    def __init__(self, settings: Settings, retriever: Retriever, index: IndexReader, embedder,
                 verifier: QuoteVerifier, scorer, gated: bool = True, reader=None,  # noqa: ANN001
                 policy: ReaderPolicy = ReaderPolicy(), quote_passages: int = QUOTE_PASSAGES) -> None:
        """`gated`: refuse by the fitted answerability gate; without it, on the hard rules alone (what the gate's own
        fitting needs, so that no earlier gate shapes its data). `reader`: the sentence reader, loaded
        when settings.answer.reader asks for it and none is given. `policy` and `quote_passages` are fixed for the
        engine's life, because the reader's gate was fitted for one pair of them (reconfigured() makes another)."""
        self.settings = settings
        self.retriever = retriever
        self.index = index
        self.embedder = embedder
        self.verifier = verifier
        self.scorer = scorer
        self.term_stats = TermStatistics(index)
        self.names = SourceNames(index.sources)
        self.spellings = NameSpellings(index.sources.values(), lambda word: self.term_stats.document_count(word) > 0)
        self._metadata_stems = [stems_of(f"{s.author} {s.title} {' '.join(s.aliases)}")
                                for s in index.sources.values()]
        if reader is None and settings.answer.reader:
            from citewise.answers.reader import load_reader

            reader = load_reader()
        self.reader = reader
        self._policy = policy
        self._quote_passages = quote_passages
        self.gate = self._gate() if gated else None

    @property
    def policy(self) -> ReaderPolicy:
        return self._policy

    @property
    def quote_passages(self) -> int:
        return self._quote_passages

    @property
    def passages_searched(self) -> int:
        """How many passages a search for the question or one of its parts returns: the quote pool, or more when the
        settings ask for more."""
        return max(self.quote_passages, self.settings.retrieval.k)

    def reconfigured(self, *, policy: ReaderPolicy | None = None, quote_passages: int | None = None,
                     gated: bool | None = None, settings: Settings | None = None) -> OfflineEngine:
        """This engine reading with another policy or pool (tuning and mining try several), sharing its index,
        models and caches; the gate is checked against them again, as at construction."""
        other = copy.copy(self)
        other._policy = policy or self._policy
        other._quote_passages = quote_passages or self._quote_passages
        other.settings = settings or self.settings
        keep_gate = self.gate is not None if gated is None else gated
        other.gate = other._gate() if keep_gate else None
        return other

    def gate_fits(self, policy: ReaderPolicy | None = None, quote_passages: int | None = None) -> bool:
        """Whether the shipped gate was fitted for the reader reading as `policy` over `quote_passages` (default this
        engine's): the reader's gate reads features of exactly that many candidates; the gate without it fits all."""
        return self.reader is None or self._fitted_for(AnswerabilityModel.load(READER_MODEL_PATH, READER_FEATURES),
                                                       policy or self.policy, quote_passages or self.quote_passages)

    @staticmethod
    def _fitted_for(gate: AnswerabilityModel, policy: ReaderPolicy, quote_passages: int) -> bool:
        return (gate.reader_reads, gate.quote_passages) == (policy.read_at_most, quote_passages)

    def _gate(self) -> AnswerabilityModel:
        if self.reader is None:
            return AnswerabilityModel.load()
        gate = AnswerabilityModel.load(READER_MODEL_PATH, READER_FEATURES)
        if not self._fitted_for(gate, self.policy, self.quote_passages):
            raise ValueError(f"{READER_MODEL_PATH} was fitted with the reader reading the best {gate.reader_reads} "
                             f"candidates of {gate.quote_passages} passages a part, not {self.policy.read_at_most} of "
                             f"{self.quote_passages}: refit it with python -m citewise.evals.answerability_training "
                             "--reader")
        return gate

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

    def plan(self, question: str, history: list[Message] | None = None, query: str | None = None) -> QuestionPlan:
        # A query given in the question's place is searched as it is: it leans on nothing.
        follow_up = "" if query else follow_up_context(question, history)
        # Read before anything is planned: a misspelt author is then neither absent nor missed by the word search.
        asked, respelt = self.spellings.respell(query or question)
        follow_up, respelt_before = self.spellings.respell(follow_up)
        plan = plan_question(asked, self.names, self._phrase_mentioned, self.term_stats.rarity, follow_up=follow_up)
        return replace(plan, respelt=respelt + tuple(r for r in respelt_before if r not in respelt))

    def gather(self, question: str, history: list[Message] | None = None, query: str | None = None,
               filters: SearchFilters | None = None) -> QuestionEvidence:
        """The plan and each part's evidence, judged by the gate; call it under `single_threaded()`."""
        plan = self.plan(question, history, query)
        if plan.missing:
            return QuestionEvidence(plan, [], [], [])
        personal = refers_to_a_person(question, history)
        # A part alone can lose what the whole question says about it: its candidates include the whole's hits.
        whole = self._whole_hits(plan, filters) if len(plan.parts) > 1 else []
        evidence = [self.part_evidence(plan, i, personal, whole, filters) for i in range(len(plan.parts))]
        reasons = [part_refusal(e, self.gate) for e in evidence]
        answerable = [e for e, reason in zip(evidence, reasons, strict=True) if reason is None]
        return QuestionEvidence(plan, evidence, answerable, reasons)

    def _compose(self, question: str, history: list[Message] | None, note: str | None,
                 query: str | None, filters: SearchFilters | None) -> RenderedAnswer:
        found = self.gather(question, history, query, filters)
        plan = found.plan
        refused = self.refused(question, found, note)
        if refused is not None:
            return refused
        note = respelling_note(plan.respelt, note)
        quotes = self.verified_quotes(self.choose(found.answerable, len(plan.parts)), found.answerable)
        if not quotes:
            return refusal(question, self.name, "no_verified_quote", found.hits, note)
        titles = [part.text if part.heading else None for part in plan.parts]
        return render_answer(question, quotes, self.name, note, nearest_passages(found.hits), part_titles=titles,
                             unanswered=self.unanswered_parts(found))

    @staticmethod
    def unanswered_parts(found: QuestionEvidence) -> list[str]:
        """The parts of the question the gate refused, as asked, for the note after an answer's prose (both
        engines). Only those: a part whose quotes an earlier part took is answered above ("When was Péguy killed,
        and how old was he?": one sentence holds both), and one side of a comparison has no heading of its own."""
        return [part.text for part, reason in zip(found.plan.parts, found.reasons, strict=True)
                if part.heading and reason is not None]

    def refused(self, question: str, found: QuestionEvidence, note: str | None = None,
                engine: str | None = None) -> RenderedAnswer | None:
        """The refusal of a question before anything is quoted (refusal.py says why), or None when some part is
        answered; the LLM engine asks the same, under its own `engine` name."""
        name = engine or self.name
        note = respelling_note(found.plan.respelt, note)
        if found.plan.missing:
            return refusal(question, name, "absent_work_or_author", [], note, missing=found.plan.missing)
        if not found.answerable:
            return refusal(question, name, question_refusal(found.reasons), found.hits, note)
        return None

    def _whole_hits(self, plan: QuestionPlan, filters: SearchFilters | None) -> list[Hit]:
        return retrieve(self.retriever, plan.question, self.passages_searched, plan.named_sources, filters)

    def part_evidence(self, plan: QuestionPlan, index: int, personal: bool = False,
                      whole: list[Hit] | None = None, filters: SearchFilters | None = None) -> PartEvidence:
        """Retrieval, candidate sentences and their scores for one part of the question."""
        part = plan.parts[index]
        # A follow-up asking what "he" said keeps to the works of the person the previous question named.
        sources = part.source_ids or (self.names.named_in(plan.question) if personal else frozenset())
        found = retrieve(self.retriever, part.query, self.passages_searched, sources, filters)
        def kept(more: list[Hit]) -> list[Hit]:  # the whole question's hits, within the works the part keeps to
            return [h for h in more if not sources or h.source.id in sources]

        whole = whole or []
        near = _without_repeats(found[:GATE_PASSAGES] + kept(whole[:GATE_PASSAGES]))
        near_ids = {h.passage.id for h in near}
        wider = found + kept(whole[GATE_PASSAGES:])
        hits = near + _without_repeats([h for h in wider if h.passage.id not in near_ids])
        # Once retrieval keeps to the named works, their author's name would only favour sentences naming them.
        # A follow-up's part is read with what it leans on, as it is searched.
        asked = with_follow_up(part.text, plan.follow_up)
        focus = asked if sources and personal else part.query
        terms = QuestionTerms.of(focus, self.term_stats)
        vector = self._embed_query(part.query)
        stored = self.index.stored_vectors([h.passage.id for h in hits]) if hits else {}
        sentences = candidate_sentences(hits, self.index, index)
        # The nearest passages' sentences are scored on their own, exactly as the gate saw them when it was fitted
        # (which sentences lacking a stored vector get embedded depends on the others scored with them).
        def scored(near: bool) -> list[Candidate]:
            own = [c for c in sentences if (c.hit.passage.id in near_ids) == near]
            return score_candidates(vector, terms, part.answer_type, own, stored, self._embed_sentences)

        nearest, farther = scored(True), scored(False)
        strength = self.evidence_strength(part.query, {i: v for i, v in stored.items() if i in near_ids}, vector)
        evidence = PartEvidence(part, hits, nearest + farther, nearest, stored, strength, terms, asked)
        evidence.features = self.answerability_features(evidence)
        if self.reader is not None and evidence.candidates:
            # The gate with the reader reads how much of the shortlist reads as answering; choose() ranks by them.
            shortlist = self.policy.shortlist(evidence.candidates)
            read_candidates(self.reader, asked, shortlist)
            evidence.features["reader_mean_logit"] = float(np.mean([c.reader for c in shortlist]))
        return evidence

    def answers(self, evidence: PartEvidence) -> bool:
        """Whether the evidence answers its part (decided in refusal.py)."""
        return part_refusal(evidence, self.gate) is None

    def answerability_features(self, evidence: PartEvidence) -> dict[str, float]:
        terms = evidence.terms
        best = max(evidence.nearest, key=lambda c: c.score, default=None)
        total = sum(terms.weights.values())
        unknown = sum(w for t, w in terms.weights.items() if not self._mentioned(t))
        return {
            "best_passage_cosine": evidence.strength.best_cosine,
            "best_sentence_cosine": max((c.cosine for c in evidence.nearest), default=0.0),
            "best_sentence_coverage": best.lexical if best else 0.0,
            "unknown_share": unknown / total if total > 0 else 0.0,
        }

    def _embed_query(self, text: str) -> np.ndarray:
        embed_query = getattr(self.retriever, "embed_query", None)
        return embed_query(text) if embed_query else self.embedder.embed([text])[0]

    def _embed_sentences(self, texts: list[str]) -> np.ndarray:
        # Small batches for the torch variants, which pad a batch to its longest sentence.
        return self.embedder.embed(texts, batch_size=SENTENCE_BATCH)

    def evidence_strength(self, query: str, stored: dict[str, StoredVectors], vector: np.ndarray) -> EvidenceStrength:
        missing = tuple(name for name in named_terms(query)
                        if not (self._mentioned(name) or self._given_name_printed_as_initial(name, query)))
        best = max((float(v.passage @ vector) for v in stored.values()), default=0.0)
        return EvidenceStrength(best, missing)

    def choose(self, evidence: list[PartEvidence], parts: int, quotes: int | None = None) -> list[Candidate]:
        """Quotes for each answerable part, the most direct first; a quote serves the first part that takes it.
        `quotes`: how many for the whole answer [default: answer.max_quotes]. With the reader, a part's quotes and
        its lead are the candidates the engine's score and the reader's logit rate highest (part_evidence had the
        reader read them, for the gate)."""
        quotes = quotes or self.settings.answer.max_quotes
        limit = quotes if parts == 1 else max(2, -(-(quotes + 1) // parts))
        chosen: list[Candidate] = []
        for item in evidence:
            directness = self.policy.directness(item.candidates) if self.reader is not None else None
            chosen += reading_order(select_for_part(item.candidates, limit, chosen, rank=directness), directness)
        return chosen

    def _mentioned(self, name: str) -> bool:
        if self.term_stats.document_count(name) > 0:
            return True
        return any(term_stems(name) <= stems for stems in self._metadata_stems)

    def _phrase_mentioned(self, name: str, is_work: bool = False) -> bool:
        """Whether the corpus's text names `name`: a person when some passage holds every word of the name
        ("Francis Newman" stands in James as "Francis W. Newman"); a work, or a writer named like one ("Dionysius
        the Areopagite", quoted inside Underhill), when some passage spells it out as a name, capitals and all (the
        words of "The Doors of Perception" stand in a row in a lower-case line of Blake's, which names no book)."""
        if not is_work:
            return bool(self.index.lexical_search(name.split(), 1, match="all")) or self._initialled(name)
        words = name.split()
        # Capitals and all, but a leading article may be lower case ("My short sketch on the Content of the
        # Psychoses"), and a heading may print the whole name in capitals.
        article = f"(?i:{re.escape(words[0])})" if words[0].lower() in ("the", "a", "an") else re.escape(words[0])
        spelled = re.compile(r"\s+".join([article, *map(re.escape, words[1:])]) + "|"
                             + r"\s+".join(re.escape(word.upper()) for word in words))
        return self._printed(words, spelled, match="phrase")

    def _printed(self, words: list[str], pattern: re.Pattern[str], match: TermMatch) -> bool:
        """Whether one of the passages the word search finds for `words` (the first PHRASE_CHECKS) prints
        `pattern`: the search finds the words, the pattern checks how they stand."""
        for passage_id, _ in self.index.lexical_search(words, PHRASE_CHECKS, match=match):
            passage = self.index.passage(passage_id)
            if passage is not None and pattern.search(passage.text):
                return True
        return False

    def _given_name_printed_as_initial(self, word: str, query: str) -> bool:
        """Whether `word` is the given name of the capitalised word after it in `query`, a person the text prints
        by initial ("Salomon" of "Salomon Reinach", printed "S. Reinach"): then it is no unknown name."""
        after = re.search(rf"(?i:\b{re.escape(word)})\s+([A-Z][\w'’-]+)", query)
        if after is None:
            return False
        surname = after.group(1).removesuffix("'s").removesuffix("’s")
        return self._initialled(f"{word.title()} {surname}")

    def _initialled(self, name: str) -> bool:
        """Whether some passage prints the person with the given name as an initial: "Salomon Reinach" stands in
        Totem and Taboo only as "S. Reinach". The surname alone is not enough: "Joseph Campbell" is not any
        Campbell."""
        words = name.split()
        if len(words) < 2 or len(words[-1]) < 3:
            return False
        given = words[0]
        # The initial stands right before the surname: "J. G. Campbell" (Frazer's minister) is not "Joseph Campbell".
        printed = re.compile(rf"\b{re.escape(given[0])}\.\s+{re.escape(words[-1])}\b")
        return self._printed([words[-1]], printed, match="all")

    def verified_quotes(self, chosen: list[Candidate], evidence: list[PartEvidence]) -> list[VerifiedQuote]:
        """Every quote goes through the verifier, even though it was cut from the passage itself."""
        retrieved = [h.passage.id for e in evidence for h in e.hits]
        quotes: list[VerifiedQuote] = []
        for candidate in chosen:
            match = self.verifier.verify(candidate.text, candidate.hit.passage.id, retrieved)
            if match.status is not QuoteStatus.VERIFIED:
                continue
            quotes.append(VerifiedQuote(unwrap(candidate.text), candidate.hit.source, candidate.hit.passage,
                                        match.start, match.end, part=candidate.part))
        known: dict[str, np.ndarray] = {}
        for item in evidence:
            known |= known_vectors(item.stored)
            known |= {unwrap(c.text): c.vector for c in item.candidates if c.vector is not None}
        pairs = [(q.quote, unwrap(q.passage.text)) for q in quotes]
        supports = self.scorer.scores(pairs, known_vectors=known) if quotes else []
        for quote, support in zip(quotes, supports, strict=True):
            quote.support = float(support)
        return quotes
