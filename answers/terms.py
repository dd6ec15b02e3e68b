"""Question terms: content words, names, crude stems, and their rarity in the index (idf from FTS5)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from citewise.ingest.store import IndexReader

_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_STOPWORD_TEXT = """
a about above according after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each either else ever every few for
from further get gets got had has have having he her here hers him his how however i if in into is it its
itself just let like made make makes many may me might more most much must my no nor not now of off on once
one only or other our out over own per please quite rather really said same say says see seem seems shall
she should show so some such tell than that the their them then there these they this those though through
thus to too under until up upon us very was way we well were what when where whether which while who whom
whose why will with within would yes yet you your according describe described explain give given kind kinds
mean means meant think thought thinks regard regarded call called use used according word words something
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


# Stems and stem sets are pure functions of their text, and every answer asks for those of the same words and
# passages over and over: caching them took the offline answer's lexical scoring from ~15 ms to ~2 ms.
@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A crude suffix stripper: enough to match "marks"/"mark" or "defined"/"define" without a library."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    for suffix in ("ings", "ing", "edly", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def content_terms(text: str) -> list[str]:
    """The question's content words, lower-cased, in order, without repeats or stop words."""
    seen: dict[str, None] = {}
    for word in words(text):
        lowered = word.lower().replace("’", "'")
        if lowered.endswith("'s"):
            lowered = lowered[:-2]
        if (len(lowered) < 3 and not lowered.isdigit()) or lowered in _STOPWORDS:
            continue
        seen.setdefault(lowered, None)
    return list(seen)


def named_terms(text: str) -> list[str]:
    """Words the question capitalises mid-sentence or writes with digits (names, titles, codes), lower-cased."""
    named: dict[str, None] = {}
    for match in _WORD.finditer(text):
        word = match.group(0)
        before = text[: match.start()].rstrip(" \t\"'“‘(")
        opens_sentence = not before or before[-1] in ".!?:"
        if (word[0].isupper() and not opens_sentence) or (any(ch.isdigit() for ch in word) and
                                                           any(ch.isalpha() for ch in word)):
            lowered = word.lower().replace("’", "'").removesuffix("'s")
            if lowered not in _STOPWORDS:
                named.setdefault(lowered, None)
    return list(named)


@lru_cache(maxsize=1 << 12)
def stems_of(text: str) -> frozenset[str]:
    stems: set[str] = set()
    for word in words(text):
        for part in re.split(r"['’\-]", word):
            stems.add(stem(part))
        stems.add(stem(word))
    return frozenset(stems)


def term_stems(term: str) -> set[str]:
    """A hyphenated term counts as present when all its parts are (FTS splits it the same way)."""
    return {stem(part) for part in re.split(r"['’\-]", term) if part}


class TermStatistics:
    """Inverse document frequency of terms over the index's passages, from the FTS5 table (cached)."""

    def __init__(self, index: IndexReader) -> None:
        self.index = index
        self.passages = max(1, index.passage_count())
        self._counts: dict[str, int] = {}

    def document_count(self, term: str) -> int:
        if term not in self._counts:
            phrase = '"' + term.replace('"', " ") + '"'
            try:
                row = self.index.conn.execute(
                    "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?", (phrase,)).fetchone()
                self._counts[term] = int(row[0])
            except Exception:  # an FTS syntax corner case: treat the term as unseen rather than fail the answer
                self._counts[term] = 0
        return self._counts[term]

    def idf(self, term: str) -> float:
        return math.log((self.passages + 1) / (self.document_count(term) + 0.5))


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
