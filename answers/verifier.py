"""Checks that a quotation is verbatim in the passage it cites, and says where it really is when it is not."""

from __future__ import annotations

import bisect
import re
import sqlite3
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from citewise.answers.near_miss import NearMiss, best_near_miss
from citewise.answers.normalize import TextFinder, normalize, split_elisions

if TYPE_CHECKING:
    from citewise.core.types import Passage
    from citewise.ingest.store import IndexReader

_FTS_TOKEN = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "if", "of", "in", "on", "at", "to", "for", "from", "by", "with", "as",
    "is", "was", "were", "be", "been", "are", "it", "its", "this", "that", "these", "those", "he", "she", "they",
    "we", "you", "i", "his", "her", "their", "our", "your", "not", "no", "so", "than", "then", "there", "which",
    "who", "whom", "what", "when", "where",
})
_CANDIDATE_PASSAGES = 40
_FINDER_CACHE = 8


class QuoteStatus(StrEnum):
    VERIFIED = "verified"
    FABRICATED = "fabricated"
    ALTERED = "altered"
    MISATTRIBUTED = "misattributed"
    OUTSIDE_RETRIEVED = "outside_retrieved"


@dataclass(frozen=True)
class QuoteMatch:
    status: QuoteStatus
    source_id: str | None  # where the quote really is (for MISATTRIBUTED: the other source)
    passage_id: str | None  # the passage containing the match start (re-pointed if not the cited one)
    start: int | None  # offsets in that source's canonical text, end exclusive, elided parts included
    end: int | None
    detail: str


def locate(quote: str, text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """Finds quote in text[start:end]: exact first; then after normalising Unicode (NFKD), quote marks, dashes
    (‐ – — - and "--"), soft hyphens and white space (hard-wrapped lines; end-of-line hyphenation optional).
    An elision (… or ...) means fragments found in order, each gap at most 400 characters.
    Returns offsets into the original text."""
    return TextFinder(text, start, end).find(quote)


def fts_tokens(text: str) -> list[str]:
    return [token.casefold() for token in _FTS_TOKEN.findall(text)]


def _phrase_query(quote: str, width: int = 6) -> str | None:
    """An FTS5 phrase of the `width` consecutive tokens of the longest fragment that carry the most letters."""
    fragments = split_elisions(normalize(quote).text) or [quote]
    tokens = fts_tokens(max(fragments, key=len))
    if not tokens:
        return None
    width = min(width, len(tokens))
    best = max(range(len(tokens) - width + 1), key=lambda i: sum(len(t) for t in tokens[i : i + width]))
    return '"' + " ".join(tokens[best : best + width]) + '"'


def _rare_words_query(quote: str, count: int, joiner: str) -> str | None:
    words = sorted({t for t in fts_tokens(quote) if t not in _STOPWORDS}, key=len, reverse=True)[:count]
    return joiner.join(f'"{w}"' for w in words) or None


class QuoteVerifier:
    """Verifies quotations against one index; canonical texts are normalised once and kept for reuse."""

    def __init__(self, index: IndexReader) -> None:
        self.index = index
        self._finders: OrderedDict[str, TextFinder] = OrderedDict()
        self._spans: dict[str, tuple[list[int], list[Passage]]] = {}

    def finder(self, source_id: str) -> TextFinder:
        if source_id in self._finders:
            self._finders.move_to_end(source_id)
        else:
            self._finders[source_id] = TextFinder(self.index.source_text(source_id))
            if len(self._finders) > _FINDER_CACHE:
                self._finders.popitem(last=False)
        return self._finders[source_id]

    def _passages(self, source_id: str) -> tuple[list[int], list[Passage]]:
        """A source's passages in text order, with their start offsets for bisection."""
        if source_id not in self._spans:
            passages = sorted(self.index.passages_of(source_id), key=lambda p: p.start)
            self._spans[source_id] = ([p.start for p in passages], passages)
        return self._spans[source_id]

    def passage_at(self, source_id: str, start: int, end: int, prefer: Collection[str] = ()) -> Passage | None:
        """The passage holding offset `start`: one holding the whole span if any, and one in `prefer` if any."""
        starts, passages = self._passages(source_id)
        right = bisect.bisect_right(starts, start)
        holding = [p for p in passages[max(0, right - 8) : right] if p.start <= start < p.end]
        if not holding:
            return None
        return min(holding, key=lambda p: (p.id not in prefer, end > p.end, -p.start))

    def verify(self, quote: str, cited_passage_id: str,
               retrieved_passage_ids: Collection[str] | None = None) -> QuoteMatch:
        if not quote.strip():
            return QuoteMatch(QuoteStatus.FABRICATED, None, None, None, None, "the quotation is empty")
        cited = self.index.passage(cited_passage_id)
        if cited is None:
            return QuoteMatch(QuoteStatus.FABRICATED, None, None, None, None,
                              f"cited passage {cited_passage_id!r} does not exist in the index")
        retrieved = None if retrieved_passage_ids is None else set(retrieved_passage_ids)
        # Most quotes are where they say: normalising the passage and a margin (room for the quote to run past
        # its end, white space folded) costs far less than normalising the whole book, which a miss then does.
        text = self.index.source_text(cited.source_id)
        nearby = TextFinder(text, cited.start, min(len(text), cited.end + 2 * len(quote) + 200))
        first = nearby.find(quote, cited.start)
        if first is None:
            first = self.finder(cited.source_id).find(quote, cited.start)
        if first is not None and first[0] < cited.end:
            return QuoteMatch(QuoteStatus.VERIFIED, cited.source_id, cited.id, first[0], first[1],
                              "verbatim in the cited passage")

        same_source = self._occurrence(cited.source_id, quote, retrieved)
        if same_source is not None:
            passage, span, allowed = same_source
            if allowed:
                return QuoteMatch(QuoteStatus.VERIFIED, cited.source_id, passage.id, span[0], span[1],
                                  f"verbatim in passage {passage.ordinal} of the same source, not the cited one")
            return QuoteMatch(QuoteStatus.OUTSIDE_RETRIEVED, cited.source_id, passage.id, span[0], span[1],
                              f"verbatim in passage {passage.ordinal} of the cited source, which was not retrieved")

        for source_id in self._candidate_sources(quote, exclude=cited.source_id):
            elsewhere = self._occurrence(source_id, quote, retrieved)
            if elsewhere is not None:
                passage, span, _ = elsewhere
                title = self.index.sources[source_id].title
                return QuoteMatch(QuoteStatus.MISATTRIBUTED, source_id, passage.id, span[0], span[1],
                                  f"verbatim in another source, {title!r}, not the cited one")

        near = self._near_miss(quote, cited, retrieved)
        if near is not None:
            source_id, miss = near
            passage = self.passage_at(source_id, miss.start, miss.end, prefer={cited.id, *(retrieved or ())})
            return QuoteMatch(QuoteStatus.ALTERED, source_id, passage.id if passage else None, miss.start, miss.end,
                              miss.detail)
        return QuoteMatch(QuoteStatus.FABRICATED, None, None, None, None,
                          "not found in the cited source, the retrieved passages or any other source")

    def _occurrence(self, source_id: str, quote: str,
                    retrieved: set[str] | None) -> tuple[Passage, tuple[int, int], bool] | None:
        """The first occurrence in a source, preferring one inside a retrieved passage; and whether it is one."""
        fallback: tuple[Passage, tuple[int, int]] | None = None
        for count, span in enumerate(self.finder(source_id).find_all(quote)):
            passage = self.passage_at(source_id, span[0], span[1], prefer=retrieved or ())
            if passage is None:
                continue
            if retrieved is None or passage.id in retrieved:
                return passage, span, True
            fallback = fallback or (passage, span)
            if count >= 50:
                break
        return (*fallback, False) if fallback else None

    def _fts_rowids(self, query: str | None, limit: int) -> list[int]:
        if not query:
            return []
        try:
            rows = self.index.conn.execute(
                "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? ORDER BY rank LIMIT ?", (query, limit)
            ).fetchall()
        except sqlite3.OperationalError:  # a query FTS5 cannot parse finds nothing
            return []
        return [int(row[0]) for row in rows]

    def _candidate_sources(self, quote: str, exclude: str) -> list[str]:
        rowids = self._fts_rowids(_phrase_query(quote), _CANDIDATE_PASSAGES)
        if not rowids:  # e.g. hyphenated at a line end in the source, which splits the phrase
            rowids = self._fts_rowids(_rare_words_query(quote, 4, " AND "), _CANDIDATE_PASSAGES)
        found = self.index.passages_by_rowid(rowids)
        ordered = [found[r].source_id for r in rowids if r in found]
        return [sid for sid in dict.fromkeys(ordered) if sid != exclude]

    def _near_miss(self, quote: str, cited: Passage, retrieved: set[str] | None) -> tuple[str, NearMiss] | None:
        """The closest span to the quote in the cited passage and its neighbours, the retrieved passages,
        and the cited or retrieved sources' passages that share the quote's rarer words."""
        starts, ordered = self._passages(cited.source_id)
        here = bisect.bisect_left(starts, cited.start)
        neighbours = ordered[max(0, here - 1) : here + 2]
        regions = {(cited.source_id, min(p.start for p in neighbours), max(p.end for p in neighbours))}
        passages = [p for p in map(self.index.passage, retrieved or ()) if p is not None]
        allowed_sources = {cited.source_id} | {p.source_id for p in passages}
        rowids = self._fts_rowids(_rare_words_query(quote, 12, " OR "), 20)
        passages += [p for p in self.index.passages_by_rowid(rowids).values() if p.source_id in allowed_sources]
        # A margin on each side catches a quote that runs over a passage boundary.
        margin = len(quote) // 2 + 50
        regions |= {(p.source_id, max(0, p.start - margin), p.end + margin) for p in passages}
        best: tuple[str, NearMiss] | None = None
        for source_id, start, end in sorted(regions):
            miss = best_near_miss(quote, self.finder(source_id).norm, start, end)
            if miss is not None and (best is None or miss.score > best[1].score):
                best = (source_id, miss)
        return best
