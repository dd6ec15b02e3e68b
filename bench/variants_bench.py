"""`citewise bench variants`: embedding throughput and SciFact nDCG@10 of fp32, bf16 and onnx int8 MiniLM."""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from citewise.bench.common import CORPUS, SCIFACT, machine
from citewise.core.embedding import Embedder
from citewise.core.sentences import unwrap
from citewise.core.settings import EmbeddingSettings, Settings
from citewise.evals.beir import load_beir
from citewise.evals.retrieval_metrics import ndcg_at_k
from citewise.ingest.chunker import Chunker
from citewise.ingest.embedder import OnnxInt8Embedder, SentenceTransformerEmbedder
from citewise.ingest.pipeline import collect_files
from citewise.ingest.readers import read_document


@dataclass
class VariantFigures:
    variant: str
    passages_per_s: float
    mean_cosine_to_fp32: float
    min_cosine_to_fp32: float
    scifact_ndcg_at_10: float


@dataclass
class VariantsBench:
    passages: int
    scifact_documents: int
    scifact_queries: int
    variants: list[VariantFigures] = field(default_factory=list)
    machine: dict[str, object] = field(default_factory=dict)


def corpus_passages(settings: Settings, count: int) -> list[str]:
    """`count` passages spread over the demo corpus (every n-th passage of every file)."""
    chunker = Chunker(settings.chunking)
    texts: list[str] = []
    for corpus_file in collect_files([CORPUS])[0]:
        document = read_document(corpus_file.path, corpus_file.path.read_bytes(), corpus_file.meta)
        texts.extend(unwrap(document.text[c.start:c.end]) for c in chunker.chunk(document.text))
    step = max(1, len(texts) // count)
    return texts[::step][:count]


def scifact_ndcg(embedder: Embedder, docs: dict[str, str], queries: dict[str, str],
                 qrels: dict[str, dict[str, int]]) -> float:
    """Whole abstracts (title + text, truncated by the model) as single vectors; exact cosine ranking."""
    ids = list(docs)
    matrix = embedder.embed([docs[i] for i in ids])
    query_vectors = embedder.embed(list(queries.values()))
    scores = []
    for qid, vector in zip(queries, query_vectors, strict=True):
        top = np.argsort(-(matrix @ vector))[:10]
        scores.append(ndcg_at_k([ids[i] for i in top], qrels[qid], 10))
    return round(float(np.mean(scores)), 4)


def bench_variants(settings: Settings, passages: int = 400, scifact_docs: int | None = 1500,
                   scifact_queries: int | None = None, seed: int = 13) -> VariantsBench:
    texts = corpus_passages(settings, passages)
    data = load_beir(SCIFACT, "test")
    if scifact_queries is not None:
        chosen = sorted(data.queries, key=lambda q: int(q) if q.isdigit() else q)[:scifact_queries]
        data.queries = {q: data.queries[q] for q in chosen}
        data.qrels = {q: data.qrels[q] for q in chosen}
    keep = {d for grades in data.qrels.values() for d in grades if d in data.corpus}
    others = sorted(set(data.corpus) - keep)
    random.Random(seed).shuffle(others)
    if scifact_docs is not None:
        keep.update(others[: max(0, scifact_docs - len(keep))])
    else:
        keep.update(others)
    docs = {d: f"{t.strip()}\n\n{x.strip()}".strip() for d, (t, x) in data.corpus.items() if d in keep}
    result = VariantsBench(len(texts), len(docs), len(data.queries))
    reference: np.ndarray | None = None
    for variant in ("fp32", "bf16", "onnx-int8"):
        # model_copy skips validation, so the variant is measurable before settings list it.
        embedding = EmbeddingSettings(model=settings.embedding.model).model_copy(update={"variant": variant})
        embedder: Embedder = (OnnxInt8Embedder(embedding) if variant == "onnx-int8"
                              else SentenceTransformerEmbedder(embedding))
        embedder.embed(texts[:8])
        started = time.perf_counter()
        vectors = embedder.embed(texts)
        rate = len(texts) / (time.perf_counter() - started)
        reference = vectors if reference is None else reference
        cosines = (vectors * reference).sum(axis=1)
        result.variants.append(VariantFigures(
            variant, round(rate, 2), round(float(cosines.mean()), 5), round(float(cosines.min()), 5),
            scifact_ndcg(embedder, docs, data.queries, data.qrels)))
    result.machine = machine()
    return result


def as_dict(result: VariantsBench) -> dict[str, object]:
    return asdict(result)
