"""Checks each quotation of an outside answer against the file it names: verbatim there or not, where, and if not,
the nearest passage and what differs (the verifier's near-miss wording); then every other claim the answer makes
(offsets, cited passage, title, author, year) and, when it gives its prose, whether its quotations support it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from citewise.answers.quotes import NEAR_MISS_MIN_WORDS, best_near_miss, normalize_with_offsets, word_spans
from citewise.core.sentences import sentence_spans, unwrap
from citewise.core.text import STOPWORDS, TOKEN
from citewise.evals.faithfulness import SupportScorer
from citewise.evals.quotes.format import OutsideAnswer, OutsideQuote
from citewise.evals.quotes.texts import SourceText, SourceTexts
from citewise.evals.statements import split_statements

# Statuses, worst last. Only "verbatim" with no other problem passes.
VERBATIM, NOT_WHERE_CLAIMED, ALTERED, MISATTRIBUTED, NOT_FOUND, NO_FILE = (
    "verbatim", "not where claimed", "altered", "misattributed", "not found", "no such file")
_REGIONS = 4  # windows of a file sharing the most of a quotation's words, searched for a near miss
_CONTEXT = 300  # characters either side of a quotation read as its evidence when no passage is cited


@dataclass
class QuoteVerdict:
    n: int
    file: str
    quote: str
    status: str
    start: int | None = None  # where the quotation is (verbatim), or the nearest span (altered)
    end: int | None = None
    line: int | None = None
    page: int | None = None
    source_reads: str | None = None  # the file's own wording of the nearest span, when not verbatim
    detail: str = ""  # where it is, or what differs
    problems: list[str] = field(default_factory=list)  # every fault found; none for a quotation that passes
    wrong_details: list[str] = field(default_factory=list)  # title, author or year unlike the file's (in problems)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class StatementVerdict:
    text: str
    markers: list[int]
    support: float | None
    supported: bool
    problem: str = ""


@dataclass
class AnswerVerdict:
    id: str
    question: str | None
    quotes: list[QuoteVerdict]
    statements: list[StatementVerdict] | None = None  # None when the answer gives no prose


class QuoteChecker:
    def __init__(self, texts: SourceTexts, scorer: SupportScorer | None = None) -> None:
        self.texts = texts
        self.scorer = scorer  # judges the prose's statements; without one they are not judged

    def check(self, answer: OutsideAnswer) -> AnswerVerdict:
        verdicts = [self.check_quote(quote) for quote in answer.quotes]
        statements = None
        if answer.answer is not None and self.scorer is not None:
            evidence = {v.n: self._evidence(q, v) for q, v in zip(answer.quotes, verdicts, strict=True)}
            statements = self._judge(answer.answer, evidence)
        return AnswerVerdict(answer.id, answer.question, verdicts, statements)

    def check_quote(self, quote: OutsideQuote) -> QuoteVerdict:
        assert quote.n is not None  # numbered when the answer was read
        verdict = QuoteVerdict(quote.n, quote.file, quote.quote, VERBATIM)
        source = self.texts.get(quote.file)
        if isinstance(source, str):
            verdict.status, verdict.detail = NO_FILE, source
            other = self.texts.elsewhere(quote.quote, exclude="")
            if other is not None:
                verdict.detail += f"; the quotation is verbatim in {other.file}"
            verdict.problems.append(verdict.detail)
            return verdict
        found = source.finder.find(quote.quote)
        if found is None:
            self._not_verbatim(quote, source, verdict)
        else:
            self._place(quote, source, found, verdict)
        verdict.wrong_details = _attribution_problems(quote, source)
        verdict.problems += verdict.wrong_details
        return verdict

    def _place(self, quote: OutsideQuote, source: SourceText, found: tuple[int, int], verdict: QuoteVerdict) -> None:
        """The quotation is in the file: is it where the answer says?"""
        where = found
        if quote.start is not None and quote.end is not None:
            held = _held_by_offsets(quote.quote, source, quote.start, quote.end)
            if held is None:
                verdict.problems.append(f"offsets {quote.start}-{quote.end} do not hold the quote; it is at "
                                        f"{_where(source, *found)}")
            else:
                where = held
        if quote.passage is not None:
            start, end = quote.passage.start, quote.passage.end
            # As the verifier reads a citation: the quotation begins inside the passage, and may run past its end.
            inside = source.finder.find(quote.quote, start, min(len(source.text), end + 2 * len(quote.quote) + 200))
            if inside is None or inside[0] >= end:
                verdict.problems.append(f"not in the cited passage ({start}-{end}); it is at {_where(source, *found)}")
            elif quote.start is None:
                where = inside
        verdict.status = NOT_WHERE_CLAIMED if verdict.problems else VERBATIM
        _locate(verdict, source, *where)
        verdict.detail = f"verbatim at {_where(source, *where)}"

    def _not_verbatim(self, quote: OutsideQuote, source: SourceText, verdict: QuoteVerdict) -> None:
        other = self.texts.elsewhere(quote.quote, exclude=source.file)
        near = nearest(quote.quote, source)
        if other is not None:
            verdict.status, verdict.detail = MISATTRIBUTED, f"not in it; verbatim in another source, {other.file}"
        elif near is not None and near[2]:
            verdict.status, verdict.detail = ALTERED, near[2]
            _locate(verdict, source, near[0], near[1])
            verdict.source_reads = unwrap(source.text[near[0]:near[1]])
        else:
            verdict.status, verdict.detail = NOT_FOUND, "nothing in the file comes close"
            if near is not None:
                part = unwrap(source.text[near[0]:near[1]])
                verdict.detail += f"; {near[3]}, at {_where(source, near[0], near[1])}: \"{part}\""
        verdict.problems.append(verdict.detail)

    def _evidence(self, quote: OutsideQuote, verdict: QuoteVerdict) -> str:
        """What a statement citing this quotation may lean on: the cited passage (or the quotation's neighbourhood)
        under its source's author, year and title, as the eval's ALCE judge reads a citation. A quotation that is
        not verbatim where claimed supports nothing."""
        source = self.texts.get(quote.file)
        if isinstance(source, str) or verdict.status != VERBATIM or verdict.start is None or verdict.end is None:
            return ""
        if quote.passage is not None:
            start, end = quote.passage.start, quote.passage.end
        else:
            spans = sentence_spans(source.text, max(0, verdict.start - _CONTEXT),
                                   min(len(source.text), verdict.end + _CONTEXT))
            near = [s for s in spans if s[1] > verdict.start - _CONTEXT and s[0] < verdict.end + _CONTEXT]
            start, end = (near[0][0], near[-1][1]) if near else (verdict.start, verdict.end)
        year = f" ({source.year})" if source.year not in (None, "") else ""
        return f"{source.author}{year}. {source.title}.\n{unwrap(source.text[start:end])}"

    def _judge(self, prose: str, evidence: dict[int, str]) -> list[StatementVerdict]:
        """ALCE citation recall per statement: its cited quotations' evidence together supports it."""
        assert self.scorer is not None
        statements = split_statements(prose)
        pairs = [(s.text, "\n\n".join(evidence[n] for n in s.markers if evidence.get(n))) for s in statements]
        wanted = [pair for pair in pairs if pair[1]]
        batch = getattr(self.scorer, "scores", None)
        scores = iter([float(v) for v in batch(wanted)] if batch is not None and wanted else
                      [float(self.scorer.score(*pair)) for pair in wanted])
        verdicts = []
        for statement, (_, joined) in zip(statements, pairs, strict=True):
            markers = list(statement.markers)
            unknown = [n for n in markers if n not in evidence]
            score = next(scores) if joined else None
            supported = score is not None and score >= self.scorer.threshold and not unknown
            if not markers:
                problem = "cites no quotation"
            elif unknown:
                problem = f"cites {', '.join(f'[{n}]' for n in unknown)}, which the answer does not give"
            elif score is None:
                problem = "cites only quotations that are not verbatim where claimed"
            elif not supported:
                problem = f"not supported by its quotations (support {score:.2f} < {self.scorer.threshold:.2f})"
            else:
                problem = ""
            verdicts.append(StatementVerdict(statement.text, markers, score, supported, problem))
        return verdicts


def nearest(quote: str, source: SourceText) -> tuple[int, int, str, str] | None:
    """(start, end, near-miss wording, "") for the closest span when it differs in a few words; else (start, end,
    "", how much of it is there) for its longest verbatim run; None when nothing of it is in the file."""
    regions = _regions(quote, source)
    norm = source.finder.norm
    best = None
    for start, end in regions:
        miss = best_near_miss(quote, norm, start, end)
        if miss is not None and (best is None or miss.score > best.score):
            best = miss
    if best is not None:
        return best.start, best.end, best.detail, ""
    quote_words = [w.casefold() for w, _, _ in word_spans(normalize_with_offsets(quote).text)]
    longest: tuple[int, int, int] | None = None  # (words, start, end)
    for start, end in regions:
        lo, hi = norm.index_at_or_after(start), norm.index_at_or_after(end)
        region = word_spans(norm.text, lo, hi)
        match = SequenceMatcher(None, quote_words, [w.casefold() for w, _, _ in region],
                                autojunk=False).find_longest_match()
        if match.size >= min(NEAR_MISS_MIN_WORDS, len(quote_words)) and (longest is None or match.size > longest[0]):
            span = norm.span(region[match.b][1], region[match.b + match.size - 1][2])
            longest = (match.size, *span)
    if longest is None:
        return None
    size, start, end = longest
    return start, end, "", f"its longest part found there is {size} of its {len(quote_words)} words"


def _regions(quote: str, source: SourceText) -> list[tuple[int, int]]:
    """Stretches of the file holding the most distinct words of the quotation (its stop words aside)."""
    wanted = {t.casefold() for t in TOKEN.findall(quote)} - STOPWORDS
    if not wanted:
        wanted = {t.casefold() for t in TOKEN.findall(quote)}
    width = max(2000, 3 * len(quote))
    step = width // 2
    buckets: dict[int, set[str]] = {}
    for match in TOKEN.finditer(source.text):
        word = match.group().casefold()
        if word in wanted:
            buckets.setdefault(match.start() // step, set()).add(word)
    # A window is two neighbouring buckets, so a quotation across a bucket edge is seen whole.
    windows = Counter({b: len(buckets[b] | buckets.get(b + 1, set())) for b in buckets})
    margin = len(quote) // 2 + 50
    return sorted((max(0, b * step - margin), min(len(source.text), b * step + width + margin))
                  for b, _ in windows.most_common(_REGIONS))


def _held_by_offsets(quote: str, source: SourceText, start: int, end: int) -> tuple[int, int] | None:
    """The quotation's span when the offsets span it (only punctuation, quote marks or space outside it), as the
    eval reads a citewise citation's offsets."""
    if not 0 <= start < end <= len(source.text):
        return None
    found = source.finder.find(quote, start, end)
    if found is None or _has_word(source.text[start:found[0]]) or _has_word(source.text[found[1]:end]):
        return None
    return found


def _attribution_problems(quote: OutsideQuote, source: SourceText) -> list[str]:
    problems = []
    for name, said, truth in (("title", quote.title, source.title), ("author", quote.author, source.author),
                              ("year", quote.year, source.year)):
        if said is not None and _plain(said) != _plain(truth):
            problems.append(f'{name} "{said}" where the file has "{truth or "(none)"}"')
    return problems


def _plain(value: object) -> str:
    return " ".join(str(value if value is not None else "").split()).casefold()


def _locate(verdict: QuoteVerdict, source: SourceText, start: int, end: int) -> None:
    verdict.start, verdict.end = start, end
    verdict.line, verdict.page = source.line_of(start), source.page_of(start)


def _where(source: SourceText, start: int, end: int) -> str:
    page = source.page_of(start)
    return f"{start}-{end} (line {source.line_of(start)}{f', page {page}' if page is not None else ''})"


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)

