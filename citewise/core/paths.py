"""Where the data that lives beside the code is found: the demo corpus and the shared benchmark folder."""

from __future__ import annotations

from pathlib import Path


def checkout_root() -> Path | None:
    """The source checkout this code runs from, or None when it runs from an installed wheel."""
    root = Path(__file__).resolve().parents[2]  # citewise/core/paths.py
    return root if (root / "pyproject.toml").is_file() and (root / "corpus").is_dir() else None


def shared_dir() -> Path:
    """The shared benchmark and question folder that sits beside a checkout (`../shared`): found from the working
    directory first, then from the checkout the code runs from."""
    for base in (Path.cwd(), checkout_root()):
        if base is not None and (base.parent / "shared").is_dir():
            return base.parent / "shared"
    return Path.cwd().parent / "shared"


def demo_corpus() -> Path:
    """The demo corpus: `corpus/` in the working directory, else the checkout's."""
    root = checkout_root()
    if not Path("corpus").is_dir() and root is not None:
        return root / "corpus"
    return Path("corpus")
