"""The offline engine: a question planned into parts (question), evidence gathered and scored sentence by sentence
(evidence, terms), an answerability gate (answerability), follow-ups made standalone (conversation)."""

from citewise.answers.offline.answerability import AnswerabilityModel, gate_features, gate_path
from citewise.answers.offline.engine import OfflineEngine, PartEvidence, ReaderPolicy
from citewise.answers.offline.evidence import Candidate

__all__ = ["AnswerabilityModel", "Candidate", "OfflineEngine", "PartEvidence", "ReaderPolicy", "gate_features",
           "gate_path"]
