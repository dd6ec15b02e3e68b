"""Trains the support scorer (answers/quotes/support.py) on the AttributionBench dev split:
    python -m citewise.evals.support_training --train
writes answers/quotes/support_model.json (about a minute with the bundled MiniLM)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from citewise.answers.quotes import SUPPORT_FEATURES as FEATURES
from citewise.answers.quotes import SUPPORT_MODEL_PATH as MODEL_PATH
from citewise.answers.quotes import feature_matrix, sigmoid
from citewise.evals.attribution import load_split, macro_f1

L2 = 1.0


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on standardised features."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(steps):
        p = sigmoid(xb @ w)
        gradient = xb.T @ (p - y) + penalty * w
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The cut on `scores` (to 3 decimals) that maximises macro-F1 on these labels."""
    scores, gold = np.asarray(scores, dtype=np.float64), np.asarray(labels) > 0.5
    candidates = np.unique(np.round(scores, 3))  # a readable threshold; finer cuts only fit noise
    predicted = scores[None, :] >= candidates[:, None]
    tp = (predicted & gold).sum(1)
    fp = (predicted & ~gold).sum(1)
    fn = (~predicted & gold).sum(1)
    tn = (~predicted & ~gold).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1_pos = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
        f1_neg = np.nan_to_num(2 * tn / (2 * tn + fn + fp))
    return float(candidates[int(np.argmax(f1_pos + f1_neg))])


def cross_validated_scores(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities, so the threshold is chosen on scores the model did not fit."""
    order = np.random.default_rng(seed).permutation(len(y))
    out = np.zeros(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        mean, scale = x[train].mean(0), x[train].std(0) + 1e-9
        w, b = fit_logistic((x[train] - mean) / scale, y[train])
        out[test] = sigmoid(((x[test] - mean) / scale) @ w + b)
    return out


def train(embedder, model_path: Path = MODEL_PATH) -> dict[str, object]:
    """Fits the weights on the AttributionBench dev split and picks the threshold by 5-fold cross-validation."""
    items = load_split("dev")
    x = feature_matrix([(item.claim, item.evidence) for item in items], embedder.embed)
    y = np.asarray([item.label for item in items], dtype=np.float64)
    oof = cross_validated_scores(x, y)
    threshold = best_threshold(oof, y)
    mean, scale = x.mean(0), x.std(0) + 1e-9
    w, b = fit_logistic((x - mean) / scale, y)
    model = {
        "features": list(FEATURES), "mean": mean.tolist(), "scale": scale.tolist(), "weights": w.tolist(),
        "bias": b, "threshold": threshold, "l2": L2,
        "trained_on": f"AttributionBench dev_all_subset_balanced ({len(items)} items); threshold by 5-fold CV",
        "dev_cv_macro_f1": round(macro_f1([bool(s >= threshold) for s in oof], [bool(v) for v in y]), 4),
    }
    Path(model_path).write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", action="store_true", help="fit on AttributionBench dev and write the weights")
    args = parser.parse_args()
    if not args.train:
        parser.print_help()
        return
    from citewise.core.settings import EmbeddingSettings
    from citewise.ingest.embedder import load_embedder

    model = train(load_embedder(EmbeddingSettings()))
    print(json.dumps({k: model[k] for k in ("threshold", "dev_cv_macro_f1", "trained_on")}, indent=1))
    print(json.dumps(dict(zip(FEATURES, (round(v, 3) for v in model["weights"]), strict=True)), indent=1))


if __name__ == "__main__":
    main()
