"""The shipped reader (reader-int8.onnx beside this file, its card in READER-CARD.md): question-sentence pairs in,
the probability that the sentence answers the question out."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from citewise.answers.reader.inputs import MAX_TOKENS, reader_pair
from citewise.core.errors import CitewiseError
from citewise.core.onnx_sessions import SessionPool, bert_feed, load_tokenizer

MODEL_PATH = Path(__file__).with_name("reader-int8.onnx")
TOKENIZER_PATH = Path(__file__).with_name("reader-tokenizer.json")


class SentenceReader:
    def __init__(self, model_path: Path = MODEL_PATH, tokenizer_path: Path = TOKENIZER_PATH,
                 workers: int | None = None) -> None:
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise CitewiseError(f"the reader's file {path} is missing: reinstall citewise, or retrain it with "
                                    f"`python -m citewise.evals.reader_training`")
        self.model_path = model_path
        self._tokenizer = load_tokenizer(str(tokenizer_path), MAX_TOKENS, strategy="only_second",
                                         needed_by="the reader")
        self._sessions = SessionPool(str(model_path), workers, name="citewise-reader")

    def sha256(self) -> str:
        return hashlib.sha256(self.model_path.read_bytes()).hexdigest()

    def logits(self, question: str, sentences: Sequence[tuple[str, str | None]]) -> np.ndarray:
        """One logit per (sentence, heading): above 0, the reader thinks the sentence answers the question."""
        pairs = [reader_pair(question, sentence, heading) for sentence, heading in sentences]
        return np.array(self._sessions.map(self._logit, pairs), dtype=np.float32)

    def scores(self, question: str, sentences: Sequence[tuple[str, str | None]]) -> np.ndarray:
        """The probability that each sentence answers the question."""
        return 1.0 / (1.0 + np.exp(-self.logits(question, sentences)))

    def _logit(self, pair: tuple[str, str]) -> float:
        return float(self._sessions.run(bert_feed(self._tokenizer.encode(*pair)))[0].reshape(-1)[0])


@lru_cache(maxsize=1)
def load_reader() -> SentenceReader:
    """One reader per process: every engine shares its sessions."""
    return SentenceReader()
