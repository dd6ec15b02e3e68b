"""Single-threaded onnxruntime sessions, one per core, for models that run one input at a time.

Our int8 models quantise activations with a scale taken from the whole input, so in a padded batch one text's
result would depend on its neighbours: the same corpus or question would score differently in another order. Run
alone, an input always gets the same result; the cores run different inputs side by side instead."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from citewise.core.errors import CitewiseError

T = TypeVar("T")
R = TypeVar("R")


class SessionPool:
    def __init__(self, model_path: str, workers: int | None = None, name: str = "citewise-onnx") -> None:
        """`workers`: inputs run at once (one session each); default one per core."""
        try:
            import onnxruntime
        except ImportError as exc:
            raise CitewiseError(f"running {model_path} needs onnxruntime (reinstall with scripts/install.sh): "
                                f"{exc}") from exc
        self._onnxruntime = onnxruntime
        self.model_path = model_path
        self._name = name
        first = self._new_session()
        self.outputs = first.get_outputs()
        self._sessions: queue.SimpleQueue = queue.SimpleQueue()
        self._sessions.put(first)
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _new_session(self):  # noqa: ANN202 - an onnxruntime.InferenceSession
        options = self._onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return self._onnxruntime.InferenceSession(self.model_path, options, providers=["CPUExecutionProvider"])

    def run(self, feed: dict[str, np.ndarray]) -> list[Any]:
        """The model's outputs for one input, on whichever session is free."""
        session = self._sessions.get()
        try:
            return session.run(None, feed)
        finally:
            self._sessions.put(session)

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`function` (which calls `run`) over the items, on every core: one item alone runs on the calling thread."""
        if len(items) <= 1 or self.workers == 1:
            return [function(item) for item in items]
        with self._pool_lock:
            if self._pool is None:
                for _ in range(self.workers - 1):
                    self._sessions.put(self._new_session())
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self._name)
        return list(self._pool.map(function, items))


def load_tokenizer(path: str, max_tokens: int, strategy: str = "longest_first",  # noqa: ANN201 - a tokenizers.Tokenizer
                   needed_by: str = "this model"):
    """A BERT tokenizer (tokenizer.json) that encodes one input alone: truncated to `max_tokens`, never padded
    (tokenizer.json may pad to 128; an input run alone needs none)."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise CitewiseError(f"{needed_by} needs the tokenizers package (reinstall with scripts/install.sh): "
                            f"{exc}") from exc
    tokenizer = Tokenizer.from_file(path)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_tokens, strategy=strategy)
    return tokenizer


def bert_feed(encoding) -> dict[str, np.ndarray]:  # noqa: ANN001 - a tokenizers.Encoding
    """A BERT model's inputs for one encoding: every token is real, so the attention mask is all ones."""
    ids = np.array([encoding.ids], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64)}
