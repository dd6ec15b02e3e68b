"""`citewise eval answers` and `citewise eval selftest` end to end on the slice index: reports, thresholds found beside
the question set, exit codes (0 pass, 1 gate failed, 2 bad input), the JUnit report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import JUnitXml, Skipped

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "evals" / "data" / "questions.jsonl"
# Two answerable questions whose gold lies in the slice corpus, and one nothing in it can answer.
SLICE_QUESTIONS = ("A09", "A52", "A48")

pytestmark = pytest.mark.integration


def citewise(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    script = Path(sys.executable).with_name("citewise")
    return subprocess.run([str(script), *map(str, args)], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300)


@pytest.fixture(scope="module")
def questions(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("questions") / "slice.jsonl"
    lines = [line for line in QUESTIONS.read_text(encoding="utf-8").splitlines()
             if json.loads(line)["id"] in SLICE_QUESTIONS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def first_run(slice_settings, questions, tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("eval_out")
    lenient = out / "lenient.json"
    lenient.write_text(json.dumps({"tolerance": 0.0, "metrics": {"quote_exactness": {"min": 1.0}}}))
    done = citewise("eval", "answers", "--questions", questions, "--index", slice_settings.index, "--engine",
                    "offline", "--out", out, "--thresholds", lenient, "--json")
    return done, out


def test_eval_answers_writes_reports_and_passes_a_met_gate(first_run) -> None:
    done, out = first_run
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert json.loads((out / "report.json").read_text()) == report
    assert sorted(q["id"] for q in report["questions"]) == sorted(SLICE_QUESTIONS)
    assert report["counts"]["answerable"] == 2 and report["counts"]["unanswerable"] == 1
    metrics = report["metrics"]
    assert metrics["quote_exactness"] == 1.0 and metrics["attribution"] == 1.0
    for name in ("citation_recall", "citation_precision", "evidence_hit", "retrieval_recall@5", "retrieval_recall@10",
                 "retrieval_mrr@10", "refusal_rate", "false_refusal_rate"):
        assert 0.0 <= metrics[name] <= 1.0, name
    assert metrics["latency_p50_s"] <= metrics["latency_p95_s"]
    markdown = (out / "report.md").read_text()
    assert "| quote_exactness | 1.000 |" in markdown and "AttributionBench" in markdown


def test_eval_answers_exits_1_with_one_line_per_failing_metric(first_run, questions, slice_settings,
                                                               tmp_path) -> None:
    _, out = first_run
    strict = tmp_path / "strict.json"
    strict.write_text(json.dumps({"tolerance": 0.0, "metrics": {
        "quote_exactness": {"min": 1.0}, "refusal_rate": {"min": 1.01}, "latency_p95_s": {"max": 0.0}}}))
    baseline = json.loads((out / "report.json").read_text())
    baseline["metrics"]["evidence_hit"] = 2.0  # better than any run can be
    baseline_path = tmp_path / "baseline.json"
    baseline_path.write_text(json.dumps(baseline))
    done = citewise("eval", "answers", "--questions", questions, "--index", slice_settings.index,
                    "--out", tmp_path / "out", "--thresholds", strict, "--baseline", baseline_path)
    assert done.returncode == 1
    failing = [line for line in done.stderr.splitlines() if line.startswith("eval failed:")]
    assert sorted(line.split()[2].rstrip(":") for line in failing) == [
        "evidence_hit", "latency_p95_s", "refusal_rate"]
    assert "Traceback" not in done.stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text())["failures"]


def test_eval_answers_bad_input_exits_2_naming_each_bad_line_before_anything_runs(slice_settings, questions,
                                                                                  tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "q", "answerable": true}\n{"id": "y", "question": \n'
                   '{"id": "z", "question": "q", "answerable": "yes"}\n')
    done = citewise("eval", "answers", "--questions", bad, "--index", slice_settings.index, "--out", tmp_path / "out")
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("citewise: error:")]
    assert [line.split(":")[3] for line in errors] == ["2", "3"] and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "report.json").exists()  # no question was run
    typo = tmp_path / "typo.json"
    typo.write_text('{"metrics": {"quote_exactness": {"minimum": 1.0}}}')
    done = citewise("eval", "answers", "--questions", questions, "--index", slice_settings.index,
                    "--out", tmp_path / "out", "--thresholds", typo)
    assert done.returncode == 2 and "unknown field 'metrics.quote_exactness.minimum'" in done.stderr
    assert not (tmp_path / "out" / "report.json").exists()


def test_thresholds_beside_the_set_gate_it_and_unmeasured_metrics_fail_only_if_required(slice_settings, questions,
                                                                                         tmp_path) -> None:
    team = tmp_path / "team.jsonl"
    team.write_text(questions.read_text(encoding="utf-8"), encoding="utf-8")
    out, junit = tmp_path / "out", tmp_path / "junit" / "eval.xml"
    # No thresholds file beside the set: the report is printed, and the exit status says the run worked.
    done = citewise("eval", "answers", "--questions", team, "--index", slice_settings.index, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "nothing gated" in done.stderr and "| quote_exactness | 1.000 | - |" in done.stdout
    assert json.loads((out / "report.json").read_text())["thresholds_file"] is None
    # A thresholds file beside it gates it; no question of the slice names an absent work, so missing_named_rate is
    # not measured: a note, unless the file marks it required.
    gates = {"quote_exactness": {"min": 1.0, "required": True}, "missing_named_rate": {"min": 0.6}}
    (tmp_path / "team.thresholds.json").write_text(json.dumps({"metrics": gates}))
    done = citewise("eval", "answers", "--questions", team, "--index", slice_settings.index, "--out", out,
                    "--junit", junit)
    assert done.returncode == 0, done.stderr
    assert "eval note: missing_named_rate: not measured" in done.stderr and "eval failed" not in done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["thresholds_file"] == str(tmp_path / "team.thresholds.json") and report["failures"] == []
    suites = {suite.name: list(suite) for suite in JUnitXml.fromfile(str(junit))}
    assert sorted(case.name.split(":")[0] for case in suites["questions"]) == sorted(SLICE_QUESTIONS)
    assert all(case.is_passed for case in suites["questions"])
    by_metric = {case.name.split()[0]: case for case in suites["gates"]}
    assert by_metric["quote_exactness"].is_passed and isinstance(by_metric["missing_named_rate"].result[0], Skipped)
    gates["missing_named_rate"]["required"] = True
    (tmp_path / "team.thresholds.json").write_text(json.dumps({"metrics": gates}))
    done = citewise("eval", "answers", "--questions", team, "--index", slice_settings.index, "--out", out,
                    "--junit", junit)
    assert done.returncode == 1
    assert [line for line in done.stderr.splitlines() if line.startswith("eval failed:")] == [
        "eval failed: missing_named_rate: not measured (no question of this run gives it data), required, so the run "
        "fails"]
    (gate_case,) = [case for suite in JUnitXml.fromfile(str(junit)) if suite.name == "gates" for case in suite
                    if case.name.startswith("missing_named_rate")]
    assert not gate_case.is_passed and "required" in gate_case.result[0].message


@pytest.mark.slow  # tests/test_eval_selftest.py runs the same selftest in-process on every default run
def test_eval_selftest_cli_reports_full_detection(slice_settings) -> None:
    done = citewise("eval", "selftest", "--json", "--index", slice_settings.index)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["detection_rate"] == 1.0 and summary["passed"]
    assert {"changed_word", "swapped_author", "swapped_year", "spliced_sources", "invented_quote",
            "wrong_passage_other_source", "dropped_citation"} <= {case["mutation"] for case in summary["cases"]}
