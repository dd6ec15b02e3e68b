"""`citewise bench peer`: citewise beside a LlamaIndex pipeline (FAISS, same MiniLM) on the same data, one run."""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from citewise.bench.common import SCIFACT, load_questions, machine, percentile_ms
from citewise.bench.ingest_bench import make_slice
from citewise.core.embedding import Embedder
from citewise.core.errors import CitewiseError
from citewise.core.settings import Settings
from citewise.evals import beir
from citewise.evals.retrieval_metrics import ndcg_at_k
from citewise.ingest.embedder import load_embedder
from citewise.ingest.pipeline import Ingestor
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index

MISSING_EXTRA = ("`citewise bench peer` needs LlamaIndex, which is not installed: "
                 "pip install -e '.[peer]' (the optional extra `peer`)")


@dataclass
class SideFigures:
    ingest_seconds: float
    passages: int
    query_p50_ms: float | None
    query_p95_ms: float | None
    scifact_ingest_seconds: float | None = None
    scifact_passages: int | None = None
    scifact_ndcg_at_10: float | None = None


@dataclass
class PeerBench:
    corpus_files: int
    questions: int
    scifact_documents: int
    scifact_queries: int
    citewise: SideFigures
    llamaindex: SideFigures
    citewise_mode: str
    ratios: dict[str, float | None] = field(default_factory=dict)  # citewise / llamaindex
    machine: dict[str, object] = field(default_factory=dict)


def _peer_module():  # noqa: ANN202 - the module object
    try:
        from citewise.bench import peer_llama
    except ImportError as exc:
        raise CitewiseError(MISSING_EXTRA) from exc
    return peer_llama


def scifact_subset(data: beir.BeirData, docs: int | None, queries: int | None, seed: int = 13) -> beir.BeirData:
    """The first `queries` judged queries, their relevant documents, and random others up to `docs` in all."""
    query_ids = sorted(data.queries, key=lambda q: int(q) if q.isdigit() else q)[:queries]
    qrels = {q: data.qrels[q] for q in query_ids}
    if docs is None:
        corpus = data.corpus
    else:
        keep = {d for grades in qrels.values() for d in grades if d in data.corpus}
        others = sorted(set(data.corpus) - keep)
        random.Random(seed).shuffle(others)
        keep.update(others[: max(0, docs - len(keep))])
        corpus = {d: data.corpus[d] for d in data.corpus if d in keep}
    return beir.BeirData(corpus, {q: data.queries[q] for q in query_ids}, qrels)


def _ranked_docs(doc_ids: list[str], depth: int = 10) -> list[str]:
    ranked: list[str] = []
    for doc_id in doc_ids:
        if doc_id not in ranked:
            ranked.append(doc_id)
            if len(ranked) == depth:
                break
    return ranked


def _time_each(run, questions: list[str]) -> list[float]:  # noqa: ANN001 - any callable taking a question
    run(questions[0])  # first call pays lazy set-up
    latencies = []
    for question in questions:
        started = time.perf_counter()
        run(question)
        latencies.append(time.perf_counter() - started)
    return latencies


def _citewise_slice(settings: Settings, embedder: Embedder, corpus: Path, work: Path, questions: list[str]
                    ) -> SideFigures:
    run_settings = settings.model_copy(update={"index": work / "citewise-index"})
    started = time.perf_counter()
    report = Ingestor(run_settings, embedder=embedder, progress=False).run([corpus])
    seconds = time.perf_counter() - started
    retriever = IndexRetriever(run_settings, open_index(run_settings), embedder=embedder)
    latencies = _time_each(lambda q: retriever.search(q, k=settings.retrieval.k), questions)
    return SideFigures(round(seconds, 2), report.passages, percentile_ms(latencies, 50), percentile_ms(latencies, 95))


def _llama_slice(settings: Settings, embedder: Embedder, corpus: Path, work: Path, questions: list[str]
                 ) -> SideFigures:
    peer = _peer_module()
    started = time.perf_counter()
    index, nodes = peer.build_index(peer.read_folder(corpus), embedder, settings.chunking, work / "llama-index")
    seconds = time.perf_counter() - started
    retriever = peer.retriever(index, settings.retrieval.k)
    latencies = _time_each(retriever.retrieve, questions)
    return SideFigures(round(seconds, 2), nodes, percentile_ms(latencies, 50), percentile_ms(latencies, 95))


def _citewise_scifact(data: beir.BeirData, settings: Settings, embedder: Embedder, work: Path, mode: str,
                      side: SideFigures) -> None:
    index_settings, mapping, seconds = beir.build_index(data, work / "scifact-citewise", settings, embedder, False)
    retrieval = index_settings.retrieval.model_copy(update={"candidates": max(index_settings.retrieval.candidates,
                                                                               beir.PASSAGES_PER_QUERY)})
    index_settings = index_settings.model_copy(update={"retrieval": retrieval})
    reader = open_index(index_settings)
    doc_of_source = {s.id: mapping[s.file] for s in reader.sources.values() if s.file in mapping}
    retriever = IndexRetriever(index_settings, index=reader, embedder=embedder)
    scores = [ndcg_at_k(beir.rank_documents(retriever, text, mode, doc_of_source), data.qrels[qid], 10)
              for qid, text in data.queries.items()]
    side.scifact_ingest_seconds, side.scifact_passages = round(seconds, 2), reader.passage_count()
    side.scifact_ndcg_at_10 = round(sum(scores) / len(scores), 4)
    reader.close()


def _llama_scifact(data: beir.BeirData, settings: Settings, embedder: Embedder, work: Path,
                   side: SideFigures) -> None:
    peer = _peer_module()
    texts = {doc_id: f"{title.strip()}\n\n{text.strip()}".strip() or doc_id
             for doc_id, (title, text) in data.corpus.items()}
    started = time.perf_counter()
    index, nodes = peer.build_index(peer.documents_from_texts(texts), embedder, settings.chunking,
                                    work / "scifact-llama")
    side.scifact_ingest_seconds, side.scifact_passages = round(time.perf_counter() - started, 2), nodes
    retriever = peer.retriever(index, beir.PASSAGES_PER_QUERY)
    scores = []
    for qid, query in data.queries.items():
        ranked = _ranked_docs([hit.node.metadata["doc_id"] for hit in retriever.retrieve(query)])
        scores.append(ndcg_at_k(ranked, data.qrels[qid], 10))
    side.scifact_ndcg_at_10 = round(sum(scores) / len(scores), 4)


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return round(ours / theirs, 3) if ours is not None and theirs else None


def bench_peer(settings: Settings, passages: int = 300, scifact_docs: int | None = None,
               scifact_queries: int | None = None, questions_limit: int | None = None,
               mode: str = "dense") -> PeerBench:
    _peer_module()  # fail before any work when the extra is missing
    embedder = load_embedder(settings.embedding)
    embedder.embed(["warm-up"])
    questions = load_questions(questions_limit)
    data = scifact_subset(beir.load_beir(SCIFACT, "test"), scifact_docs, scifact_queries)
    with tempfile.TemporaryDirectory(prefix="citewise-bench-peer-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        corpus.mkdir()
        files = make_slice(corpus, settings, None, passages)
        ours = _citewise_slice(settings, embedder, corpus, work, questions)
        theirs = _llama_slice(settings, embedder, corpus, work, questions)
        _citewise_scifact(data, settings, embedder, work, mode, ours)
        _llama_scifact(data, settings, embedder, work, theirs)
    return PeerBench(
        corpus_files=files, questions=len(questions), scifact_documents=len(data.corpus),
        scifact_queries=len(data.queries), citewise=ours, llamaindex=theirs, citewise_mode=mode,
        ratios={
            "ingest_passages_per_s": _ratio(ours.passages / ours.ingest_seconds if ours.ingest_seconds else None,
                                            theirs.passages / theirs.ingest_seconds if theirs.ingest_seconds
                                            else None),
            "query_p50": _ratio(ours.query_p50_ms, theirs.query_p50_ms),
            "scifact_ingest_seconds": _ratio(ours.scifact_ingest_seconds, theirs.scifact_ingest_seconds),
            "scifact_ndcg_at_10": _ratio(ours.scifact_ndcg_at_10, theirs.scifact_ndcg_at_10),
        },
        machine=machine(),
    )


def as_dict(result: PeerBench) -> dict[str, object]:
    return asdict(result)
