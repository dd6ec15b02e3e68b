"""Features of a (claim, evidence) pair for the support scorer: meaning, word, name and number overlap, negation."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from citewise.answers.quotes.normalize import normalize
from citewise.core.sentences import sentence_spans, unwrap
from citewise.core.text import NORMALISED_WORD, STOPWORDS, named_terms, stem

FEATURES = (
    "cos_evidence",  # cosine of claim and the mean of the candidate sentences' vectors
    "cos_best_sentence",  # cosine of claim and its nearest candidate sentence
    "word_coverage",  # share of the claim's content words found in the evidence
    "best_sentence_coverage",  # the same, against the evidence window that covers most of them
    "bigram_coverage",  # share of the claim's word pairs found in the evidence
    "longest_run",  # longest run of claim words found verbatim in the evidence, as a share of the claim
    "name_coverage",  # share of the claim's capitalised words found in the evidence (1 if it has none)
    "number_coverage",  # share of the claim's numbers found in the evidence (1 if it has none)
    "number_missing",  # 1 if the claim has a number the evidence lacks
    "negation_mismatch",  # negation words in the claim vs in its nearest sentence, one side only
    "log_claim_words",
    "log_evidence_words",
)
MAX_SENTENCES = 80
# Only the sentences sharing most words with the claim are embedded: embedding every sentence cost ten times more
# on this CPU and the claim's nearest sentence is almost always among these.
CANDIDATE_SENTENCES = 4

_CITATION_MARK = re.compile(r"\[\d+(?:[,\s]*\d+)*\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATIONS = frozenset({"not", "no", "never", "none", "nor", "neither", "without", "cannot", "nothing", "nobody",
                        "n't", "unlikely", "fail", "fails", "failed", "lack", "lacks"})


def clean_claim(claim: str) -> str:
    """A claim without citation markers like [1] or [2, 3], whose numbers are not the claim's."""
    return _CITATION_MARK.sub(" ", claim)


@lru_cache(maxsize=1 << 12)  # the same passages and quotes come back in every answer that cites them
def words(text: str) -> tuple[str, ...]:
    return tuple(NORMALISED_WORD.findall(normalize(text).text))


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def _negations(word_list: tuple[str, ...] | list[str]) -> int:
    return sum(1 for w in word_list if w.casefold() in _NEGATIONS or w.casefold().endswith("n't"))


@dataclass
class PairText:
    """One pair's texts, prepared once: the candidates are embedded together with every other pair's."""

    claim: str
    evidence: str
    windows: list[str] = field(default_factory=list)  # single sentences and neighbouring pairs, for word overlap
    candidates: list[str] = field(default_factory=list)  # the sentences to embed


def prepare(claim: str, evidence: str) -> PairText:
    claim = unwrap(clean_claim(claim))
    evidence = unwrap(evidence)
    sentences = [evidence[s:e] for s, e in sentence_spans(evidence)][:MAX_SENTENCES] or [evidence]
    # Pairs of neighbouring sentences too: a claim often joins two of them.
    windows = sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:], strict=False)]
    content = {stem(w.casefold()) for w in words(claim) if w.casefold() not in STOPWORDS}
    overlap = [len(content & {stem(w.casefold()) for w in words(s)}) for s in sentences]
    ranked = sorted(range(len(sentences)), key=lambda i: (-overlap[i], i))[:CANDIDATE_SENTENCES]
    return PairText(claim, evidence, windows, [sentences[i] for i in sorted(ranked)])


def _coverage(claim_stems: list[str], evidence_stems: set[str]) -> float:
    return sum(1 for s in claim_stems if s in evidence_stems) / len(claim_stems) if claim_stems else 1.0


def _longest_run(claim_words: list[str], evidence_words: list[str]) -> float:
    if not claim_words:
        return 0.0
    positions: dict[str, list[int]] = {}
    for j, w in enumerate(evidence_words):
        positions.setdefault(w, []).append(j)
    best, previous = 0, {}
    for w in claim_words:
        current = {j: previous.get(j - 1, 0) + 1 for j in positions.get(w, ())}
        best = max(best, max(current.values(), default=0))
        previous = current
    return best / len(claim_words)


def pair_features(pair: PairText, claim_vec: np.ndarray, candidate_vecs: np.ndarray) -> list[float]:
    claim_words = [w.casefold() for w in words(pair.claim)]
    evidence_words = [w.casefold() for w in words(pair.evidence)]
    content = [stem(w) for w in claim_words if w not in STOPWORDS]
    evidence_stems = {stem(w) for w in evidence_words}
    sims = candidate_vecs @ claim_vec
    best = int(np.argmax(sims))
    centroid = candidate_vecs.mean(0)
    centroid /= np.linalg.norm(centroid) or 1.0
    best_sentence_words = words(pair.candidates[best])
    window_coverage = max(
        (_coverage(content, {stem(w.casefold()) for w in words(window)}) for window in pair.windows), default=0.0
    )
    claim_bigrams = list(zip(claim_words, claim_words[1:], strict=False))
    evidence_bigrams = set(zip(evidence_words, evidence_words[1:], strict=False))
    bigram_coverage = (
        sum(1 for b in claim_bigrams if b in evidence_bigrams) / len(claim_bigrams) if claim_bigrams else 0.0
    )
    claim_numbers, evidence_numbers = _numbers(pair.claim), _numbers(pair.evidence)
    claim_names = set(named_terms(pair.claim))
    evidence_lower = pair.evidence.casefold()
    return [
        float(centroid @ claim_vec),
        float(sims[best]),
        _coverage(content, evidence_stems),
        window_coverage,
        bigram_coverage,
        _longest_run(claim_words, evidence_words),
        sum(1 for n in claim_names if n in evidence_lower) / len(claim_names) if claim_names else 1.0,
        len(claim_numbers & evidence_numbers) / len(claim_numbers) if claim_numbers else 1.0,
        1.0 if claim_numbers - evidence_numbers else 0.0,
        1.0 if (_negations(claim_words) > 0) != (_negations(best_sentence_words) > 0) else 0.0,
        math.log1p(len(claim_words)),
        math.log1p(len(evidence_words)),
    ]


def feature_matrix(pairs: list[tuple[str, str]], embed, known: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Features of every pair; `embed` maps a list of texts to L2-normalised vectors (one batched call).
    `known` holds vectors the caller already has, by (unwrapped) text: only the other texts are embedded."""
    prepared = [prepare(claim, evidence) for claim, evidence in pairs]
    texts: dict[str, int] = {}
    for p in prepared:
        for text in (p.claim, *p.candidates):
            texts.setdefault(text, len(texts))
    known = known or {}
    missing = [text for text in texts if text not in known]
    embedded = dict(zip(missing, np.asarray(embed(missing)), strict=True)) if missing else {}
    vectors = np.asarray([known[t] if t in known else embedded[t] for t in texts], dtype=np.float64)
    rows = [pair_features(p, vectors[texts[p.claim]], vectors[[texts[c] for c in p.candidates]]) for p in prepared]
    return np.asarray(rows, dtype=np.float64).reshape(len(prepared), len(FEATURES))
