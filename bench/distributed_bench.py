"""`citewise bench distributed`: passages/s of the plain ingest and of `ingest --distributed` on Ray with 1, 2, ...
embedding actors, each into a new index of the same slice of the demo corpus."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from citewise.bench.common import machine
from citewise.bench.ingest_bench import make_slice
from citewise.core.settings import Settings, StoreSettings
from citewise.ingest.distributed import RayIngestor, start_ray
from citewise.ingest.embedder import load_embedder
from citewise.ingest.pipeline import Ingestor


@dataclass
class IngestRun:
    how: str
    seconds: float
    passages: int
    passages_per_s: float
    embed_passages_per_s: float  # the embedding step alone, as the run timed it
    loadavg_1m: float


@dataclass
class DistributedBench:
    files: int
    passages: int
    ray_start_seconds: float
    runs: list[IngestRun] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)


def _run(how: str, ingestor: Ingestor, corpus: Path) -> IngestRun:
    import os

    load = os.getloadavg()[0]
    started = time.perf_counter()
    report = ingestor.run([corpus])
    seconds = time.perf_counter() - started
    return IngestRun(how, round(seconds, 2), report.passages, round(report.passages / seconds, 2),
                     round(report.passages_embedded / report.embed_seconds, 2) if report.embed_seconds else 0.0,
                     round(load, 2))


def bench_distributed(settings: Settings, passages: int = 600, workers: list[int] | None = None) -> DistributedBench:
    # Every run writes an embedded index of its own, so none reuses another's vectors.
    settings = settings.model_copy(update={"store": StoreSettings()})
    embedder = load_embedder(settings.embedding)
    embedder.embed(["warm-up", "so that model loading lands in no figure"])
    started = time.perf_counter()
    start_ray(max(workers or [1]))
    ray_start = round(time.perf_counter() - started, 2)
    with tempfile.TemporaryDirectory(prefix="citewise-bench-distributed-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        files = make_slice(corpus, settings, None, passages)
        result = DistributedBench(files=files, passages=0, ray_start_seconds=ray_start)

        def into(name: str) -> Settings:
            return settings.model_copy(update={"index": Path(tmp) / name})

        plain = _run("plain ingest (one process, a session per core)",
                     Ingestor(into("plain"), embedder=embedder, progress=False), corpus)
        result.runs.append(plain)
        result.passages = plain.passages
        for count in workers or [1, 2]:
            result.runs.append(_run(f"ray, {count} embedding actor{'s' if count > 1 else ''}",
                                    RayIngestor(into(f"ray-{count}"), progress=False, workers=count), corpus))
    result.machine = machine()
    return result


def as_dict(result: DistributedBench) -> dict[str, object]:
    return asdict(result)
