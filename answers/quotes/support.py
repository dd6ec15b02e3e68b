"""How well a passage supports a claim (0..1): a logistic regression over embedding, lexical, name, number and
negation features (answers/quotes/support_features.py), trained on the AttributionBench dev split.

No NLI or cross-encoder model is available offline, so this is a feature-based judge, not an entailment model.
Retrain (writes answers/quotes/support_model.json; about a minute with the bundled MiniLM):
    python -m citewise.evals.support_training --train
Measure on the ID and OOD test sets: `citewise eval support --json`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from citewise.answers.quotes.support_features import FEATURES, feature_matrix, prepare, words

MODEL_PATH = Path(__file__).with_name("support_model.json")
# A claim found word for word in the evidence is supported whatever the features say; a quotation must score so.
VERBATIM_SCORE = 0.99
MIN_VERBATIM_WORDS = 3


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class SupportScorer:
    """Scores (claim, evidence) pairs with the trained weights; `supports` applies the calibrated threshold."""

    name = "support-logreg-minilm"

    def __init__(self, embedder, model_path: Path = MODEL_PATH) -> None:
        self.embedder = embedder
        model = json.loads(Path(model_path).read_text(encoding="utf-8"))
        if tuple(model["features"]) != FEATURES:
            raise ValueError(f"{model_path} was trained on other features; "
                             "retrain with python -m citewise.evals.support_training")
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
        return sigmoid(((x - self.mean) / self.scale) @ self.weights + self.bias)

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
    from citewise.core.settings import Settings
    from citewise.ingest.embedder import load_embedder

    if settings is not None and not isinstance(settings, Settings) and embedder is None:
        settings, embedder = None, settings  # called as load_support_scorer(embedder)
    if embedder is None:
        embedder = load_embedder((settings or Settings()).embedding)
    with _LOCK:
        if id(embedder) not in _CACHE:
            _CACHE[id(embedder)] = SupportScorer(embedder)
        return _CACHE[id(embedder)]
