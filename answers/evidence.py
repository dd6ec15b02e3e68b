"""Evidence for the offline engine: retrieval that knows named authors, candidate sentences, scores, selection."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from answers.terms import QuestionTerms, stem, stems_of
from ingest.sentences import sentence_spans, unwrap
from ingest.store import IndexReader
from retrieval.types import Hit, Retriever, SearchFilters

# Lexical evidence matters less than meaning, but it is what separates "about Hillman" from "about James".
LEXICAL_WEIGHT = 0.5
PASSAGE_WEIGHT = 0.25
MIN_WORDS, MAX_WORDS = 6, 110
SHORTLIST = 24
SENTENCE_BATCH = 8
# Overlapping passages look at text just outside their span so a sentence cut by the passage edge is dropped.
_WINDOW = 600
_CAPITALISED_RUN = re.compile(r"[A-Z][\w'’\-]*(?:\s+[A-Z][\w'’\-]*)*")


def named_authors(question: str, index: IndexReader) -> frozenset[str]:
    """Sources whose author the question names by surname: the last word of a run of capitalised words
    ("William James", "Freud's", "Thomas De Quincey"), matched against the last word of the source's author."""
    surnames = {stem(run.split()[-1]) for run in _CAPITALISED_RUN.findall(question)}
    found = set()
    for source in index.sources.values():
        author = re.sub(r"\s*\([^)]*\)", "", source.author.split(";")[0]).split()
        if author and author[-1][0].isupper() and stem(author[-1]) in surnames:
            found.add(source.id)
    return frozenset(found)


def retrieve(retriever: Retriever, index: IndexReader, query: str, k: int, only_named: bool = False) -> list[Hit]:
    """The query's hits; with `only_named` (a follow-up asking what "he" said), only from the works of the
    authors the query names, when it names any. (Mixing such works into every search that names an author
    measured no better on the dev questions: 17 vs 18 of 43 gold hits.)"""
    authored = named_authors(query, index) if only_named else frozenset()
    if authored:
        own = retriever.search(query, k=k, filters=SearchFilters(source_ids=authored))
        if own:
            return own
    return retriever.search(query, k=k)


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
        window = (max(0, passage.start - _WINDOW), min(len(text), passage.end + _WINDOW))
        for start, end in sentence_spans(text, *window):
            if start < passage.start or end > passage.end or (passage.source_id, start, end) in seen:
                continue
            sentence = text[start:end]
            count = len(sentence.split())
            # A heading, or a sentence that only announces a list, says nothing when quoted alone.
            if count < MIN_WORDS or count > MAX_WORDS or sentence.startswith("#") or sentence.endswith(":"):
                continue
            seen.add((passage.source_id, start, end))
            found.append(Candidate(hit, start, end, sentence))
    return found


def passage_vectors(index: IndexReader, passage_ids: list[str]) -> dict[str, np.ndarray]:
    """The vectors stored at ingest: re-embedding the passages would cost more than all the sentences."""
    marks = ",".join("?" * len(passage_ids))
    rows = index.conn.execute(f"SELECT id, embedding FROM passages WHERE id IN ({marks})", passage_ids).fetchall()
    return {row["id"]: np.frombuffer(row["embedding"], dtype=np.float32) for row in rows}


def score_candidates(question: str, terms: QuestionTerms, hits: list[Hit], candidates: list[Candidate],
                     embedder, index: IndexReader, gate_question: str | None = None,
                     embed_query=None, shortlist: int | None = None) -> tuple[dict[str, float], list[Candidate]]:
    """Fills the scores of the `shortlist` candidates with the best lexical and passage evidence and returns
    them, with the passages' cosines to `gate_question` (default: `question`) by passage id, for the refusal gate.
    `embed_query` (e.g. the retriever's cached query embedding) embeds the question(s) when given."""
    stored = passage_vectors(index, [h.passage.id for h in hits]) if hits else {}
    queries = [question] + ([gate_question] if gate_question else [])
    query_vectors = [embed_query(q) for q in queries] if embed_query else list(embedder.embed(queries))
    question_vector, gate_vector = query_vectors[0], query_vectors[-1]
    passage_cosines = {pid: float(v @ question_vector) for pid, v in stored.items()}
    meta_stems = {h.source.id: stems_of(f"{h.source.author} {h.source.title}") for h in hits}
    for candidate in candidates:
        candidate.passage_cosine = passage_cosines.get(candidate.hit.passage.id, 0.0)
        candidate.lexical = terms.coverage(stems_of(candidate.text) | meta_stems[candidate.source_id])
    # Embedding a sentence costs ~10 ms on this CPU; the cheap parts of the score pick which ones are worth it.
    # The sentence cosine would have to beat the rest by more than these parts differ, which it rarely does.
    ranked = sorted(candidates, key=lambda c: -(PASSAGE_WEIGHT * c.passage_cosine + LEXICAL_WEIGHT * c.lexical))
    kept = ranked[: shortlist or SHORTLIST]
    # Small batches: a batch is padded to its longest sentence, and these run from 6 to 110 words.
    sentence_vectors = embedder.embed([unwrap(c.text) for c in kept], batch_size=SENTENCE_BATCH) if kept else []
    for candidate, vector in zip(kept, sentence_vectors, strict=True):
        candidate.vector = vector
        candidate.cosine = float(vector @ question_vector)
        candidate.score = (candidate.cosine + PASSAGE_WEIGHT * candidate.passage_cosine
                           + LEXICAL_WEIGHT * candidate.lexical)
    gate = {pid: float(v @ gate_vector) for pid, v in stored.items()} if gate_question else passage_cosines
    return gate, kept


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
