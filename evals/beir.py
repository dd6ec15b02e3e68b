"""BEIR retrieval benchmarks through our own ingest and retriever: load, index, rank documents, score."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from citewise.core.embedding import Embedder
from citewise.core.errors import CitewiseError
from citewise.core.retrieval import SearchMode
from citewise.core.settings import Settings
from citewise.evals.retrieval_metrics import DEFAULT_CUTOFFS, mean_metrics, query_metrics
from citewise.ingest.embedder import single_threaded
from citewise.ingest.pipeline import Ingestor
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index

MODES: tuple[SearchMode, ...] = ("dense", "lexical", "hybrid")
# Documents ranked per query: recall@100 needs 100 of them; SciFact abstracts are one to three passages.
DOC_DEPTH = 100
PASSAGES_PER_QUERY = 300
MAPPING_NAME = "doc_ids.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class BeirData:
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # only the queries that have judgements in the split
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade


@dataclass
class BeirReport:
    dataset: str
    split: str
    documents: int
    queries: int
    passages: int
    index_seconds: float
    search_seconds: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def _open_first(folder: Path, stem: str) -> Iterator[str]:
    for name in (stem, stem + ".gz"):
        path = folder / name
        if path.is_file():
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as handle:
                yield from handle
            return
    raise CitewiseError(f"{folder}: no {stem} or {stem}.gz (is this a BEIR dataset folder?)")


def _jsonl(folder: Path, stem: str) -> Iterator[dict]:
    for number, line in enumerate(_open_first(folder, stem), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise CitewiseError(f"{folder / stem}: line {number} is not JSON ({exc.msg})") from None


def load_beir(folder: Path, split: str = "test") -> BeirData:
    folder = Path(folder)
    if not folder.is_dir():
        raise CitewiseError(f"{folder}: no such folder")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise CitewiseError(f"{qrels_path}: missing (split {split!r} has no judgements)")
    qrels: dict[str, dict[str, int]] = {}
    with open(qrels_path, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    corpus = {str(doc["_id"]): (doc.get("title") or "", doc.get("text") or "")
              for doc in _jsonl(folder, "corpus.jsonl")}
    queries = {str(q["_id"]): q["text"] for q in _jsonl(folder, "queries.jsonl") if str(q["_id"]) in qrels}
    qrels = {qid: docs for qid, docs in qrels.items() if qid in queries}
    if not queries:
        raise CitewiseError(f"{folder}: no query of split {split!r} found in queries.jsonl")
    return BeirData(corpus, queries, qrels)


def safe_file_name(doc_id: str) -> str:
    """A file name for a doc id; ids that needed changing get a hash suffix so two ids never collide."""
    safe = _UNSAFE.sub("_", doc_id)[:100]
    if safe != doc_id or safe.lower() in {".", ".."}:
        safe += "-" + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:10]
    return safe + ".txt"


def write_corpus(corpus: dict[str, tuple[str, str]], folder: Path) -> dict[str, str]:
    """One .txt file per document (title, blank line, text); returns file name -> doc id."""
    folder.mkdir(parents=True, exist_ok=True)
    mapping: dict[str, str] = {}
    seen_lower: set[str] = set()
    for doc_id, (title, text) in corpus.items():
        name = safe_file_name(doc_id)
        if name.lower() in seen_lower:  # case-insensitive file systems would merge two ids
            name = name[:-4] + "-" + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:10] + ".txt"
        seen_lower.add(name.lower())
        mapping[name] = doc_id
        body = f"{title.strip()}\n\n{text.strip()}".strip() or doc_id
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")
    # A reused --index-dir may hold another dataset's documents; they would take ranks from this one's.
    for stale in folder.glob("*.txt"):
        if stale.name not in mapping:
            stale.unlink()
    (folder.parent / MAPPING_NAME).write_text(json.dumps(mapping), encoding="utf-8")
    return mapping


def build_index(data: BeirData, work_dir: Path, settings: Settings, embedder: Embedder | None,
                progress: bool) -> tuple[Settings, dict[str, str], float]:
    """Ingests the corpus into work_dir/index (re-using what an earlier run there already embedded)."""
    started = time.perf_counter()
    mapping = write_corpus(data.corpus, work_dir / "docs")
    index_settings = settings.model_copy(update={"index": work_dir / "index"})
    # One thread: on this shared 2-core machine two OpenMP threads spin-waited and embedded ~10x slower.
    with single_threaded():
        Ingestor(index_settings, embedder=embedder, progress=progress).run([work_dir / "docs"])
    return index_settings, mapping, time.perf_counter() - started


def rank_documents(retriever: IndexRetriever, query: str, mode: SearchMode, doc_of_source: dict[str, str],
                   exclude: str | None = None) -> list[str]:
    """Documents in the order of their best passage."""
    ranked: list[str] = []
    seen: set[str] = set()
    for hit in retriever.search(query, k=PASSAGES_PER_QUERY, mode=mode):
        doc_id = doc_of_source[hit.source.id]
        if doc_id not in seen and doc_id != exclude:
            seen.add(doc_id)
            ranked.append(doc_id)
            if len(ranked) == DOC_DEPTH:
                break
    return ranked


def evaluate_beir(folder: Path, settings: Settings, split: str = "test", work_dir: Path | None = None,
                  embedder: Embedder | None = None, modes: tuple[SearchMode, ...] = MODES,
                  progress: bool = False, ignore_identical_ids: bool | None = None) -> BeirReport:
    """nDCG@10, recall@10/100 and MRR@10 of each mode. work_dir keeps the index for a later run to reuse."""
    data = load_beir(folder, split)
    # ArguAna's queries are corpus documents themselves; BEIR drops a query's own id from its ranking.
    if ignore_identical_ids is None:
        ignore_identical_ids = sum(qid in data.corpus for qid in data.queries) > len(data.queries) // 2
    with tempfile.TemporaryDirectory(prefix="citewise-beir-") as tmp:
        root = Path(work_dir) if work_dir else Path(tmp)
        index_settings, mapping, index_seconds = build_index(data, root, settings, embedder, progress)
        # Deep enough per signal that a hundred documents survive fusion and the collapse to documents.
        retrieval = index_settings.retrieval.model_copy(
            update={"candidates": max(index_settings.retrieval.candidates, PASSAGES_PER_QUERY)})
        index_settings = index_settings.model_copy(update={"retrieval": retrieval})
        reader = open_index(index_settings)
        doc_of_source = {source.id: mapping[source.file] for source in reader.sources.values()
                         if source.file in mapping}
        retriever = IndexRetriever(index_settings, index=reader, embedder=embedder)
        report = BeirReport(folder.name if folder.name != "beir" else folder.parent.name, split,
                            len(data.corpus), len(data.queries), reader.passage_count(), index_seconds)
        for mode in modes:
            started = time.perf_counter()
            per_query = []
            for qid, query in data.queries.items():
                ranked = rank_documents(retriever, query, mode, doc_of_source,
                                        exclude=qid if ignore_identical_ids else None)
                per_query.append(query_metrics(ranked, data.qrels[qid], DEFAULT_CUTOFFS))
            report.search_seconds[mode] = time.perf_counter() - started
            report.metrics[mode] = mean_metrics(per_query)
        reader.close()
    return report
