"""`citewise bench ingest`: whole-pipeline passages/s against the bare embedding model on the same passages."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from citewise.bench.common import CORPUS, machine
from citewise.bench.ingest_shapes import ingest_memory, time_shapes
from citewise.core.embedding import Embedder
from citewise.core.errors import CitewiseError
from citewise.core.sentences import unwrap
from citewise.core.settings import Settings
from citewise.ingest.chunker import Chunker
from citewise.ingest.embedder import load_embedder
from citewise.ingest.manifest import MANIFEST_NAME
from citewise.ingest.pipeline import Ingestor, collect_files
from citewise.ingest.readers import read_document
from citewise.store.sqlite_faiss import SqliteIndexReader


@dataclass
class IngestBench:
    files: int
    passages: int
    embedder: str
    pipeline_seconds: float
    pipeline_passages_per_s: float
    pipeline_embed_passages_per_s: float  # the embedding step alone, as timed inside the pipeline
    model_seconds: float
    model_passages_per_s: float
    ratio: float  # pipeline / bare model; the goal is >= 0.9
    machine: dict[str, object] = field(default_factory=dict)
    # Reading and chunking files of hostile shapes against prose of the same size (ratio 1.0), and the peak memory
    # of whole ingests per MB of text (bench/ingest_shapes.py).
    shapes: list[dict[str, object]] = field(default_factory=list)
    memory: dict[str, object] = field(default_factory=dict)


def make_slice(folder: Path, settings: Settings, files: int | None, passages: int | None,
               corpus: Path = CORPUS) -> int:
    """Copies corpus files (name order) into `folder`, cutting the last one so about `passages` are made.

    Returns the number of files written. The cut falls on a passage end of the canonical text, which for
    .txt/.md is the file's own text, so the copy is still a valid source of the same kind.
    """
    corpus_files, _ = collect_files([corpus])
    if not corpus_files:
        raise CitewiseError(f"{corpus}: no corpus files to benchmark")
    chunker = Chunker(settings.chunking)
    written, total = 0, 0
    for corpus_file in corpus_files:
        if files is not None and written >= files:
            break
        if passages is not None and total >= passages:
            break
        target = folder / corpus_file.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if passages is None:
            shutil.copy(corpus_file.path, target)
        else:
            document = read_document(corpus_file.path, corpus_file.path.read_bytes(), corpus_file.meta)
            chunks = chunker.chunk(document.text)
            wanted = min(len(chunks), passages - total)
            if wanted == len(chunks):
                shutil.copy(corpus_file.path, target)
            else:
                target.write_text(document.text[: chunks[wanted - 1].end], encoding="utf-8")
            total += wanted
        written += 1
    manifest = corpus / MANIFEST_NAME
    if manifest.exists():
        shutil.copy(manifest, folder / MANIFEST_NAME)
    return written


def bench_ingest(settings: Settings, files: int | None = None, passages: int | None = 600,
                 embedder: Embedder | None = None, corpus: Path = CORPUS, shape_bytes: int = 400_000,
                 memory_mb: list[float] | None = None) -> IngestBench:
    embedder = embedder or load_embedder(settings.embedding)
    embedder.embed(["warm-up so that first-call costs land in neither figure"])
    with tempfile.TemporaryDirectory(prefix="citewise-bench-ingest-") as tmp:
        slice_dir, index_dir = Path(tmp) / "corpus", Path(tmp) / "index"
        slice_dir.mkdir()
        n_files = make_slice(slice_dir, settings, files, passages, corpus)
        run_settings = settings.model_copy(update={"index": index_dir})
        report = Ingestor(run_settings, embedder=embedder, progress=False).run([slice_dir])
        reader = SqliteIndexReader(index_dir)
        try:
            texts = [unwrap(p.text) for sid in reader.sources for p in reader.passages_of(sid)]
        finally:
            reader.close()
    started = time.perf_counter()
    embedder.embed(texts, batch_size=settings.embedding.batch_size)
    model_seconds = time.perf_counter() - started
    pipeline_rate = report.passages / report.seconds if report.seconds else 0.0
    model_rate = len(texts) / model_seconds if model_seconds else 0.0
    return IngestBench(
        files=n_files, passages=report.passages, embedder=embedder.signature,
        pipeline_seconds=round(report.seconds, 3), pipeline_passages_per_s=round(pipeline_rate, 2),
        pipeline_embed_passages_per_s=round(report.passages_embedded / report.embed_seconds, 2)
        if report.embed_seconds else 0.0,
        model_seconds=round(model_seconds, 3), model_passages_per_s=round(model_rate, 2),
        ratio=round(pipeline_rate / model_rate, 3) if model_rate else 0.0, machine=machine(),
        shapes=[asdict(timing) for timing in time_shapes(settings, shape_bytes)] if shape_bytes else [],
        memory=ingest_memory(memory_mb) if memory_mb else {},
    )


def as_dict(result: IngestBench) -> dict[str, object]:
    return asdict(result)
