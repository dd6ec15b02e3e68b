"""The default embedder (onnx-int8): faithful to the fp32 model, and a text's vector never depends on its batch."""

from __future__ import annotations

import numpy as np
import pytest

from citewise.core.settings import EmbeddingSettings
from citewise.ingest.embedder import load_embedder

pytestmark = pytest.mark.integration

TEXTS = [
    "The will to believe is a right we have, James argued.",
    "MDMA releases serotonin in the brain, and users report feeling close to others.",
    "Short.",
]


def test_int8_vectors_stay_close_to_fp32(embedder) -> None:
    fp32 = load_embedder(EmbeddingSettings(variant="fp32"))
    cosines = (embedder.embed(TEXTS) * fp32.embed(TEXTS)).sum(axis=1)
    assert cosines.min() > 0.98


def test_a_texts_vector_does_not_depend_on_what_it_is_embedded_with(embedder) -> None:
    alone = embedder.embed(TEXTS[:1])[0]
    batched = embedder.embed([TEXTS[1], TEXTS[0], "x " * 200], batch_size=3)[1]
    spans_vector, _ = embedder.embed_with_spans([TEXTS[2], TEXTS[0]], [[], [(0, 8)]])
    assert np.array_equal(alone, batched) and np.array_equal(alone, spans_vector[1])
