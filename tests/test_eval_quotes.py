"""`citewise eval quotes` end to end on the slice corpus and its index: answers written by another system, each
quotation checked against the file it names; the selftest's corruptions, written as such answers, are all caught."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from citewise.answers.quotes.support import load_support_scorer
from citewise.evals.faithfulness import FaithfulnessChecker
from citewise.evals.quotes.format import as_outside_answer
from citewise.evals.selftest import correct_answers, mutations
from citewise.store.sqlite_faiss import SqliteIndexReader
from tests.cli import run_cli

pytestmark = pytest.mark.integration

WRIGHT = "wright-1919-eleusinian-mysteries-and-rites.txt"
# Verbatim in the file, but quoted with its hard-wrapped lines joined and straight quotes: still verbatim.
VERBATIM = ("Secrecy was enjoined because it was regarded as essential that the profane should not be permitted to "
            "share the knowledge of the true nature of Demeter and Persephone")
ALTERED = VERBATIM.replace("profane", "faithful")


@pytest.fixture(scope="module")
def corrupted(slice_settings, embedder, tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """The selftest's 36 corrupted answers (3 correct answers x 12 corruptions) and the 3 correct ones, each written
    as an outside system would: file, quote, offsets, cited passage, title/author/year, and the prose."""
    reader = SqliteIndexReader(slice_settings.index)
    checker = FaithfulnessChecker(reader, load_support_scorer(slice_settings, embedder=embedder))
    answers = correct_answers(checker, 3)
    folder = tmp_path_factory.mktemp("outside")
    bad, good, ids = folder / "corrupted.jsonl", folder / "correct.jsonl", []
    with bad.open("w", encoding="utf-8") as bad_out, good.open("w", encoding="utf-8") as good_out:
        for b, answer in enumerate(answers):
            good_out.write(as_outside_answer(answer, reader, f"{b}").model_dump_json(exclude_none=True) + "\n")
            for mutation in mutations(reader):
                ids.append(f"{b}-{mutation.name}")
                outside = as_outside_answer(mutation.apply(answer, answers[(b + 1) % len(answers)]), reader, ids[-1])
                bad_out.write(outside.model_dump_json(exclude_none=True) + "\n")
    reader.close()
    return bad, good, ids


def _caught(report: dict) -> dict[str, list[str]]:
    """Per answer, what was found wrong: its failing quotations' statuses and its unsupported statements."""
    return {answer["id"]: [q["status"] for q in answer["quotes"] if q["problems"]]
            + ["unsupported statement" for s in answer["statements"] or [] if not s["supported"]]
            for answer in report["answers"]}


@pytest.mark.parametrize("against", ["--corpus", "--index"])
def test_every_selftest_corruption_fed_in_as_outside_answers_is_caught(corrupted, slice_corpus, slice_settings,
                                                                       against) -> None:
    bad, good, ids = corrupted
    where = str(slice_corpus if against == "--corpus" else slice_settings.index)
    done = run_cli("eval", "quotes", str(good), against, where, "--json")
    assert done.returncode == 0, done.stderr
    assert all(found == [] for found in _caught(json.loads(done.stdout)).values())
    done = run_cli("eval", "quotes", str(bad), against, where, "--json")
    assert done.returncode == 1, done.stderr
    caught = _caught(json.loads(done.stdout))
    assert len(ids) == 36 and sorted(caught) == sorted(ids)
    assert [answer for answer, found in caught.items() if not found] == []
    for answer, found in caught.items():
        mutation = answer.split("-", 1)[1]
        if mutation in ("changed_word", "dropped_word"):
            assert "altered" in found, (answer, found)
        if mutation in ("wrong_passage_same_source", "shifted_offsets"):
            assert "not where claimed" in found, (answer, found)
        if mutation == "wrong_passage_other_source":
            # Only an index can tell cheaply which other file holds the quotation.
            assert ("misattributed" if against == "--index" else "not found") in found, (answer, found)


def test_a_teams_answers_get_the_sources_wording_for_each_misquote(slice_corpus, tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    outside = tmp_path / "outside.txt"  # a file the answers may not name: it is not under --corpus
    outside.write_text(VERBATIM + "\n", encoding="utf-8")
    rows = [{"id": "r1", "question": "Why the secrecy?", "quotes": [
                {"file": WRIGHT, "quote": f"“{VERBATIM}”"}, {"file": WRIGHT, "quote": ALTERED}]},
            {"id": "r2", "question": "Anything?", "quotes": [
                {"file": "absent.txt", "quote": VERBATIM}, {"file": os.path.relpath(outside, slice_corpus),
                                                            "quote": VERBATIM},
                {"file": WRIGHT, "quote": VERBATIM, "author": "Dudley Wright; intro by J. Fort Newton", "year": 1920}]}]
    answers.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    junit = tmp_path / "quotes.xml"
    done = run_cli("eval", "quotes", str(answers), "--corpus", str(slice_corpus), "--junit", str(junit),
                   "--out", str(tmp_path / "out"))
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"r1 [1] ok: verbatim in {WRIGHT} at ")
    assert lines[1] == f'r1 [2] ALTERED: {WRIGHT}: word "faithful" where the source has "profane"'
    assert lines[2].startswith("    the source reads at ") and "the\nprofane" not in lines[2]
    assert "the profane should not be permitted" in lines[2]
    assert lines[3] == "r2 [1] NO SUCH FILE: absent.txt: no file absent.txt in the corpus folder"
    assert lines[4].startswith("r2 [2] NO SUCH FILE") and "outside the corpus folder" in lines[4]
    assert lines[5] == f'r2 [3] WRONG SOURCE DETAILS: {WRIGHT}: year "1920" where the file has "1919"'
    assert lines[6].startswith("5 quotations in 2 answers") and "1 verbatim where claimed" in lines[6]
    cases = {case.name.split(":")[0]: case for suite in JUnitXml.fromfile(str(junit)) for case in suite}
    assert len(cases) == 5 and cases[f"[1] {WRIGHT}"].is_passed
    assert isinstance(cases[f"[2] {WRIGHT}"].result[0], Failure)
    assert "profane" in (tmp_path / "out" / "quotes-report.md").read_text(encoding="utf-8")


def test_a_bad_answers_file_exits_2_naming_its_lines(slice_corpus, slice_settings, tmp_path) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_text('{"id": "a", "quotes": [{"file": "x.txt", "quote": "q"}]}\n'
                       '{"id": "b", "quotes": [{"file": "x.txt", "qoute": "q"}]}\n'
                       '{"id": "c", "quotes": [{"file": "x.txt", "quote": "q", "start": 5}]}\n', encoding="utf-8")
    done = run_cli("eval", "quotes", str(answers), "--corpus", str(slice_corpus))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    errors = done.stderr.splitlines()
    assert errors[0].startswith(f"citewise: error: {answers}:2: ") and "unknown field 'quotes.0.qoute'" in errors[0]
    assert errors[1].startswith(f"citewise: error: {answers}:3: ") and "both 'start' and 'end'" in errors[1]
    answers.write_text('{"id": "a", "quotes": [{"file": "x.txt", "quote": "q"}]}\n', encoding="utf-8")
    both = run_cli("eval", "quotes", str(answers), "--corpus", str(slice_corpus), "--index", str(slice_settings.index))
    assert both.returncode == 2 and "not both" in both.stderr
