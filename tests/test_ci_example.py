"""docs/ci-example.yml, run as GitHub Actions would run it, on a team's repository as docs/EVALUATION.md lays it out:
one corpus file, the minimal question file and thresholds file shown in the docs, and every `run:` step as written
(bash -eo pipefail, the workflow's env, in the repository's folder). The actions it uses are played by the test:
checkout (the folder is the checkout), setup-python (a fresh Python environment holding nothing of citewise),
cache (a miss), upload-artifact (the path must hold the reports)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from tests.cli import clean_environment

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "docs" / "ci-example.yml"
GUIDE = REPO / "docs" / "EVALUATION.md"
CORPUS_FILE = "medlineplus-2025-ptsd-club-drugs-drug-use-summaries.md"


def guide_block(after: str, language: str) -> str:
    """The first ```language block of docs/EVALUATION.md after the line holding `after`."""
    text = GUIDE.read_text(encoding="utf-8")
    found = re.search(re.escape(after) + r".*?\n```" + language + r"\n(.*?)```", text, re.DOTALL)
    assert found, f"no ```{language} block after {after!r} in {GUIDE}"
    return found.group(1)


@pytest.fixture(scope="module")
def team_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository the workflow is checked out in: corpus/, evals/ (from the docs), and vendor/ with the wheel."""
    repo = tmp_path_factory.mktemp("team") / "repo"
    (repo / "corpus").mkdir(parents=True)
    shutil.copy(REPO / "corpus" / CORPUS_FILE, repo / "corpus" / CORPUS_FILE)
    (repo / "evals").mkdir()
    (repo / "evals" / "questions.jsonl").write_text(guide_block("evals/questions.jsonl", "jsonl"), encoding="utf-8")
    (repo / "evals" / "questions.thresholds.json").write_text(
        guide_block("evals/questions.thresholds.json", "json"), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(repo / "vendor"), str(REPO)], check=True, capture_output=True, timeout=300)
    return repo


def setup_python(folder: Path) -> Path:
    """A new Python environment with citewise's dependencies on its path (through a .pth line, so that the
    dependencies' own .pth files, the editable install of this checkout among them, are not run) and no citewise:
    the workflow's install step must put it there."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return folder / "bin"


def test_the_ci_example_runs_as_written(team_repository: Path, tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    summary = tmp_path / "step-summary.md"
    env = clean_environment({**{k: str(v) for k, v in workflow.get("env", {}).items()},
                             "GITHUB_STEP_SUMMARY": str(summary)})
    env.pop("PYTHONPATH", None)
    ran, uploaded = [], None
    for step in job["steps"]:
        uses = step.get("uses", "")
        if uses.startswith("actions/checkout@"):
            continue  # the team's repository is already laid out in its folder
        if uses.startswith("actions/setup-python@"):
            assert step["with"]["python-version"] == f"{sys.version_info.major}.{sys.version_info.minor}"
            env["PATH"] = f"{setup_python(tmp_path / 'python')}{os.pathsep}{env['PATH']}"
            continue
        if uses.startswith("actions/cache@"):
            continue  # a first run: nothing cached
        if uses.startswith("actions/upload-artifact@"):
            uploaded = team_repository / step["with"]["path"]
            continue
        assert "run" in step, f"a step the test cannot play: {step}"
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=team_repository, env={**env, **step.get("env", {})}, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{step.get('name', step['run'])}:\n{done.stdout}\n{done.stderr}"
        ran.append((step["run"], done))
    assert len(ran) == 4
    install, _, evaluation, _ = (done for _, done in ran)
    # The citewise that ran is the one the install step put in the new environment.
    assert str(shutil.which("citewise", path=env["PATH"])).startswith(str(tmp_path / "python"))
    assert "Successfully installed citewise" in install.stdout
    # The gate was the thresholds file; the metric no question gives data to is reported, not failed.
    assert "eval note: missing_named_rate: not measured" in evaluation.stderr
    assert "eval failed" not in evaluation.stderr
    assert uploaded is not None and {p.name for p in uploaded.iterdir()} == {"report.md", "report.json", "junit.xml"}
    suites = {suite.name: list(suite) for suite in JUnitXml.fromfile(str(uploaded / "junit.xml"))}
    questions = guide_block("evals/questions.jsonl", "jsonl").strip().splitlines()
    assert len(suites["questions"]) == len(questions) and all(case.is_passed for case in suites["questions"])
    assert any(case.name.startswith("quote_exactness") and case.is_passed for case in suites["gates"])
    assert summary.read_text(encoding="utf-8").startswith("# Citation-faithfulness eval")
