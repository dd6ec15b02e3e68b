"""Question terms weighted by their rarity in the index (inverse document frequency)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from citewise.core.index import IndexReader
from citewise.core.text import content_terms, term_stems


class TermStatistics:
    """Inverse document frequency of terms over the index's passages (cached)."""

    def __init__(self, index: IndexReader) -> None:
        self.index = index
        self.passages = max(1, index.passage_count())
        self._counts: dict[str, int] = {}

    def document_count(self, term: str) -> int:
        if term not in self._counts:
            self._counts[term] = self.index.document_frequency(term)
        return self._counts[term]

    def idf(self, term: str) -> float:
        return math.log((self.passages + 1) / (self.document_count(term) + 0.5))

    def rarity(self, term: str) -> float:
        """idf as a share of the idf of a word no passage holds: comparable across indexes of any size."""
        return self.idf(term) / math.log((self.passages + 1) / 0.5)


@dataclass
class QuestionTerms:
    terms: list[str]
    weights: dict[str, float]  # idf per term; a term absent from the corpus gets the largest weight

    @classmethod
    def of(cls, question: str, stats: TermStatistics) -> QuestionTerms:
        terms = content_terms(question)
        return cls(terms, {term: stats.idf(term) for term in terms})

    def coverage(self, stems: set[str]) -> float:
        """Share of the question's idf mass whose terms occur among `stems` (0 when the question has none)."""
        total = sum(self.weights.values())
        if total <= 0:
            return 0.0
        found = sum(w for t, w in self.weights.items() if term_stems(t) <= stems)
        return found / total
