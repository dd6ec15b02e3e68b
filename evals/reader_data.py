"""The reader's training examples: question-sentence pairs labelled "answers" or "does not answer".

Three origins (training/reader/README.md says how each was made):
- our questions (training/reader/*.jsonl), written by careful reading of the demo corpus: their answering sentences,
  the on-topic sentences their writers judged not to answer, and the offline engine's own candidates for them
  (for an unanswerable question every candidate is a non-answer; for an answerable one, a candidate that overlaps
  no answering sentence is taken as one, with a lower weight, since a second answering sentence may hide there);
- SQuAD 2.0 (CC BY-SA 4.0): the sentence holding the answer, other sentences of its paragraph, and for the
  unanswerable questions the sentence holding the plausible answer a careless reader would give;
- SciFact (CC BY 4.0): a claim's rationale sentences against the other sentences of its abstract.
"""

from __future__ import annotations

import bisect
import gzip
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.sentences import sentence_spans

KINDS = ("lookup", "concept", "reason", "list", "near_miss", "unanswerable")
# Weights of a pair in the loss, by how sure its label is.
JUDGED, MINED_ANSWERABLE, MINED_UNANSWERABLE = 1.0, 0.5, 1.0


@dataclass(frozen=True)
class Quote:
    file: str
    quote: str


@dataclass(frozen=True)
class TrainingQuestion:
    id: str
    source: str
    question: str
    answerable: bool
    kind: str
    answers: tuple[Quote, ...]
    near: tuple[Quote, ...]
    # False when `near` already holds every non-answer a judge read among the engine's candidates: none is presumed.
    mined: bool = True


@dataclass(frozen=True)
class Pair:
    question: str
    sentence: str
    heading: str | None
    label: float
    weight: float
    group: str  # the question's id: pairs of one question are ranked against each other
    origin: str  # ours-answer, ours-near, ours-mined, squad, scifact


def load_training_questions(paths: Iterable[Path]) -> list[TrainingQuestion]:
    """Every question of the files, checked: a bad line is named with its file and line number."""
    questions: list[TrainingQuestion] = []
    seen: set[str] = set()
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
                question = TrainingQuestion(
                    id=str(row["id"]), source=str(row["source"]), question=str(row["question"]),
                    answerable=bool(row["answerable"]), kind=str(row["kind"]),
                    answers=tuple(Quote(q["file"], q["quote"]) for q in row.get("answers", [])),
                    near=tuple(Quote(q["file"], q["quote"]) for q in row.get("near", [])),
                    mined=bool(row.get("mined", True)))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise CitewiseError(f"{where}: not a training question ({exc})") from exc
            if question.id in seen:
                raise CitewiseError(f"{where}: id {question.id!r} appears twice")
            if question.answerable != bool(question.answers):
                raise CitewiseError(f"{where}: answerable={question.answerable} but {len(question.answers)} answers")
            seen.add(question.id)
            questions.append(question)
    return questions


@dataclass
class SourceSentences:
    """A source's sentences and headings, for mapping quotations onto the sentences the engine would quote."""

    text: str
    spans: list[tuple[int, int]]
    headings: list[tuple[int, str]]
    _starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._starts = [s for s, _ in self.spans]
        self._heading_offsets = [offset for offset, _ in self.headings]

    def heading_at(self, position: int) -> str | None:
        at = bisect.bisect_right(self._heading_offsets, position) - 1
        return self.headings[at][1] if at >= 0 else None

    def overlapping(self, start: int, end: int) -> list[tuple[int, int]]:
        """The sentences that share at least half of themselves, or half of the span, with text[start:end]."""
        first = max(0, bisect.bisect_right(self._starts, start) - 1)
        found = []
        for s, e in self.spans[first:]:
            if s >= end:
                break
            shared = min(e, end) - max(s, start)
            if shared > 0 and (shared >= 0.5 * (e - s) or shared >= 0.5 * (end - start)):
                found.append((s, e))
        return found

    def locate(self, quote: str) -> list[tuple[int, int]]:
        at = self.text.find(quote)
        return [] if at < 0 else self.overlapping(at, at + len(quote))


class CorpusSentences:
    """SourceSentences per file name of an index, made on first use."""

    def __init__(self, index: IndexReader) -> None:
        self.index = index
        self.by_file = {source.file: source.id for source in index.sources.values()}
        self._cache: dict[str, SourceSentences] = {}

    def of(self, file: str) -> SourceSentences:
        if file not in self.by_file:
            raise CitewiseError(f"{file}: not a source of the index (its files: {sorted(self.by_file)[:3]}...)")
        if file not in self._cache:
            source_id = self.by_file[file]
            text = self.index.source_text(source_id)
            self._cache[file] = SourceSentences(text, sentence_spans(text), self.index.source_headings(source_id))
        return self._cache[file]


def question_pairs(question: TrainingQuestion, corpus: CorpusSentences,
                   mined: list[tuple[str, int, int]]) -> list[Pair]:
    """The pairs of one of our questions: answers, judged non-answers, and the engine's candidates `mined` as
    (file, start, end) that overlap no answer."""
    pairs: list[Pair] = []
    answer_spans: set[tuple[str, int, int]] = set()
    for quote in question.answers:
        sentences = corpus.of(quote.file)
        for s, e in sentences.locate(quote.quote):
            answer_spans.add((quote.file, s, e))
            pairs.append(Pair(question.question, sentences.text[s:e], sentences.heading_at(s), 1.0, JUDGED,
                              question.id, "ours-answer"))
    taken = set(answer_spans)
    for quote in question.near:
        sentences = corpus.of(quote.file)
        for s, e in sentences.locate(quote.quote):
            if (quote.file, s, e) not in taken:
                taken.add((quote.file, s, e))
                pairs.append(Pair(question.question, sentences.text[s:e], sentences.heading_at(s), 0.0, JUDGED,
                                  question.id, "ours-near"))
    weight = MINED_ANSWERABLE if question.answerable else MINED_UNANSWERABLE
    for file, start, end in mined if question.mined else ():
        if any(f == file and start < e and s < end for f, s, e in taken):
            continue
        sentences = corpus.of(file)
        taken.add((file, start, end))
        pairs.append(Pair(question.question, sentences.text[start:end], sentences.heading_at(start), 0.0, weight,
                          question.id, "ours-mined"))
    return pairs


def _sentence_at(spans: list[tuple[int, int]], position: int) -> tuple[int, int] | None:
    for s, e in spans:
        if s <= position < e:
            return s, e
    return None


def squad_pairs(path: Path, articles: slice, rng: random.Random, negatives: int = 1) -> Iterator[Pair]:
    """From SQuAD 2.0's articles in `articles`: per answerable question its answer's sentence and `negatives`
    other sentences of the paragraph; per unanswerable one the sentence of its plausible answer (a hard
    non-answer) and one other."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"][articles]
    for article in data:
        title = article["title"].replace("_", " ")
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            spans = sentence_spans(context)
            if len(spans) < 2:
                continue
            for qa in paragraph["qas"]:
                group = f"squad-{qa['id']}"
                answers = qa.get("answers") or []
                plausible = qa.get("plausible_answers") or []
                if not qa.get("is_impossible") and answers:
                    gold = _sentence_at(spans, answers[0]["answer_start"])
                    if gold is None:
                        continue
                    yield Pair(qa["question"], context[gold[0]:gold[1]], title, 1.0, JUDGED, group, "squad")
                    others = [s for s in spans if s != gold]
                    for s, e in rng.sample(others, min(negatives, len(others))):
                        yield Pair(qa["question"], context[s:e], title, 0.0, JUDGED, group, "squad")
                elif plausible:
                    near = _sentence_at(spans, plausible[0]["answer_start"])
                    if near is None:
                        continue
                    yield Pair(qa["question"], context[near[0]:near[1]], title, 0.0, JUDGED, group, "squad")
                    others = [s for s in spans if s != near]
                    s, e = rng.choice(others)
                    yield Pair(qa["question"], context[s:e], title, 0.0, JUDGED, group, "squad")


def scifact_pairs(folder: Path, split: str, rng: random.Random, negatives: int = 2) -> Iterator[Pair]:
    """SciFact claims against their abstracts: rationale sentences answer, `negatives` others do not."""
    abstracts: dict[str, tuple[str, list[str]]] = {}
    with gzip.open(folder / "corpus_sentences.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            abstracts[str(row["doc_id"])] = (row.get("title", ""), row["abstract"])
    for line in (folder / f"claims_{split}.jsonl").read_text(encoding="utf-8").splitlines():
        claim = json.loads(line)
        for doc_id, evidence_sets in (claim.get("evidence") or {}).items():
            if doc_id not in abstracts:
                continue
            title, sentences = abstracts[doc_id]
            rationale = sorted({i for e in evidence_sets for i in e["sentences"] if i < len(sentences)})
            group = f"scifact-{claim['id']}-{doc_id}"
            for i in rationale:
                yield Pair(claim["claim"], sentences[i], title, 1.0, JUDGED, group, "scifact")
            others = [i for i in range(len(sentences)) if i not in rationale]
            for i in rng.sample(others, min(negatives, len(others))):
                yield Pair(claim["claim"], sentences[i], title, 0.0, JUDGED, group, "scifact")
