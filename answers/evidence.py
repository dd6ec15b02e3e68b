"""Evidence for the offline engine: retrieval that knows named authors, candidate sentences, scores, selection."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from citewise.answers.terms import QuestionTerms
from citewise.core.index import IndexReader
from citewise.core.retrieval import Hit, Retriever, SearchFilters
from citewise.core.text import capitalised_runs, stem, stems_of
from citewise.core.types import StoredVectors
from citewise.ingest.sentences import passage_sentences, unwrap

# Lexical evidence matters less than meaning, but it is what separates "about Hillman" from "about James".
LEXICAL_WEIGHT = 0.5
PASSAGE_WEIGHT = 0.25
MIN_WORDS, MAX_WORDS = 6, 110
# At most this many sentences without a stored vector (past the model's window at ingest) are embedded per answer.
SHORTLIST = 24
SENTENCE_BATCH = 8
_WEB_ADDRESS = re.compile(r"https?://|www\.", re.IGNORECASE)


def named_authors(question: str, index: IndexReader) -> frozenset[str]:
    """Sources whose author the question names by surname: the last word of a run of capitalised words
    ("William James", "Freud's", "Thomas De Quincey"), matched against the last word of the source's author."""
    surnames = {stem(run.split()[-1]) for run in capitalised_runs(question)}
    found = set()
    for source in index.sources.values():
        author = re.sub(r"\s*\([^)]*\)", "", source.author.split(";")[0]).split()
        if author and author[-1][0].isupper() and stem(author[-1]) in surnames:
            found.add(source.id)
    return frozenset(found)


def retrieve(retriever: Retriever, index: IndexReader, query: str, k: int, only_named: bool = False,
             filters: SearchFilters | None = None) -> list[Hit]:
    """The query's hits within the reader's `filters`; with `only_named` (a follow-up asking what "he" said),
    only from the works of the authors the query names, when it names any. (Mixing such works into every search
    that names an author measured no better on the dev questions: 17 vs 18 of 43 gold hits.)"""
    filters = filters or SearchFilters()
    authored = named_authors(query, index) if only_named else frozenset()
    if authored:
        own = retriever.search(query, k=k, filters=filters.restricted_to(authored))
        if own:
            return own
    return retriever.search(query, k=k, filters=None if filters.is_empty() else filters)


@dataclass
class Candidate:
    """One sentence of a retrieved passage, located in the canonical text, with its scores."""

    hit: Hit
    start: int
    end: int
    text: str  # canonical text[start:end], verbatim
    cosine: float = 0.0
    passage_cosine: float = 0.0
    lexical: float = 0.0
    score: float = 0.0
    vector: np.ndarray | None = field(default=None, repr=False)

    @property
    def source_id(self) -> str:
        return self.hit.source.id


def candidate_sentences(hits: list[Hit], index: IndexReader) -> list[Candidate]:
    """Whole sentences inside the retrieved passages; a sentence shared by overlapping passages appears once."""
    seen: set[tuple[str, int, int]] = set()
    found: list[Candidate] = []
    for hit in hits:
        passage = hit.passage
        text = index.source_text(passage.source_id)
        for start, end in passage_sentences(text, passage.start, passage.end):
            if (passage.source_id, start, end) in seen:
                continue
            sentence = text[start:end]
            count = len(sentence.split())
            # A heading, a sentence that only announces a list, or a line carrying a web address (an article's
            # "Source: https://..." header, a reference) says nothing when quoted alone.
            if (count < MIN_WORDS or count > MAX_WORDS or sentence.startswith("#") or sentence.endswith(":")
                    or _WEB_ADDRESS.search(sentence)):
                continue
            seen.add((passage.source_id, start, end))
            found.append(Candidate(hit, start, end, sentence))
    return found


def known_vectors(stored: dict[str, StoredVectors]) -> dict[str, np.ndarray]:
    """Every stored sentence vector of these passages by unwrapped text, for the support scorer."""
    return {text: vector for vectors in stored.values() for text, vector in vectors.sentences.items()}


def score_candidates(question: str, terms: QuestionTerms, hits: list[Hit], candidates: list[Candidate],
                     embedder, stored: dict[str, StoredVectors], gate_question: str | None = None,
                     embed_query=None, shortlist: int | None = None) -> tuple[dict[str, float], list[Candidate]]:
    """Scores the candidates and returns the scored ones, with the passages' cosines to `gate_question`
    (default: `question`) by passage id, for the refusal gate. `stored`: the hits' vectors from the index.
    `embed_query` (e.g. the retriever's cached query embedding) embeds the question(s) when given."""
    queries = [question] + ([gate_question] if gate_question else [])
    query_vectors = [embed_query(q) for q in queries] if embed_query else list(embedder.embed(queries))
    question_vector, gate_vector = query_vectors[0], query_vectors[-1]
    passage_cosines = {pid: float(v.passage @ question_vector) for pid, v in stored.items()}
    meta_stems = {h.source.id: stems_of(f"{h.source.author} {h.source.title}") for h in hits}
    unstored: list[Candidate] = []
    for candidate in candidates:
        candidate.passage_cosine = passage_cosines.get(candidate.hit.passage.id, 0.0)
        candidate.lexical = terms.coverage(stems_of(candidate.text) | meta_stems[candidate.source_id])
        vectors = stored.get(candidate.hit.passage.id)
        candidate.vector = vectors.sentences.get(unwrap(candidate.text)) if vectors else None
        if candidate.vector is None:
            unstored.append(candidate)
    # A sentence the index holds no vector for (one cut off by the model's window) is embedded now, at ~10 ms
    # each: the cheap parts of the score pick which of them are worth it.
    unstored.sort(key=lambda c: -(PASSAGE_WEIGHT * c.passage_cosine + LEXICAL_WEIGHT * c.lexical))
    embedded = unstored[: shortlist or SHORTLIST]
    if embedded:
        # Small batches for the torch variants, which pad a batch to its longest sentence (6 to 110 words);
        # onnx-int8 runs each sentence alone whatever the batch size.
        fresh = embedder.embed([unwrap(c.text) for c in embedded], batch_size=SENTENCE_BATCH)
        for candidate, vector in zip(embedded, fresh, strict=True):
            candidate.vector = vector
    scored = [c for c in candidates if c.vector is not None]
    for candidate in scored:
        candidate.cosine = float(candidate.vector @ question_vector)
        candidate.score = (candidate.cosine + PASSAGE_WEIGHT * candidate.passage_cosine
                           + LEXICAL_WEIGHT * candidate.lexical)
    gate = {pid: float(v.passage @ gate_vector) for pid, v in stored.items()} if gate_question else passage_cosines
    return gate, scored


def select_quotes(candidates: list[Candidate], limit: int, relative_floor: float = 0.25,
                  duplicate_cosine: float = 0.9, new_source_bonus: float = 0.05) -> list[Candidate]:
    """Greedy pick: best score first, skipping near-duplicates and weak tails, nudging towards a second source."""
    if not candidates:
        return []
    ranked = sorted(candidates, key=lambda c: c.score, reverse=True)
    floor = ranked[0].score - relative_floor
    chosen: list[Candidate] = []
    pool = [c for c in ranked if c.score >= floor]
    while pool and len(chosen) < limit:
        sources = {c.source_id for c in chosen}
        best = max(pool, key=lambda c: c.score + (new_source_bonus if chosen and c.source_id not in sources else 0))
        pool.remove(best)
        if any(_near_duplicate(best, c, duplicate_cosine) for c in chosen):
            continue
        chosen.append(best)
    return chosen


def _near_duplicate(a: Candidate, b: Candidate, threshold: float) -> bool:
    if a.source_id == b.source_id and a.start < b.end and b.start < a.end:
        return True
    return a.vector is not None and b.vector is not None and float(a.vector @ b.vector) >= threshold


def argument_order(chosen: list[Candidate]) -> list[Candidate]:
    """Sources in order of their strongest sentence; within a source that sentence first, then the author's order."""
    best: dict[str, Candidate] = {}
    for c in chosen:
        if c.source_id not in best or c.score > best[c.source_id].score:
            best[c.source_id] = c
    sources = sorted(best, key=lambda sid: -best[sid].score)
    return [c for sid in sources
            for c in sorted((c for c in chosen if c.source_id == sid), key=lambda c: (c is not best[sid], c.start))]
