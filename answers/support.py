"""How well a passage supports a claim (0..1): a logistic regression over embedding, lexical, name, number and
negation features (answers/support_features.py), trained on the AttributionBench dev split.

No NLI or cross-encoder model is available offline, so this is a feature-based judge, not an entailment model.
Retrain (writes answers/support_model.json; about a minute with the bundled MiniLM):
    python -m answers.support --train
Measure on the ID and OOD test sets: `citewise eval support --json`.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from answers.support_features import FEATURES, feature_matrix, prepare, words

MODEL_PATH = Path(__file__).with_name("support_model.json")
L2 = 1.0
# A claim found word for word in the evidence is supported whatever the features say; a quotation must score so.
VERBATIM_SCORE = 0.99
MIN_VERBATIM_WORDS = 3


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method on standardised features."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0  # the intercept is not shrunk
    for _ in range(steps):
        p = _sigmoid(xb @ w)
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


class SupportScorer:
    """Scores (claim, evidence) pairs with the trained weights; `supports` applies the calibrated threshold."""

    name = "support-logreg-minilm"

    def __init__(self, embedder, model_path: Path = MODEL_PATH) -> None:
        self.embedder = embedder
        model = json.loads(Path(model_path).read_text(encoding="utf-8"))
        if tuple(model["features"]) != FEATURES:
            raise ValueError(f"{model_path} was trained on other features; retrain with python -m answers.support")
        self.features: tuple[str, ...] = FEATURES
        self.mean = np.asarray(model["mean"], dtype=np.float64)
        self.scale = np.asarray(model["scale"], dtype=np.float64)
        self.weights = np.asarray(model["weights"], dtype=np.float64)
        self.bias = float(model["bias"])
        self.threshold: float = float(model["threshold"])
        self.trained_on: str = model.get("trained_on", "")

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(((x - self.mean) / self.scale) @ self.weights + self.bias)

    def scores(self, pairs: list[tuple[str, str]],
               known_vectors: Mapping[str, np.ndarray] | None = None) -> list[float]:
        """`known_vectors`: this embedder's vectors of texts the caller has already embedded, by unwrapped text
        (e.g. the quoted sentences); they are reused, not recomputed, so the scores are the same."""
        if not pairs:
            return []
        x = feature_matrix(pairs, self._embed, known_vectors)
        probabilities = self.probabilities(x)
        longest_run = x[:, FEATURES.index("longest_run")]
        out = []
        for (claim, _), p, run in zip(pairs, probabilities, longest_run, strict=True):
            verbatim = run >= 1.0 and len(words(prepare(claim, "").claim)) >= MIN_VERBATIM_WORDS
            out.append(max(float(p), VERBATIM_SCORE) if verbatim else float(p))
        return out

    def score(self, claim: str, evidence: str) -> float:
        return self.scores([(claim, evidence)])[0]

    def supports(self, claim: str, evidence: str) -> bool:
        return self.score(claim, evidence) >= self.threshold


_CACHE: dict[int, SupportScorer] = {}
_LOCK = threading.Lock()


def load_support_scorer(settings=None, embedder=None) -> SupportScorer:
    """One scorer per embedder. Accepts (settings, embedder=...) or just an embedder; without one, the settings'
    (or default) embedding model is loaded."""
    from citewise.settings import Settings
    from ingest.embedder import load_embedder

    if settings is not None and not isinstance(settings, Settings) and embedder is None:
        settings, embedder = None, settings  # called as load_support_scorer(embedder)
    if embedder is None:
        embedder = load_embedder((settings or Settings()).embedding)
    with _LOCK:
        if id(embedder) not in _CACHE:
            _CACHE[id(embedder)] = SupportScorer(embedder)
        return _CACHE[id(embedder)]


def cross_validated_scores(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities, so the threshold is chosen on scores the model did not fit."""
    order = np.random.default_rng(seed).permutation(len(y))
    out = np.zeros(len(y))
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        mean, scale = x[train].mean(0), x[train].std(0) + 1e-9
        w, b = fit_logistic((x[train] - mean) / scale, y[train])
        out[test] = _sigmoid(((x[test] - mean) / scale) @ w + b)
    return out


def train(embedder, model_path: Path = MODEL_PATH) -> dict[str, object]:
    """Fits the weights on the AttributionBench dev split and picks the threshold by 5-fold cross-validation."""
    from evals.attribution import load_split, macro_f1

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
    from citewise.settings import EmbeddingSettings
    from ingest.embedder import load_embedder

    model = train(load_embedder(EmbeddingSettings()))
    print(json.dumps({k: model[k] for k in ("threshold", "dev_cv_macro_f1", "trained_on")}, indent=1))
    print(json.dumps(dict(zip(FEATURES, (round(v, 3) for v in model["weights"]), strict=True)), indent=1))


if __name__ == "__main__":
    main()
