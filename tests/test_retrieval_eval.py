"""`citewise eval retrieval` on a tiny gzipped BEIR set and on a question file; SciFact itself is marked slow."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citewise.cli import app
from citewise.evals.beir import load_beir, safe_file_name, write_corpus
from citewise.evals.questions_retrieval import evaluate_questions
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
SCIFACT = SHARED / "benchmarks" / "scifact" / "beir"

DOCS = {
    "d/1": ("Lighthouses", "A lighthouse warns ships at night with a rotating lamp on a tall tower by the sea."),
    "d:2": ("Sourdough", "Sourdough bread rises because wild yeast and lactobacilli ferment the flour and water."),
    "3": ("Glaciers", "A glacier is a persistent body of dense ice that moves slowly under its own weight."),
    "4": ("Chess", "In chess, castling moves the king two squares toward a rook, which then jumps over it."),
    "5": ("Volcanoes", "Magma rising through the crust erupts from a volcano as lava, ash and gases."),
}
QUERIES = {
    "q1": "why does sourdough bread rise",
    "q2": "how do lighthouses warn ships at night",
    "q3": "slow moving ice mass",
    "q4": "unjudged query about volcanoes",
}
QRELS = [("q1", "d:2", 1), ("q2", "d/1", 2), ("q3", "3", 1)]


def _write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
        for doc_id, (title, text) in DOCS.items():
            handle.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with gzip.open(folder / "queries.jsonl.gz", "wt", encoding="utf-8") as handle:
        for qid, text in QUERIES.items():
            handle.write(json.dumps({"_id": qid, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{g}" for q, d, g in QRELS]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.unit
def test_load_beir_reads_gzip_and_keeps_judged_queries(tmp_path):
    data = load_beir(_write_beir(tmp_path / "tiny"))
    assert set(data.corpus) == set(DOCS)
    assert set(data.queries) == {"q1", "q2", "q3"}
    assert data.qrels["q2"] == {"d/1": 2}


@pytest.mark.unit
def test_corpus_files_are_safe_distinct_and_mapped_back(tmp_path):
    mapping = write_corpus({"a/b": ("T", "x"), "a_b": ("T", "y"), "..": ("", "z")}, tmp_path / "docs")
    assert sorted(mapping.values()) == ["..", "a/b", "a_b"]
    assert len(set(mapping)) == 3 and all("/" not in name for name in mapping)
    assert safe_file_name("123") == "123.txt"
    assert (tmp_path / "docs" / mapping_key(mapping, "a/b")).read_text(encoding="utf-8") == "T\n\nx"
    # Writing another corpus into the same folder leaves none of the first one's files behind.
    second = write_corpus({"z": ("", "only")}, tmp_path / "docs")
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == list(second)


def mapping_key(mapping: dict[str, str], doc_id: str) -> str:
    return next(name for name, value in mapping.items() if value == doc_id)


@pytest.mark.integration
def test_eval_retrieval_beir_command_reports_three_modes(tmp_path, embedder):
    folder = _write_beir(tmp_path / "tiny")
    result = CliRunner().invoke(app, ["eval", "retrieval", "--beir", str(folder), "--json",
                                      "--index-dir", str(tmp_path / "work")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"dense", "lexical", "hybrid"}
    for mode, metrics in report.items():
        assert set(metrics) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}, mode
        # Each query's words point at one document only: every mode should put it first.
        assert metrics["mrr@10"] == pytest.approx(1.0), mode
        assert metrics["ndcg@10"] == pytest.approx(1.0), mode


@pytest.mark.integration
def test_questions_eval_finds_gold_passages(tmp_path, slice_settings, embedder):
    questions = tmp_path / "questions.jsonl"
    quote = ("The Festival of the Greater Mysteries--and this was, of course, by far\n"
             "the more important--began on the 15th of the month of Boedromion,")
    rows = [
        {"id": "Q1", "question": "When did the Festival of the Greater Mysteries begin and how long did it last?",
         "answerable": True, "gold": [{"file": "wright-1919-eleusinian-mysteries-and-rites.txt", "quote": quote}]},
        {"id": "Q2", "question": "unanswerable", "answerable": False, "gold": []},
        {"id": "Q3", "question": "What is MDMA?", "answerable": True,
         "gold": [{"file": "missing.txt", "quote": "nothing"}]},
    ]
    questions.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    retriever = IndexRetriever(slice_settings, open_index(slice_settings), embedder=embedder)
    report = evaluate_questions(questions, retriever, retriever.index)
    assert report.questions == 1 and report.unresolved_quotes == 1
    assert report.metrics["hybrid"]["hit@10"] == 1.0
    assert set(report.metrics) == {"dense", "lexical", "hybrid"}


@pytest.mark.slow
@pytest.mark.skipif(not SCIFACT.is_dir(), reason="needs shared/benchmarks/scifact")
def test_scifact_hybrid_ndcg(tmp_path):
    # SCIFACT_WORK_DIR keeps the index for the next run (the first one embeds ~12k passages).
    work = Path(os.environ.get("SCIFACT_WORK_DIR", tmp_path / "scifact"))
    result = CliRunner().invoke(app, ["eval", "retrieval", "--beir", str(SCIFACT), "--json",
                                      "--index-dir", str(work)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["hybrid"]["ndcg@10"] >= 0.68
    assert report["hybrid"]["recall@100"] >= report["hybrid"]["recall@10"]
