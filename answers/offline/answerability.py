"""Is a part of a question answered by its evidence? A logistic regression over what the evidence says about the
question's topic (how close the best passage and sentence come, how much of the question's rarer words they hold,
whether a word of the question is unknown to the whole corpus) and about the kind of answer asked for.

The weights are fitted on the tune half of evals/data/questions-2.jsonl and the old development questions, never on
the validation half: `python -m citewise.evals.answerability_training`. The reader's best logit is not among the
features: with it the gate refused no more unanswerable questions in cross-validation and refused more answerable
ones (docs/EVALUATION.md, "The reader"), so one gate serves the engine with and without the reader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citewise.answers.quotes.support import sigmoid

MODEL_PATH = Path(__file__).with_name("answerability_model.json")
FEATURES = (
    "best_passage_cosine",  # the best retrieved passage's cosine to the part
    "best_sentence_cosine",  # the best candidate sentence's cosine to the part
    "best_sentence_coverage",  # idf-weighted share of the part's words in the best-scored sentence (with its source)
    "unknown_share",  # idf-weighted share of the part's words no passage of the corpus holds
)


@dataclass(frozen=True)
class AnswerabilityModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float

    @classmethod
    def load(cls, path: Path = MODEL_PATH, features: tuple[str, ...] = FEATURES) -> AnswerabilityModel:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != features:
            raise ValueError(f"{path} was fitted on other features; refit it with "
                             "python -m citewise.evals.answerability_training")
        return cls(features, np.asarray(data["mean"]), np.asarray(data["scale"]), np.asarray(data["weights"]),
                   float(data["bias"]), float(data["threshold"]))

    def probability(self, features: dict[str, float]) -> float:
        x = (np.asarray([features[name] for name in self.features]) - self.mean) / self.scale
        return float(sigmoid(x @ self.weights + self.bias))

    def answerable(self, features: dict[str, float]) -> bool:
        return self.probability(features) >= self.threshold
