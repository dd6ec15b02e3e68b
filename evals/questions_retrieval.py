"""Retrieval on our own questions: is a passage holding a gold quote among the top k (recall@k, MRR)?

A retrieved passage is gold for a quote when it lies in the quote's file and covers the quote, or at least
half of it (or 200 characters of a long quote): quotes are located in the canonical text after white
space normalisation, so a hard-wrapped quote or one that straddles two passages still counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.retrieval import Retriever, SearchMode
from citewise.core.types import Passage

DEFAULT_KS = (5, 10)
LONG_QUOTE_OVERLAP = 200


@dataclass(frozen=True)
class GoldSpan:
    source_id: str
    start: int
    end: int

    def overlaps(self, source_id: str | None, start: int | None, end: int | None) -> bool:
        """Whether the span [start, end) of `source_id` shares a character with this gold quote."""
        return source_id == self.source_id and start is not None and end is not None and start < self.end \
            and self.start < end

    def covered_by(self, passage: Passage) -> bool:
        if passage.source_id != self.source_id:
            return False
        overlap = min(self.end, passage.end) - max(self.start, passage.start)
        return overlap > 0 and overlap >= min((self.end - self.start) / 2, LONG_QUOTE_OVERLAP)


@dataclass
class QuestionResult:
    id: str
    question: str
    gold: int  # gold quotes found in the index
    unresolved: int  # gold quotes whose file is not indexed or whose text was not found in it
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # mode -> metric -> value


@dataclass
class QuestionsReport:
    questions: int
    unresolved_quotes: int
    metrics: dict[str, dict[str, float]]  # mode -> mean metric
    results: list[QuestionResult]


def locate_quote(text: str, quote: str) -> tuple[int, int] | None:
    """(start, end) of `quote` in `text`, white space runs matching any white space; None when absent."""
    words = quote.split()
    if not words:
        return None
    match = re.search(r"\s+".join(re.escape(word) for word in words), text)
    return (match.start(), match.end()) if match else None


def resolve_gold(reader: IndexReader, gold: Sequence[dict]) -> tuple[list[GoldSpan], int]:
    """The gold quotes ({"file", "quote"}) as spans of the index's sources, and how many could not be placed."""
    by_file = {source.file: source for source in reader.sources.values()}
    by_name = {Path(source.file).name: source for source in reader.sources.values()}
    spans: list[GoldSpan] = []
    unresolved = 0
    for item in gold:
        source = by_file.get(item["file"]) or by_name.get(Path(item["file"]).name)
        found = locate_quote(reader.source_text(source.id), item["quote"]) if source else None
        if source is None or found is None:
            unresolved += 1
            continue
        spans.append(GoldSpan(source.id, *found))
    return spans, unresolved


def gold_passage_metrics(passages: Sequence[Passage], spans: Sequence[GoldSpan],
                         ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """recall@k (share of gold quotes with a covering passage in the top k), hit@k, and MRR@max(ks)."""
    depth = max(ks)
    first_rank: list[int | None] = []  # per span: rank of the first passage covering it
    for span in spans:
        first_rank.append(next((rank for rank, p in enumerate(passages[:depth], start=1) if span.covered_by(p)),
                               None))
    metrics: dict[str, float] = {}
    for k in ks:
        found = [rank is not None and rank <= k for rank in first_rank]
        metrics[f"recall@{k}"] = sum(found) / len(spans) if spans else 0.0
        metrics[f"hit@{k}"] = float(any(found))
    ranks = [rank for rank in first_rank if rank is not None]
    metrics[f"mrr@{depth}"] = 1.0 / min(ranks) if ranks else 0.0
    return metrics


def load_questions(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise CitewiseError(f"{path}: no such file")
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CitewiseError(f"{path}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(item, dict) or "question" not in item:
            raise CitewiseError(f"{path}: line {number} has no \"question\"")
        questions.append(item)
    return questions


def evaluate_questions(path: Path, retriever: Retriever, reader: IndexReader,
                       modes: Sequence[SearchMode] = ("dense", "lexical", "hybrid"),
                       ks: Sequence[int] = DEFAULT_KS) -> QuestionsReport:
    """Gold-passage recall@k and MRR of each mode, over the answerable questions with gold quotes."""
    results: list[QuestionResult] = []
    unresolved_total = 0
    for item in load_questions(path):
        if not item.get("answerable", True) or not item.get("gold"):
            continue
        spans, unresolved = resolve_gold(reader, item["gold"])
        unresolved_total += unresolved
        if not spans:
            continue
        result = QuestionResult(str(item.get("id", len(results) + 1)), item["question"], len(spans), unresolved)
        for mode in modes:
            hits = retriever.search(item["question"], k=max(ks), mode=mode)
            result.metrics[mode] = gold_passage_metrics([hit.passage for hit in hits], spans, ks)
        results.append(result)
    means = {
        mode: {name: sum(r.metrics[mode][name] for r in results) / len(results)
               for name in results[0].metrics[mode]} if results else {}
        for mode in modes
    }
    return QuestionsReport(len(results), unresolved_total, means, results)
