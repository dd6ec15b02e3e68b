"""Is a part of a question answered by its evidence? A logistic regression over what the evidence says about the
question's topic (how close the best passage and sentence come, how much of the question's rarer words they hold,
whether a word of the question is unknown to the whole corpus) and about the kind of answer asked for.

Two gates, one per way the engine runs. Without the reader: fitted on the tune half of evals/data/questions-2.jsonl
and the old development questions, never on the validation half (`python -m citewise.evals.answerability_training`).
With the reader (the default): a part must pass that gate and a second one, over the same four features and the mean
of the reader's logits over the candidates it reads for the part (how much of what the search found reads as
answering), fitted on those questions, the reader's training questions it never trained on and questions off the
corpus (`... answerability_training --reader`; docs/EVALUATION.md). Alone, the second gate let through everyday
questions far from the corpus that the first refuses: the reader was never taught them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citewise.answers.quotes.support import sigmoid

MODEL_PATH = Path(__file__).with_name("answerability_model.json")
READER_MODEL_PATH = Path(__file__).with_name("answerability_reader_model.json")
FEATURES = (
    "best_passage_cosine",  # the best retrieved passage's cosine to the part
    "best_sentence_cosine",  # the best candidate sentence's cosine to the part
    "best_sentence_coverage",  # idf-weighted share of the part's words in the best-scored sentence (with its source)
    "unknown_share",  # idf-weighted share of the part's words no passage of the corpus holds
)
# The mean is over ReaderPolicy.read_at_most candidates: the gate file records how many it was fitted with.
READER_FEATURES = (*FEATURES, "reader_mean_logit")


@dataclass(frozen=True)
class AnswerabilityModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    reader_reads: int | None = None  # candidates a part's reader_mean_logit was averaged over when fitted
    quote_passages: int | None = None  # ... the best-scored of the sentences of this many passages
    requires: AnswerabilityModel | None = None  # a gate the part must pass as well

    @classmethod
    def load(cls, path: Path = MODEL_PATH, features: tuple[str, ...] = FEATURES) -> AnswerabilityModel:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != features:
            raise ValueError(f"{path} was fitted on other features; refit it with "
                             "python -m citewise.evals.answerability_training")
        requires = cls.load(Path(path).with_name(data["requires"])) if data.get("requires") else None
        return cls(features, np.asarray(data["mean"]), np.asarray(data["scale"]), np.asarray(data["weights"]),
                   float(data["bias"]), float(data["threshold"]), data.get("reader_reads"), data.get("quote_passages"),
                   requires)

    def probability(self, features: dict[str, float]) -> float:
        x = (np.asarray([features[name] for name in self.features]) - self.mean) / self.scale
        return float(sigmoid(x @ self.weights + self.bias))

    def answerable(self, features: dict[str, float]) -> bool:
        if self.requires is not None and not self.requires.answerable(features):
            return False
        return self.probability(features) >= self.threshold
