"""Checks that a quotation is verbatim in the passage it cites, and says where it really is when it is not."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from citewise.answers.quotes.near_miss import NearMiss, best_near_miss
from citewise.answers.quotes.normalize import TextFinder, normalize, split_elisions
from citewise.core.index import IndexReader, TermMatch
from citewise.core.text import STOPWORDS, tokens
from citewise.core.types import Passage

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


def _phrase_words(quote: str, width: int = 6) -> list[str]:
    """The `width` consecutive tokens of the quote's longest fragment that carry the most letters."""
    fragments = split_elisions(normalize(quote).text) or [quote]
    found = tokens(max(fragments, key=len))
    if not found:
        return []
    width = min(width, len(found))
    best = max(range(len(found) - width + 1), key=lambda i: sum(len(t) for t in found[i : i + width]))
    return found[best : best + width]


def _rare_words(quote: str, count: int) -> list[str]:
    """The quote's `count` longest content words: the rarest, roughly, and so the best to find it by."""
    return sorted({t for t in tokens(quote) if t not in STOPWORDS}, key=len, reverse=True)[:count]


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

    def _passages_with(self, terms: list[str], limit: int, match: TermMatch) -> list[Passage]:
        found = self.index.lexical_search(terms, limit, match=match) if terms else []
        passages = self.index.passages([pid for pid, _ in found])
        return [passages[pid] for pid, _ in found if pid in passages]

    def _candidate_sources(self, quote: str, exclude: str) -> list[str]:
        found = self._passages_with(_phrase_words(quote), _CANDIDATE_PASSAGES, "phrase")
        if not found:  # e.g. hyphenated at a line end in the source, which splits the phrase
            found = self._passages_with(_rare_words(quote, 4), _CANDIDATE_PASSAGES, "all")
        return [sid for sid in dict.fromkeys(p.source_id for p in found) if sid != exclude]

    def _near_miss(self, quote: str, cited: Passage, retrieved: set[str] | None) -> tuple[str, NearMiss] | None:
        """The closest span to the quote in the cited passage and its neighbours, the retrieved passages,
        and the cited or retrieved sources' passages that share the quote's rarer words."""
        starts, ordered = self._passages(cited.source_id)
        here = bisect.bisect_left(starts, cited.start)
        neighbours = ordered[max(0, here - 1) : here + 2]
        regions = {(cited.source_id, min(p.start for p in neighbours), max(p.end for p in neighbours))}
        passages = [p for p in map(self.index.passage, retrieved or ()) if p is not None]
        allowed_sources = {cited.source_id} | {p.source_id for p in passages}
        passages += [p for p in self._passages_with(_rare_words(quote, 12), 20, "any")
                     if p.source_id in allowed_sources]
        # A margin on each side catches a quote that runs over a passage boundary.
        margin = len(quote) // 2 + 50
        regions |= {(p.source_id, max(0, p.start - margin), p.end + margin) for p in passages}
        best: tuple[str, NearMiss] | None = None
        for source_id, start, end in sorted(regions):
            miss = best_near_miss(quote, self.finder(source_id).norm, start, end)
            if miss is not None and (best is None or miss.score > best[1].score):
                best = (source_id, miss)
        return best
