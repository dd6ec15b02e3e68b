"""`citewise ingest --distributed` (Ray Data on a local cluster) gives the same index as the single-process ingest:
the same sources, passages and ids, the same passage vectors, and sentence vectors equal within int8 rounding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citewise.core.settings import Settings
from citewise.store import open_index

pytestmark = pytest.mark.integration
pytest.importorskip("ray", reason="the optional extra citewise[distributed]")


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory, slice_corpus: Path):
    import ray

    from citewise.ingest.distributed import distributed_ingest

    settings = Settings(index=tmp_path_factory.mktemp("distributed_index"))
    report = distributed_ingest(settings, [slice_corpus], progress=False, workers=2)
    again = distributed_ingest(settings, [slice_corpus], progress=False, workers=2)
    yield settings, report, again
    ray.shutdown()


def test_the_same_sources_passages_and_ids(distributed, slice_settings: Settings) -> None:
    settings, report, _ = distributed
    ours, theirs = open_index(settings), open_index(slice_settings)
    assert report.passages_embedded == theirs.passage_count() > 0
    assert ours.sources == theirs.sources
    for source_id in theirs.sources:
        assert ours.passages_of(source_id) == theirs.passages_of(source_id)
        assert ours.source_text(source_id) == theirs.source_text(source_id)


def test_the_same_vectors(distributed, slice_settings: Settings) -> None:
    settings, _, _ = distributed
    ours, theirs = open_index(settings), open_index(slice_settings)
    ids = [p.id for source_id in theirs.sources for p in theirs.passages_of(source_id)]
    np.testing.assert_allclose(ours.passage_vectors(ids), theirs.passage_vectors(ids), atol=1e-6)
    mine, reference = ours.stored_vectors(ids), theirs.stored_vectors(ids)
    for passage_id in ids:
        assert mine[passage_id].sentences.keys() == reference[passage_id].sentences.keys()
        for sentence, vector in reference[passage_id].sentences.items():
            other = mine[passage_id].sentences[sentence]  # int8 with a scale: cosine, not the dot product
            assert float(vector @ other) / float(np.linalg.norm(vector) * np.linalg.norm(other)) > 0.999


def test_a_second_run_embeds_nothing(distributed) -> None:
    _, report, again = distributed
    assert (again.passages_embedded, again.unchanged, again.passages) == (0, report.sources, report.passages)
