"""Mutation test of the eval harness: correct answers built from the index are corrupted one way at a time,
and each corruption must lower the metric meant to catch it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from citewise.core.answer import Answer, Citation, SourceRef
from citewise.core.index import IndexReader
from citewise.core.sentences import sentence_spans, unwrap
from citewise.core.types import Passage, Source
from citewise.evals.faithfulness import AnswerScore, FaithfulnessChecker

INVENTED_QUOTE = "Every careful reader agrees that the ancient rites were, at bottom, a festival of wine and song."
_METRICS = ("quote_exactness", "attribution", "citation_recall", "citation_precision")


@dataclass(frozen=True)
class Mutation:
    name: str
    quote_level: bool  # a corrupted citation (must always be caught), not a corrupted sentence
    expected: str  # the metric meant to catch it
    apply: Callable[[Answer, Answer], Answer]  # (answer, a different correct answer) -> corrupted answer


@dataclass
class SelftestCase:
    base: int
    mutation: str
    quote_level: bool
    expected: str
    flagged_by: list[str]
    detected: bool


@dataclass
class SelftestResult:
    controls_clean: bool  # every uncorrupted answer scored 1.0 on every metric
    control_problems: list[str]
    cases: list[SelftestCase]

    @property
    def detection_rate(self) -> float:
        return sum(c.detected for c in self.cases) / len(self.cases) if self.cases else 0.0

    @property
    def quote_level_detection_rate(self) -> float:
        quote = [c for c in self.cases if c.quote_level]
        return sum(c.detected for c in quote) / len(quote) if quote else 0.0

    @property
    def passed(self) -> bool:
        return self.controls_clean and bool(self.cases) and all(c.detected for c in self.cases if c.quote_level)


# --- building correct answers ---------------------------------------------------------------------------------

def _ref(source: Source) -> SourceRef:
    return SourceRef(id=source.id, title=source.title, author=source.author, year=source.year, file=source.file,
                     kind=source.kind)


def _statement(quote: str, n: int) -> str:
    # Names stay out of the sentence: their full stops ("U.S.", "et al.") would split it.
    return f'One source reads: "{quote}" [{n}]'


def _candidate_quotes(index: IndexReader, passage: Passage) -> list[tuple[int, int]]:
    text = index.source_text(passage.source_id)
    spans = []
    for start, end in sentence_spans(text, passage.start, passage.end):
        words = text[start:end].split()
        if 8 <= len(words) <= 40 and not re.search(r"[\"“”\[\]]", text[start:end]) and text[end - 1] in ".!?":
            spans.append((start, end))
    return spans


def correct_citation(checker: FaithfulnessChecker, source: Source, n: int) -> Citation | None:
    """A quoted sentence from the middle of `source` whose statement its passage supports."""
    passages = checker.index.passages_of(source.id)
    middle = len(passages) // 2
    order = sorted(range(len(passages)), key=lambda i: abs(i - middle))[:40]
    text = checker.index.source_text(source.id)
    for i in order:
        passage = passages[i]
        spans = _candidate_quotes(checker.index, passage)
        citations = [Citation(n=n, quote=unwrap(text[start:end]), passage_id=passage.id, start=start, end=end,
                              page=passage.page, support=1.0, source=_ref(source)) for start, end in spans]
        scores = checker.support_scores([(_statement(c.quote, n).replace(f" [{n}]", "."), c) for c in citations])
        for citation, score in zip(citations, scores, strict=True):
            if score >= checker.scorer.threshold:
                return citation
    return None


def correct_answers(checker: FaithfulnessChecker, count: int = 3) -> list[Answer]:
    """Answers of two citations from two different sources, each quote verbatim and correctly attributed."""
    sources = sorted(checker.index.sources.values(), key=lambda s: s.file)
    chosen: list[tuple[Source, Citation]] = []
    for source in sources:
        citation = correct_citation(checker, source, 1)
        if citation:
            chosen.append((source, citation))
        if len(chosen) >= count + 1:
            break
    answers = []
    for (_, c1), (_, c2) in zip(chosen, chosen[1:], strict=False):
        c2 = c2.model_copy(update={"n": 2})
        text = f"{_statement(c1.quote, 1)}. {_statement(c2.quote, 2)}.\n\n**Sources cited**\n"
        answers.append(Answer(question="selftest", answer=text, refused=False, engine="offline", citations=[c1, c2]))
    return answers[:count]


# --- corruptions ----------------------------------------------------------------------------------------------

def _with_first(answer: Answer, text: str | None = None, **update: object) -> Answer:
    first = answer.citations[0].model_copy(update=update)
    if "quote" in update:
        text = (text or answer.answer).replace(answer.citations[0].quote, str(update["quote"]), 1)
    return answer.model_copy(update={"citations": [first, *answer.citations[1:]], "answer": text or answer.answer})


def _change_word(quote: str) -> str:
    words = quote.split(" ")
    i = max(range(len(words)), key=lambda j: (len(words[j].strip(".,;:!?")), -j))
    core = words[i].strip(".,;:!?")
    words[i] = words[i].replace(core, "never" if core.lower() != "never" else "always", 1)
    return " ".join(words)


def _drop_word(quote: str) -> str:
    words = quote.split(" ")
    return " ".join(words[: len(words) // 2] + words[len(words) // 2 + 1:])


def _splice(quote: str, other: str) -> str:
    a, b = quote.split(" "), other.split(" ")
    return " ".join(a[: len(a) // 2] + b[len(b) // 2:])


def _other_value(mine: object, theirs: object, fallback: str) -> object:
    return theirs if theirs != mine else fallback


def _drop_citation(answer: Answer, _: Answer) -> Answer:
    """The first statement loses its marker and its citation: a sentence left without support."""
    text = answer.answer.replace(" [1]", "", 1)
    return answer.model_copy(update={"answer": text, "citations": answer.citations[1:]})


def _repoint_marker(answer: Answer, _: Answer) -> Answer:
    """The first statement names the second citation, whose passage (another source) does not support it."""
    return answer.model_copy(update={"answer": answer.answer.replace(" [1]", " [2]", 1)})


def _neighbour_passage(index: IndexReader, citation: Citation) -> str:
    passages = index.passages_of(citation.source.id)
    outside = [p for p in passages if p.end <= citation.start or p.start >= citation.end]
    return min(outside, key=lambda p: abs(p.start - citation.start)).id


def mutations(index: IndexReader) -> list[Mutation]:
    def author(a: Answer, o: Answer) -> Answer:
        ref = a.citations[0].source
        return _with_first(a, source=ref.model_copy(update={
            "author": _other_value(ref.author, o.citations[1].source.author, ref.author + " Jr.")}))

    def year(a: Answer, o: Answer) -> Answer:
        ref = a.citations[0].source
        bumped = ref.year + 1 if isinstance(ref.year, int) else f"{ref.year}a"
        return _with_first(a, source=ref.model_copy(update={"year": bumped}))

    def title(a: Answer, o: Answer) -> Answer:
        ref = a.citations[0].source
        return _with_first(a, source=ref.model_copy(update={
            "title": _other_value(ref.title, o.citations[1].source.title, ref.title + " (abridged)")}))

    c = "quote_exactness"
    return [
        Mutation("changed_word", True, c, lambda a, o: _with_first(a, quote=_change_word(a.citations[0].quote))),
        Mutation("dropped_word", True, c, lambda a, o: _with_first(a, quote=_drop_word(a.citations[0].quote))),
        Mutation("spliced_sources", True, c,
                 lambda a, o: _with_first(a, quote=_splice(a.citations[0].quote, a.citations[1].quote))),
        Mutation("invented_quote", True, c, lambda a, o: _with_first(a, quote=INVENTED_QUOTE)),
        Mutation("wrong_passage_other_source", True, c,
                 lambda a, o: _with_first(a, passage_id=a.citations[1].passage_id)),
        Mutation("wrong_passage_same_source", True, c,
                 lambda a, o: _with_first(a, passage_id=_neighbour_passage(index, a.citations[0]))),
        Mutation("shifted_offsets", True, c, lambda a, o: _with_first(
            a, start=a.citations[0].start + 7, end=a.citations[0].end + 7)),
        Mutation("swapped_author", True, "attribution", author),
        Mutation("swapped_year", True, "attribution", year),
        Mutation("swapped_title", True, "attribution", title),
        Mutation("dropped_citation", False, "citation_recall", _drop_citation),
        Mutation("marker_to_wrong_citation", False, "citation_recall", _repoint_marker),
    ]


# --- running --------------------------------------------------------------------------------------------------

def _values(score: AnswerScore) -> dict[str, float | None]:
    return {name: getattr(score, name) for name in _METRICS}


def run_selftest(checker: FaithfulnessChecker, base_count: int = 3) -> SelftestResult:
    answers = correct_answers(checker, base_count)
    problems: list[str] = []
    if not answers:
        problems.append("could not build a correct answer from this index (it needs two sources)")
    cases: list[SelftestCase] = []
    for b, answer in enumerate(answers):
        control = _values(checker.score_answer(answer))
        if any(v != 1.0 for v in control.values()):
            problems.append(f"answer {b}: an uncorrupted answer scored {control}")
        other = answers[(b + 1) % len(answers)]
        for mutation in mutations(checker.index):
            corrupted = _values(checker.score_answer(mutation.apply(answer, other)))
            flagged = [name for name in _METRICS if (corrupted[name] or 0.0) < (control[name] or 0.0)]
            cases.append(SelftestCase(b, mutation.name, mutation.quote_level, mutation.expected, flagged,
                                      mutation.expected in flagged))
    return SelftestResult(not problems, problems, cases)
