"""Citation-faithfulness checks of one answer: quote exactness, attribution, ALCE citation recall/precision,
and evidence hit against gold quotes. Every check is strict: one changed word fails it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from citewise.answers.quotes import QuoteMatch, QuoteStatus, QuoteVerifier, locate
from citewise.core.answer import Answer, Citation
from citewise.core.index import IndexReader
from citewise.core.sentences import unwrap
from citewise.evals.questions_retrieval import GoldSpan
from citewise.evals.statements import Statement, split_statements

# Statuses under which the verifier has found the quote verbatim somewhere (perhaps not where it is cited).
_FOUND = {QuoteStatus.VERIFIED, QuoteStatus.MISATTRIBUTED, QuoteStatus.OUTSIDE_RETRIEVED}


class SupportScorer(Protocol):
    threshold: float

    def score(self, claim: str, evidence: str) -> float: ...

    def supports(self, claim: str, evidence: str) -> bool: ...


@dataclass
class CitationCheck:
    n: int
    quote: str
    status: str  # the verifier's verdict on (quote, cited passage)
    exact: bool  # verified in the cited passage, and the citation's offsets hold the quote
    attributed: bool | None  # author/year/kind/title/file match the source holding the quote; None if no source does
    precise: bool = False  # ALCE: needed by every statement that cites it (and there is at least one)
    source_id: str | None = None  # where the quote actually is
    start: int | None = None
    end: int | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class StatementCheck:
    text: str
    markers: list[int]
    support: float  # the scorer's score for the statement against all its cited passages together
    supported: bool  # ALCE citation recall for this statement


@dataclass
class AnswerScore:
    refused: bool
    citations: list[CitationCheck]
    statements: list[StatementCheck]
    precise_pairs: int = 0  # (statement, citation) pairs judged necessary, for ALCE precision
    total_pairs: int = 0
    evidence_hit: bool | None = None  # None when there is no gold to compare with

    @property
    def quote_exactness(self) -> float | None:
        return ratio(sum(c.exact for c in self.citations), len(self.citations))

    @property
    def attribution(self) -> float | None:
        judged = [c.attributed for c in self.citations if c.attributed is not None]
        return ratio(sum(judged), len(judged))

    @property
    def citation_recall(self) -> float | None:
        return ratio(sum(s.supported for s in self.statements), len(self.statements))

    @property
    def citation_precision(self) -> float | None:
        return ratio(self.precise_pairs, self.total_pairs)


def ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


class FaithfulnessChecker:
    """Scores answers against one index, with the quote verifier and the support scorer."""

    def __init__(self, index: IndexReader, scorer: SupportScorer, verifier: QuoteVerifier | None = None) -> None:
        self.index = index
        self.scorer = scorer
        self.verifier = verifier or QuoteVerifier(index)
        self._scores: dict[tuple[str, str], float] = {}

    def score_answer(self, answer: Answer, gold: list[GoldSpan] | None = None) -> AnswerScore:
        checks = [self.check_citation(c) for c in answer.citations]
        score = AnswerScore(refused=answer.refused, citations=checks, statements=[])
        if gold:
            # A refusal of a question with gold evidence is a miss, not a question left out.
            score.evidence_hit = not answer.refused and any(
                c.exact and c.source_id == g.source_id and c.start < g.end and g.start < c.end
                for c in checks for g in gold
            )
        if not answer.refused:
            self._judge_support(answer, score)
        return score

    def check_citation(self, citation: Citation) -> CitationCheck:
        match: QuoteMatch = self.verifier.verify(citation.quote, citation.passage_id)
        status = QuoteStatus(match.status)
        check = CitationCheck(n=citation.n, quote=citation.quote, status=status.value, exact=False, attributed=None)
        if status in _FOUND and match.source_id is not None:
            check.source_id, check.start, check.end = match.source_id, match.start, match.end
            check.attributed = self._attributed(citation, match.source_id, check.problems)
        if status is not QuoteStatus.VERIFIED:
            check.problems.append(f"{status.value}: {match.detail}")
        elif match.passage_id != citation.passage_id:
            # Without the retrieved set the verifier accepts any passage of the cited source; a reader
            # following the citation must find the quote in the passage named.
            check.problems.append(f"not in the cited passage: {match.detail}")
        else:
            check.exact = self._offsets_hold_quote(citation, match.source_id, check.problems)
        return check

    def _offsets_hold_quote(self, citation: Citation, source_id: str | None, problems: list[str]) -> bool:
        """The citation's offsets must span the quote itself; typographic leeway as in the verifier, and only
        punctuation, quote marks or white space may lie between the offsets and the quote's ends."""
        if source_id is None:
            problems.append("the verifier names no source")
            return False
        text = self.index.source_text(source_id)
        if not 0 <= citation.start < citation.end <= len(text):
            problems.append(f"offsets {citation.start}-{citation.end} lie outside the source")
            return False
        found = locate(citation.quote, text, citation.start, citation.end)
        if found is None or _has_word(text[citation.start:found[0]]) or _has_word(text[found[1]:citation.end]):
            problems.append(f"offsets {citation.start}-{citation.end} do not hold the quote")
            return False
        return True

    def _attributed(self, citation: Citation, source_id: str, problems: list[str]) -> bool:
        source = self.index.sources.get(source_id)
        if source is None:
            problems.append(f"source {source_id} not in the index")
            return False
        cited = citation.source
        wrong = [name for name, said, truth in (
            ("source id", cited.id, source.id), ("file", cited.file, source.file), ("title", cited.title, source.title),
            ("author", cited.author, source.author), ("year", _year(cited.year), _year(source.year)),
            ("kind", cited.kind, source.kind),
        ) if said != truth]
        for name in wrong:
            problems.append(f"{name} does not match the source holding the quote")
        return not wrong

    def _judge_support(self, answer: Answer, score: AnswerScore) -> None:
        """ALCE (Gao et al. 2023): a statement is supported when its cited passages together support it; a
        citation is precise when the statement is supported and the citation supports it alone or cannot be
        removed without losing the support. Citations no statement names count as imprecise. A citation is
        judged by the passage it points to, not by its quote alone."""
        evidence = {c.n: self._evidence(c) for c in answer.citations}
        verdicts: dict[int, list[bool]] = {}
        named: set[int] = set()
        statements = split_statements(answer.answer)
        self._prefetch(statements, evidence)
        for statement in statements:
            cited = [n for n in statement.markers if evidence.get(n)]
            named.update(statement.markers)
            joint = self._support(statement.text, [evidence[n] for n in cited]) if cited else 0.0
            supported = bool(cited) and joint >= self.scorer.threshold
            score.statements.append(StatementCheck(statement.text, list(statement.markers), joint, supported))
            for n in statement.markers:
                necessary = supported and n in cited and (
                    len(cited) == 1
                    or self._support(statement.text, [evidence[n]]) >= self.scorer.threshold
                    or self._support(statement.text, [evidence[m] for m in cited if m != n]) < self.scorer.threshold
                )
                score.total_pairs += 1
                score.precise_pairs += necessary
                verdicts.setdefault(n, []).append(necessary)
        for check in score.citations:
            check.precise = all(verdicts.get(check.n, [False]))
            if check.n not in named:
                score.total_pairs += 1
                check.problems.append("no statement cites it")

    def _evidence(self, citation: Citation) -> str:
        """The cited passage under its source's real heading (author, year, title), as ALCE gives the judge each
        document's title with its text: a statement may name who wrote the quote, and the heading says so."""
        passage = self.index.passage(citation.passage_id)
        if passage is None:
            return ""
        source = self.index.sources[passage.source_id]
        year = f" ({source.year})" if source.year not in (None, "") else ""
        return f"{source.author}{year}. {source.title}.\n{unwrap(passage.text)}"

    def support_scores(self, claims: list[tuple[str, Citation]]) -> list[float]:
        """Scores of claims against the evidence of the citations given with them, as the checker judges it."""
        return self._score_pairs([(claim, self._evidence(citation)) for claim, citation in claims])

    def _prefetch(self, statements: list[Statement], evidence: dict[int, str]) -> None:
        """Scores in one batch every (statement, evidence) pair the ALCE rules may ask for: the model embeds
        a batch far faster than the same texts one call at a time."""
        wanted: list[tuple[str, str]] = []
        for statement in statements:
            cited = [n for n in statement.markers if evidence.get(n)]
            groups = [cited] if len(cited) < 2 else [cited, *([n] for n in cited),
                                                     *([m for m in cited if m != n] for n in cited)]
            for group in groups:
                key = (statement.text, "\n\n".join(evidence[n] for n in group))
                if group and key not in self._scores and key not in wanted:
                    wanted.append(key)
        for key, value in zip(wanted, self._score_pairs(wanted), strict=True):
            self._scores[key] = value

    def _score_pairs(self, pairs: list[tuple[str, str]]) -> list[float]:
        batch = getattr(self.scorer, "scores", None)
        if batch is not None:
            return [float(v) for v in batch(pairs)] if pairs else []
        return [float(self.scorer.score(claim, evidence)) for claim, evidence in pairs]

    def _support(self, claim: str, evidence: list[str]) -> float:
        key = (claim, "\n\n".join(evidence))
        if key not in self._scores:
            self._scores[key] = float(self.scorer.score(*key))
        return self._scores[key]


def _year(value: int | str | None) -> str:
    return "" if value is None else str(value)


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)
