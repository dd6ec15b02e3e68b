"""The wheel installs one top-level package, `citewise`, and works from outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    (found,) = out.glob("citewise-*.whl")
    return found


def test_wheel_holds_only_the_citewise_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"citewise", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    # The stage folders are inside the package, with their data files.
    for module in ("citewise/ingest/pipeline.py", "citewise/retrieval/retriever.py",
                   "citewise/answers/offline/engine.py",
                   "citewise/answers/quotes/support_model.json", "citewise/server/static/index.html",
                   "citewise/evals/data/questions-2.validation.thresholds.json", "citewise/bench/common.py",
                   "citewise/core/settings.py", "citewise/mcp_server/tools.py",
                   "citewise/answers/reader/reader-int8.onnx"):
        assert module in names


def test_installed_wheel_ingests_and_answers_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    # A venv that sees this one's dependencies but not its editable install of the checkout: a .pth line adds the
    # dependencies' folder to sys.path without running the .pth files in it (the editable hook is one of those).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "elsewhere"
    (work / "texts").mkdir(parents=True)
    (work / "texts" / "note.md").write_text(
        "# Harbour\n\nThe harbour of Valdoria was rebuilt in 1887 after the great storm destroyed the old quay. "
        "The new quay was built of granite brought by barge from the northern quarries.\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITEWISE_")}
    env.pop("PYTHONPATH", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(python), "-m", "citewise", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)

    where = subprocess.run([str(python), "-c", "import citewise.ingest; print(citewise.ingest.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site)), where
    ingested = run("ingest", "texts", "--index", "idx")
    assert ingested.returncode == 0, ingested.stderr
    asked = run("ask", "When was the harbour of Valdoria rebuilt?", "--index", "idx", "--json")
    assert asked.returncode == 0, asked.stderr
    assert "1887" in asked.stdout
