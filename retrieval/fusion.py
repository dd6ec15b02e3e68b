"""Combining ranked lists (weighted reciprocal rank fusion) and diversifying a ranking (MMR)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def reciprocal_rank_fusion(rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float],
                           rrf_k: int) -> list[tuple[str, float]]:
    """(id, fused score) best first; an id scores sum(weight / (rrf_k + rank)) over the lists that hold it.

    Ties keep the order in which ids were first met, list by list, so the result is deterministic.
    """
    scores: dict[str, float] = {}
    for name, ranked in rankings.items():
        weight = weights.get(name, 1.0)
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (rrf_k + rank)
    order = {item: position for position, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))


def maximal_marginal_relevance(relevance: Sequence[float], vectors: np.ndarray, lam: float, k: int) -> list[int]:
    """Positions into `relevance` (best first) picked greedily by lam * rel - (1 - lam) * max cosine to the picked.

    Relevance is scaled to [0, 1] by its maximum so it is commensurate with cosine similarity. lam = 1 keeps
    the relevance order; lower values trade relevance for passages unlike those already chosen.
    """
    count = len(relevance)
    k = min(k, count)
    if k <= 0:
        return []
    rel = np.asarray(relevance, dtype=np.float64)
    top = rel.max()
    rel = rel / top if top > 0 else np.zeros_like(rel)
    if lam >= 1.0:
        return [int(i) for i in np.argsort(-rel, kind="stable")[:k]]
    vectors = np.asarray(vectors, dtype=np.float32)
    chosen: list[int] = []
    max_sim = np.full(count, -np.inf)
    available = np.ones(count, dtype=bool)
    for _ in range(k):
        redundancy = np.where(np.isfinite(max_sim), max_sim, 0.0)
        score = lam * rel - (1.0 - lam) * redundancy
        score[~available] = -np.inf
        pick = int(np.argmax(score))  # argmax takes the first of equal scores: the better-ranked one
        chosen.append(pick)
        available[pick] = False
        # One row of similarities per pick (k rows), not the full n x n matrix: k is usually far below n.
        max_sim = np.maximum(max_sim, vectors @ vectors[pick])
    return chosen
