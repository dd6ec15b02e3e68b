"""Ranking metrics as trec_eval defines them: nDCG@k (graded, linear gain), recall@k, MRR@k."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

# (metric, cutoff) pairs reported by `citewise eval retrieval` on BEIR data.
DEFAULT_CUTOFFS: tuple[tuple[str, int], ...] = (("ndcg", 10), ("recall", 10), ("recall", 100), ("mrr", 10))


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """DCG of the top k (gain = grade, discount log2(rank + 1)) over the DCG of the ideal ordering."""
    ideal = sorted((grade for grade in qrels.values() if grade > 0), reverse=True)[:k]
    ideal_dcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, start=1))
    if ideal_dcg == 0:
        return 0.0
    dcg = sum(max(qrels.get(doc, 0), 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1))
    return dcg / ideal_dcg


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, grade in qrels.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    for rank, doc in enumerate(ranked[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


_METRICS = {"ndcg": ndcg_at_k, "recall": recall_at_k, "mrr": mrr_at_k}


def query_metrics(ranked: Sequence[str], qrels: Mapping[str, int],
                  cutoffs: Iterable[tuple[str, int]] = DEFAULT_CUTOFFS) -> dict[str, float]:
    """{"ndcg@10": ..., ...} for one query."""
    return {f"{name}@{k}": _METRICS[name](ranked, qrels, k) for name, k in cutoffs}


def mean_metrics(per_query: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Each metric averaged over the queries (a query that found nothing counts as zero)."""
    if not per_query:
        return {}
    names = list(per_query[0])
    return {name: sum(q[name] for q in per_query) / len(per_query) for name in names}
