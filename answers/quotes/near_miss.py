"""Near misses: the span of a source that a quotation reproduces except for a few words, and which words differ."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from citewise.answers.quotes.normalize import Normalized, normalize, split_elisions, word_spans

MIN_WORDS = 4
# Share of the quote's words that may differ (at least one) before it stops being a near miss.
MAX_DIFF_SHARE = 0.15
_ANCHORS = 6
_SLACK = 5


@dataclass(frozen=True)
class NearMiss:
    start: int  # original offsets of the aligned source span
    end: int
    score: float  # share of aligned words that are equal
    detail: str


def _quoted(words: list[str]) -> str:
    return '"' + " ".join(words) + '"'


def _describe(ops: list[tuple[str, int, int, int, int]], quote: list[str], source: list[str], elided: bool) -> str:
    parts: list[str] = []
    for tag, i1, i2, j1, j2 in ops:
        if tag == "replace":
            noun = "word" if i2 - i1 == 1 else "words"
            parts.append(f"{noun} {_quoted(quote[i1:i2])} where the source has {_quoted(source[j1:j2])}")
        elif tag == "delete":
            parts.append(f"added {_quoted(quote[i1:i2])}, which the source does not have")
        elif tag == "insert" and not elided:
            parts.append(f"left out {_quoted(source[j1:j2])}")
        elif tag == "equal":
            for q, s in zip(quote[i1:i2], source[j1:j2], strict=True):
                if q != s:
                    parts.append(f'capitalisation: "{q}" where the source has "{s}"')
    if not parts:
        return "the words match but the punctuation differs from the source"
    more = f" (and {len(parts) - 3} more differences)" if len(parts) > 3 else ""
    return "; ".join(parts[:3]) + more


def best_near_miss(quote: str, norm: Normalized, start: int, end: int) -> NearMiss | None:
    """The best near miss of `quote` within original text[start:end] (given as its normalised form), if any."""
    fragments = split_elisions(normalize(quote).text)
    elided = len(fragments) > 1
    quote_words = [w for fragment in fragments for w, _, _ in word_spans(fragment)]
    n = len(quote_words)
    if n < MIN_WORDS:
        return None
    lo, hi = norm.index_at_or_after(start), norm.index_at_or_after(end)
    region = word_spans(norm.text, lo, hi)
    source_words = [w for w, _, _ in region]
    q_keys = [w.casefold() for w in quote_words]
    r_keys = [w.casefold() for w in source_words]
    if not r_keys:
        return None
    blocks = SequenceMatcher(None, q_keys, r_keys, autojunk=False).get_matching_blocks()[:-1]
    allowed = max(1, round(MAX_DIFF_SHARE * n))
    best: NearMiss | None = None
    for block in sorted(blocks, key=lambda b: -b.size)[:_ANCHORS]:
        offset = block.b - block.a
        w_lo, w_hi = max(0, offset - _SLACK), min(len(r_keys), offset + n + _SLACK)
        ops = SequenceMatcher(None, q_keys, r_keys[w_lo:w_hi], autojunk=False).get_opcodes()
        while ops and ops[0][0] == "insert":  # source words before the quote begins
            ops.pop(0)
        while ops and ops[-1][0] == "insert":
            ops.pop()
        if not ops:
            continue
        matched = sum(i2 - i1 for tag, i1, i2, _, _ in ops if tag == "equal")
        left_out = 0 if elided else sum(j2 - j1 for tag, _, _, j1, j2 in ops if tag == "insert")
        if matched < 3 or (n - matched) + left_out > allowed:
            continue
        score = matched / (n + left_out)
        if best is not None and score <= best.score:
            continue
        first_word, last_word = region[w_lo + ops[0][3]], region[w_lo + ops[-1][4] - 1]
        span = norm.span(first_word[1], last_word[2])
        window = source_words[w_lo:w_hi]
        best = NearMiss(span[0], span[1], score, _describe(ops, quote_words, window, elided))
    return best
