"""The embedding contract: texts in, L2-normalised vectors out (citewise.ingest.embedder implements it)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

Span = tuple[int, int]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; `signature` names model and variant for the index."""

    signature: str
    dim: int

    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray: ...

    def embed_with_spans(self, texts: list[str], spans: list[list[Span]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """`embed(texts)` plus, read off the same forward pass, a vector for each character span of each text
        (see `pool_spans`)."""
        ...
