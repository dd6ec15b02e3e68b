"""The offline engine: a question planned into parts (question), evidence gathered and scored sentence by sentence
(evidence, terms), an answerability gate (answerability), follow-ups made standalone (conversation)."""

from citewise.answers.offline.answerability import FEATURES as GATE_FEATURES
from citewise.answers.offline.answerability import MODEL_PATH as GATE_PATH
from citewise.answers.offline.answerability import READER_FEATURES as READER_GATE_FEATURES
from citewise.answers.offline.answerability import READER_MODEL_PATH as READER_GATE_PATH
from citewise.answers.offline.answerability import AnswerabilityModel
from citewise.answers.offline.engine import OfflineEngine, PartEvidence, ReaderPolicy
from citewise.answers.offline.evidence import Candidate, read_candidates

__all__ = ["GATE_FEATURES", "GATE_PATH", "READER_GATE_FEATURES", "READER_GATE_PATH", "AnswerabilityModel",
           "Candidate", "OfflineEngine", "PartEvidence", "ReaderPolicy", "read_candidates"]
