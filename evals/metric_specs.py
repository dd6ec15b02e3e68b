"""The answer-eval metrics: names, which way is better, and what each means (the report's table and the gate)."""

from __future__ import annotations

from dataclasses import dataclass

from citewise.evals.answers import RETRIEVAL_KS


@dataclass(frozen=True)
class MetricSpec:
    name: str
    higher_is_better: bool
    meaning: str
    compare_to_baseline: bool = True  # timings vary with the machine; they get a threshold only


METRICS = [
    MetricSpec("quote_exactness", True, "share of quotes verified verbatim in the cited passage, offsets included"),
    MetricSpec("attribution", True, "share of located quotes whose citation names the holding source's "
               "author, year, kind, title and file"),
    MetricSpec("citation_recall", True, "ALCE: share of answer statements supported by their citations "
               "(mean over answers)"),
    MetricSpec("citation_precision", True, "ALCE: share of citations needed by the statement citing them "
               "(mean over answers)"),
    MetricSpec("evidence_hit", True, "share of answerable questions with a quote overlapping a gold quote"),
    *[MetricSpec(f"retrieval_recall@{k}", True, f"share of gold quotes covered by a top-{k} passage (mean)")
      for k in RETRIEVAL_KS],
    MetricSpec(f"retrieval_mrr@{max(RETRIEVAL_KS)}", True, "mean reciprocal rank of the first gold passage"),
    MetricSpec("off_topic_rate", False, "share of quotes in answers to answerable questions that overlap no gold "
               "quote and hold none of the question's topic terms"),
    MetricSpec("part_coverage", True, "share of the parts of compound and comparison questions addressed by a quote "
               "(overlapping the part's gold, or holding one of its topic terms); a refusal covers none"),
    MetricSpec("all_parts_covered", True, "share of compound and comparison questions with every part covered"),
    MetricSpec("refusal_rate", True, "share of unanswerable questions refused"),
    MetricSpec("false_refusal_rate", False, "share of answerable questions refused"),
    MetricSpec("missing_named_rate", True, "share of questions about an absent work or author whose refusal names "
               "it"),
    MetricSpec("latency_p50_s", False, "median seconds to answer", compare_to_baseline=False),
    MetricSpec("latency_p95_s", False, "95th percentile seconds to answer", compare_to_baseline=False),
]
SPECS = {spec.name: spec for spec in METRICS}
