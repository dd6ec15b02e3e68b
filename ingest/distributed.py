"""`citewise ingest --distributed`: files are read and chunked by Ray Data tasks and embedded by a pool of Ray
actors (one per core of the cluster), and this process writes the results to the configured store in one
writing session, exactly as the single-process ingest would: same passages, ids and vectors.

A local Ray cluster is started unless RAY_ADDRESS names one; the nodes of a real cluster need citewise installed
(`pip install 'citewise[distributed]'`) and read the files at the paths given here (a shared file system).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from citewise.core.errors import CitewiseError
from citewise.core.index import IndexStore, IndexWriter
from citewise.core.settings import EmbeddingSettings, Settings, StoreSettings
from citewise.core.types import PassageVectors, Source
from citewise.ingest.embedder import OnnxInt8Embedder, load_embedder
from citewise.ingest.pipeline import CorpusFile, Ingestor, IngestReport

MISSING_EXTRA = ("`citewise ingest --distributed` needs Ray, which is not installed: "
                 "pip install 'citewise[distributed]'")
# Texts per actor call: enough to keep the pipeline fed, few enough that two actors share the work evenly.
EMBED_BATCH = 16
# The object store of a local cluster: results stream through it, so a small one does.
LOCAL_OBJECT_STORE_BYTES = 512 * 1024 * 1024


def _ray():  # noqa: ANN202 - the ray module
    try:
        import ray
        import ray.data  # noqa: F401 - the Data library is a separate extra of ray
    except ImportError as exc:
        raise CitewiseError(MISSING_EXTRA) from exc
    return ray


def start_ray(workers: int | None) -> int:
    """Connects to RAY_ADDRESS or starts a local cluster (of `workers` CPUs); returns the embedding actor count."""
    ray = _ray()
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        local = {} if address else {"num_cpus": workers or os.cpu_count() or 1,
                                    "object_store_memory": LOCAL_OBJECT_STORE_BYTES}
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="error",
                 configure_logging=True, **local)
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours is the one progress bar
    context.print_on_execution_start = False
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(workers or cpus, cpus))


class _Preparer:
    """Reads and chunks one file on a Ray worker, with the single-process pipeline's own code."""

    _cache: dict[str, Ingestor] = {}

    @classmethod
    def prepare(cls, row: dict[str, Any], settings_json: str, max_bytes: int, reread: bool) -> dict[str, Any]:
        if settings_json not in cls._cache:
            settings = Settings.model_validate_json(settings_json)
            cls._cache[settings_json] = Ingestor(settings, progress=False)
        corpus_file, old = pickle.loads(row["job"])
        try:
            outcome = ("prepared", cls._cache[settings_json]._prepare(corpus_file, old, max_bytes, reread))
        except Exception as exc:  # re-raised in the driver, where the pipeline decides what it costs
            outcome = ("failed", exc)
        return {"rel": corpus_file.rel, "outcome": pickle.dumps(outcome)}


def embed_actor(embedding: EmbeddingSettings) -> type:
    """The class of the embedding actors, holding the settings itself: constructor arguments would be kept in the
    object store, which Ray warns about for restartable actors."""
    fields = embedding.model_dump()

    class EmbedActor:
        """One embedding model per actor, one core each: texts run one at a time, as in the single-process ingest."""

        def __init__(self) -> None:
            settings = EmbeddingSettings(**fields)
            self.embedder = (OnnxInt8Embedder(settings, workers=1) if settings.variant == "onnx-int8"
                             else load_embedder(settings))

        def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            spans = [json.loads(text_spans) for text_spans in batch["spans"]]
            vectors, pooled = self.embedder.embed_with_spans(list(batch["text"]), spans)
            return {"hash": batch["hash"], "vector": vectors,
                    "pooled": np.array([pickle.dumps(np.asarray(p, dtype=np.float32)) for p in pooled],
                                       dtype=object)}

    return EmbedActor


class RayIngestor(Ingestor):
    """The single-process pipeline with its two heavy steps, preparing files and embedding passages, on Ray."""

    def __init__(self, settings: Settings, progress: bool = True, workers: int | None = None,
                 store: IndexStore | None = None) -> None:
        super().__init__(settings, embedder=None, progress=progress, store=store)
        self.workers = workers
        self._outcomes: dict[str, bytes] = {}
        self._dim: int | None = None
        # Workers never see the store's URL (it may hold a password): they only read files and embed.
        self._worker_settings = settings.model_copy(update={"store": StoreSettings()}).model_dump_json()

    def _before_prepare(self, files: list[CorpusFile], stored: dict[str, Source], max_bytes: int,
                        reread: bool) -> None:
        """Prepares every file on Ray first; the pipeline's own update then takes each outcome from `_prepare`."""
        self.actors = actors = start_ray(self.workers)
        jobs = [{"job": pickle.dumps((f, stored.get(f.rel)))} for f in files]
        if jobs:
            ray = _ray()
            dataset = ray.data.from_items(jobs, override_num_blocks=min(len(jobs), 8 * actors)).map(
                _Preparer.prepare, fn_kwargs={"settings_json": self._worker_settings, "max_bytes": max_bytes,
                                              "reread": reread})
            with tqdm(total=len(jobs), desc="reading", unit="file", disable=not self.progress, leave=False) as bar:
                for row in dataset.iter_rows():
                    self._outcomes[row["rel"]] = row["outcome"]
                    bar.update(1)

    def _prepare(self, corpus_file: CorpusFile, old: Source | None, max_bytes: int, reread: bool = False
                 ) -> Any:
        """What a Ray worker made of this file (its exception is raised here, as if read in this process)."""
        kind, value = pickle.loads(self._outcomes.pop(corpus_file.rel))
        if kind == "failed":
            raise value
        return value

    def _embed_missing(self, texts: dict[str, tuple[str, list[tuple[int, int]]]]) -> dict[str, PassageVectors]:
        """The pipeline's embedding step on Ray actors."""
        vectors: dict[str, PassageVectors] = {}
        rows = [{"hash": h, "text": text, "spans": json.dumps(spans)} for h, (text, spans) in texts.items()]
        ray = _ray()
        with warnings.catch_warnings():
            # max_restarts=0 has no named parameter in Ray 2.60, only the deprecated catch-all; without it Ray's core
            # logs an error-level line per actor pool about restarting actors, which these never need.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*")
            dataset = ray.data.from_items(rows, override_num_blocks=max(1, len(rows) // EMBED_BATCH)).map_batches(
                embed_actor(self.settings.embedding), batch_size=EMBED_BATCH, num_cpus=1, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=self.actors), max_restarts=0)
        with tqdm(total=len(rows), desc=f"embedding ({self.actors} Ray actors)", unit="passage",
                  disable=not self.progress) as bar:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                for h, vector, pooled in zip(batch["hash"], batch["vector"], batch["pooled"], strict=True):
                    h = str(h)
                    vectors[h] = PassageVectors(np.asarray(vector, dtype=np.float32), tuple(
                        tuple(span) for span in texts[h][1]), pickle.loads(pooled))
                    self._dim = len(vector)
                bar.update(len(batch["hash"]))
        return vectors

    def _dimension(self, writer: IndexWriter) -> int:
        return self._dim or super()._dimension(writer)


def distributed_ingest(settings: Settings, paths: list[Path], rebuild: bool = False, prune: bool = False,
                       progress: bool = True, workers: int | None = None) -> IngestReport:
    """One ingest of `paths` on Ray into the configured store; returns the pipeline's IngestReport."""
    return RayIngestor(settings, progress=progress, workers=workers).run(paths, rebuild=rebuild, prune=prune)
