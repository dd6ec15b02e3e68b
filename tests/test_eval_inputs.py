"""The eval harness's inputs: the question format (every bad line named, nothing half-read), thresholds that belong to
a question set (found beside it, strict, "not measured" failing only where required), and the JUnit writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml, Skipped

from citewise.core.errors import CitewiseError, InvalidInput
from citewise.evals.junit import JUnitCase, write_junit
from citewise.evals.metric_specs import SPECS
from citewise.evals.questions import load_questions
from citewise.evals.thresholds import find_thresholds, gate, gate_checks, load_thresholds, thresholds_beside

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "evals" / "data"


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows),
                    encoding="utf-8")
    return path


# --- questions ------------------------------------------------------------------------------------------------

def test_every_bad_question_line_is_named_with_what_is_wrong(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.jsonl", [
        {"id": "ok", "question": "Who?", "answerable": True},
        {"id": "a", "question": "Who?"},  # 2: answerable missing
        {"id": "b", "question": "Who?", "answerable": "false"},  # 3: a string, not a boolean
        {"id": "c", "question": "Who?", "answerable": True, "glod": []},  # 4: a misspelt field
        '{"id": "d", "question": ',  # 5: broken JSON
        {"id": "e", "question": "Who?", "answerable": False, "gold": [{"file": "f.txt", "quote": "q"}]},  # 6
        {"id": "ok", "question": "Again?", "answerable": True},  # 7: repeated id
        {"id": "g", "question": "Who?", "answerable": True, "gold": [{"file": "f.txt"}]},  # 8: gold without quote
        ["not", "an", "object"],  # 9
    ])
    with pytest.raises(InvalidInput) as caught:
        load_questions(path)
    problems = caught.value.problems
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4", "5", "6", "7", "8", "9"]
    assert all(p.startswith(f"{path}:") for p in problems)
    said = dict(zip(["2", "3", "4", "5", "6", "7", "8", "9"], problems, strict=True))
    assert "missing field 'answerable'" in said["2"]
    assert "field 'answerable'" in said["3"] and "boolean" in said["3"]
    assert "unknown field 'glod'" in said["4"]
    assert "not JSON" in said["5"]
    assert "unanswerable question has gold quotes" in said["6"]
    assert "repeats line 1" in said["7"]
    assert "missing field 'gold.0.quote'" in said["8"]
    assert "not a JSON object" in said["9"]


def test_our_question_files_are_valid_and_a_team_may_keep_notes_and_meta(tmp_path: Path) -> None:
    assert len(load_questions(DATA / "questions-2.jsonl", "validation")) == 88
    assert len(load_questions(DATA / "questions.jsonl")) == 53
    path = _write(tmp_path / "q.jsonl", [{"id": "1", "question": "Who?", "answerable": True, "note": "why",
                                          "meta": {"owner": "team-a", "ticket": 12}}])
    assert load_questions(path)[0].meta == {"owner": "team-a", "ticket": 12}


def test_an_unreadable_or_empty_questions_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CitewiseError, match="cannot read questions file"):
        load_questions(tmp_path / "absent.jsonl")
    with pytest.raises(CitewiseError, match="holds no questions"):
        load_questions(_write(tmp_path / "empty.jsonl", ["", "  "]))


# --- thresholds -----------------------------------------------------------------------------------------------

def test_thresholds_are_found_beside_their_question_set_split_first(tmp_path: Path) -> None:
    questions = _write(tmp_path / "team.jsonl", [{"id": "1", "question": "Who?", "answerable": True}])
    assert find_thresholds(questions) is None and find_thresholds(questions, "validation") is None
    whole = tmp_path / "team.thresholds.json"
    whole.write_text('{"metrics": {}}')
    assert find_thresholds(questions) == whole and find_thresholds(questions, "validation") == whole
    split = tmp_path / "team.validation.thresholds.json"
    split.write_text('{"metrics": {}}')
    assert find_thresholds(questions, "validation") == split and find_thresholds(questions, "tune") == whole
    assert thresholds_beside(questions, "tune") == [tmp_path / "team.tune.thresholds.json", whole]


def test_our_gate_belongs_to_the_validation_half_and_requires_every_metric() -> None:
    ours = find_thresholds(DATA / "questions-2.jsonl", "validation")
    assert ours == DATA / "questions-2.validation.thresholds.json"
    # No other run of our sets is gated by it: the tune half, the whole file and the development set are not.
    assert find_thresholds(DATA / "questions-2.jsonl", "tune") is None
    assert find_thresholds(DATA / "questions-2.jsonl") is None and find_thresholds(DATA / "questions.jsonl") is None
    bounds = load_thresholds(ours)
    assert bounds.tolerance == 0.02 and len(bounds.metrics) == 15
    # As before thresholds were per set: every gated metric the run cannot measure fails it.
    assert all(bound.required for bound in bounds.metrics.values())
    assert len(gate(dict.fromkeys(SPECS), bounds)) == 15


def test_a_thresholds_file_with_a_typo_is_refused_naming_it(tmp_path: Path) -> None:
    for text, wanted in (('{"metrics": {"evidence_hit": {"mni": 0.5}}}', "unknown field 'metrics.evidence_hit.mni'"),
                         ('{"metrics": {"evidence_hits": {"min": 0.5}}}', "unknown metric(s) evidence_hits"),
                         ('{"metrics": {"evidence_hit": {"why": "no bound"}}}', "give 'min' or 'max'"),
                         ('{"tolerence": 0.1}', "unknown field 'tolerence'"),
                         ('{"metrics": ', "not JSON")):
        path = tmp_path / "t.json"
        path.write_text(text)
        with pytest.raises(CitewiseError) as caught:
            load_thresholds(path)
        assert str(path) in str(caught.value) and wanted in str(caught.value), caught.value


def test_not_measured_fails_only_where_required() -> None:
    bounds = {"metrics": {"missing_named_rate": {"min": 0.6}, "part_coverage": {"min": 0.8, "required": True},
                          "refusal_rate": {"min": 0.5}}}
    checks = {c.metric: c for c in gate_checks({"refusal_rate": 0.4}, bounds)}
    assert checks["missing_named_rate"].status == "not measured" and not checks["missing_named_rate"].failed
    assert checks["part_coverage"].failed and "required" in checks["part_coverage"].message
    assert checks["refusal_rate"].failed and "below threshold 0.5" in checks["refusal_rate"].message


# --- JUnit ----------------------------------------------------------------------------------------------------

def test_junit_report_is_read_back_by_a_junit_parser(tmp_path: Path) -> None:
    cases = [JUnitCase("questions", "Q1: Who wrote it?", "pass", output="answered", seconds=0.25,
                       properties={"refused": False, "kind": None}),
             JUnitCase("questions", "Q2: What \x07 is <this> & that?", "fail", "[1] altered: word \"x\"", "details"),
             JUnitCase("gates", "missing_named_rate ≥ 0.6", "skip", "not measured")]
    path = write_junit(tmp_path / "deep" / "junit.xml", "citewise eval answers", cases)
    xml = JUnitXml.fromfile(str(path))
    suites = {suite.name: list(suite) for suite in xml}
    assert list(suites) == ["questions", "gates"]
    first, second = suites["questions"]
    assert first.is_passed and first.time == pytest.approx(0.25) and first.system_out == "answered"
    assert isinstance(second.result[0], Failure) and second.result[0].message.startswith("[1] altered")
    assert "<this> & that" in second.name
    assert isinstance(suites["gates"][0].result[0], Skipped)
