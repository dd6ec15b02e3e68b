"""`citewise bench ...` on tiny sizes: each subcommand runs and prints well-formed JSON with its figures."""

from __future__ import annotations

import importlib.util
import json
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citewise.bench.common import SCIFACT
from citewise.cli import app
from citewise.core.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def temp_under_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Benchmarks build their indexes in temporary folders; keep those under the test's tmp_path."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def run_json(*args: str) -> dict | list:
    result = CliRunner().invoke(app, ["bench", *args, "--json"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.stdout)


def assert_machine(figures: dict) -> None:
    assert figures["machine"]["nproc"] >= 1
    assert len(figures["machine"]["loadavg"]) == 3


def test_bench_ingest_compares_pipeline_with_bare_model(embedder) -> None:
    figures = run_json("ingest", "--passages", "24", "--shapes-kb", "20", "--memory-mb", "0.01,0.03")
    assert 20 <= figures["passages"] <= 30
    assert figures["pipeline_passages_per_s"] > 0 and figures["model_passages_per_s"] > 0
    assert figures["ratio"] == pytest.approx(
        figures["pipeline_passages_per_s"] / figures["model_passages_per_s"], rel=0.02)
    shapes = {row["file"]: row for row in figures["shapes"]}
    assert shapes["prose.txt"]["ratio"] == 1.0 and shapes["spaces.txt"]["chars"] == 20_000
    assert all(row["passages"] > 0 and row["seconds"] >= 0 for row in shapes.values())
    points = figures["memory"]["points"]
    assert [p["text_mb"] for p in points] == [0.01, 0.03] and all(p["peak_rss_mb"] > 50 for p in points)
    assert points[1]["passages"] > points[0]["passages"] > 0 and figures["memory"]["mb_per_text_mb"] is not None
    assert_machine(figures)


def test_bench_scale_reports_exact_and_hnsw(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEWISE_INGEST__EXACT_INDEX_LIMIT", "1000")
    points = run_json("scale", "--sizes", "500,1500", "--queries", "10", "--ef-sweep", "16,64")
    flat, hnsw = points
    assert flat["index_kind"] == "flat-ip" and flat["recall_at_10"] == 1.0 and flat["ef_sweep"] == []
    assert hnsw["index_kind"].startswith("hnsw") and 0 < hnsw["recall_at_10"] <= 1.0
    assert [p["ef_search"] for p in hnsw["ef_sweep"]] == [16, 64]
    # Full-precision vectors cost 4 bytes a dimension; the graph comes on top.
    assert flat["bytes_per_passage"] >= 384 * 4 and hnsw["bytes_per_passage"] > flat["bytes_per_passage"]
    assert flat["p50_ms"] > 0 and hnsw["p50_ms_1thread"] > 0


def test_bench_query_times_retrieval_and_http_answers(slice_settings: Settings) -> None:
    figures = run_json("query", "--index", str(slice_settings.index), "--requests", "3", "--clients", "2")
    assert figures["passages"] > 0
    assert 0 < figures["retrieve_p50_ms"] <= figures["retrieve_p95_ms"]
    assert figures["errors"] == 0, figures["first_error"]
    assert 0 < figures["answer_p50_ms"] <= figures["answer_p95_ms"]
    assert figures["requests_per_s"] > 0 and figures["concurrent_requests_per_s"] > 0
    assert_machine(figures)


def test_bench_cold_times_a_first_answer(slice_settings: Settings) -> None:
    figures = run_json("cold", "--index", str(slice_settings.index), "--no-serve")
    assert figures["ask_status"] == 0, figures["notes"]
    assert figures["ask_to_exit_ms"] > figures["python_start_ms"] > 0
    assert "first embed" in figures["stages_ms"] and figures["top_imports_ms"]
    assert figures["stages_ms"]["torch imported"] == 0.0  # the default onnx-int8 path never loads torch


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llama_index") is None, reason="optional extra `peer` not installed")
def test_bench_peer_runs_both_pipelines(embedder) -> None:
    figures = run_json("peer", "--passages", "16", "--questions", "3", "--scifact-docs", "20",
                       "--scifact-queries", "3")
    for side in ("citewise", "llamaindex"):
        assert figures[side]["passages"] > 0 and figures[side]["query_p50_ms"] > 0
        assert 0 <= figures[side]["scifact_ndcg_at_10"] <= 1
    assert figures["scifact_queries"] == 3 and figures["scifact_documents"] >= 3
    assert set(figures["ratios"]) >= {"ingest_passages_per_s", "query_p50", "scifact_ndcg_at_10"}


@pytest.mark.slow
@pytest.mark.skipif(not SCIFACT.is_dir(), reason="needs shared/benchmarks/scifact")
def test_bench_variants_compares_onnx_int8_with_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the one-off export lands here
    figures = run_json("variants", "--passages", "12", "--scifact-docs", "20", "--scifact-queries", "4")
    by_name = {v["variant"]: v for v in figures["variants"]}
    assert set(by_name) == {"fp32", "bf16", "onnx-int8"}
    assert by_name["fp32"]["min_cosine_to_fp32"] == pytest.approx(1.0, abs=1e-5)
    # int8 weights move the vectors a little, never to a different meaning.
    assert 0.95 < by_name["onnx-int8"]["min_cosine_to_fp32"] <= by_name["onnx-int8"]["mean_cosine_to_fp32"] < 1.0
    assert all(v["passages_per_s"] > 0 and 0 <= v["scifact_ndcg_at_10"] <= 1 for v in by_name.values())
    assert list((tmp_path / "cache" / "citewise" / "onnx").glob("*-int8.onnx"))


def test_bench_llm_reports_outcomes_fallbacks_and_refusals(slice_settings: Settings, embedder,
                                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.fake_openai import FakeOpenAI

    rows = [{"id": "Q1", "question": "What are the most serious short-term physical dangers of taking ecstasy?",
             "answerable": True, "split": "validation"},
            {"id": "Q2", "question": "How were the Eleusinian mysteries celebrated?", "answerable": True,
             "split": "validation"},
            {"id": "Q3", "question": "What is the airspeed velocity of an unladen swallow?", "answerable": False,
             "split": "validation"},
            {"id": "Q4", "question": "What does AA require of members?", "answerable": True, "split": "tune"}]
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    with FakeOpenAI() as fake:
        fake.reply("Not JSON, and no claims.")  # the first answer falls back after its repair round
        fake.reply("Still not JSON.")
        fake.reply('{"claims": [], "refuse": true}')  # the second: the model declines where the gate found an answer
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        figures = run_json("llm", "--index", str(slice_settings.index), "--questions", "5",
                           "--questions-file", str(questions), "--split", "validation")
        assert len(fake.requests) == 3  # the gate refused the third question: the model was not asked
    first, second, third = figures["answers"]
    assert [a["id"] for a in figures["answers"]] == ["Q1", "Q2", "Q3"]
    assert first["outcome"] == "fallback" and first["engine"] == "offline" and first["rounds"] == 2
    assert second["declined"] and second["outcome"] == "fallback" and second["claims"] == 0
    assert third["outcome"] == "refused" and third["gate_refused"] and third["rounds"] == 0
    summary = figures["summary"]
    assert summary["outcomes"] == {"fallback": 2, "refused": 1} and summary["written_by_model_share_of_asked"] == 0
    assert summary["disagreements"] == {"gate_refused": {"answerable": 0, "unanswerable": 1},
                                        "declined": {"answerable": 1, "unanswerable": 0}}
    assert first["first_token_s"] <= first["done_s"] and figures["model"] == "gpt-4o-mini"
    assert all(a["load_1m"] >= 0 for a in figures["answers"])
    assert_machine(figures)
