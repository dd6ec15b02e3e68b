"""MANIFEST.tsv: one row per file giving title, author, year, licence, origin, and optionally kind and aliases."""

from __future__ import annotations

import csv
from pathlib import Path

from citewise.core.errors import CitewiseError
from citewise.core.types import SourceMeta

MANIFEST_NAME = "MANIFEST.tsv"
_REQUIRED = ("file", "title")


def load_manifest(folder: Path) -> dict[str, SourceMeta]:
    """Rows keyed by file name; an absent manifest is an empty one."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            missing = [name for name in _REQUIRED if name not in (reader.fieldnames or [])]
            if missing:
                raise CitewiseError(f"{path}: missing column(s) {', '.join(missing)}")
            rows = list(reader)
    except UnicodeDecodeError:
        raise CitewiseError(f"{path}: not valid UTF-8") from None
    manifest: dict[str, SourceMeta] = {}
    for line_number, row in enumerate(rows, start=2):
        name = (row.get("file") or "").strip()
        if not name:
            raise CitewiseError(f"{path}:{line_number}: empty 'file' column")
        year_text = (row.get("year") or "").strip()
        manifest[name] = SourceMeta(
            title=(row.get("title") or "").strip() or name,
            author=(row.get("author") or "").strip(),
            year=int(year_text) if year_text.isdigit() else (year_text or None),
            licence=(row.get("licence") or row.get("license") or "").strip(),
            origin=(row.get("origin") or "").strip(),
            kind=normal_kind(row.get("kind") or ""),
            aliases=split_aliases(row.get("aliases") or ""),
        )
    return manifest


def normal_kind(kind: str) -> str:
    """Kinds compare case- and space-insensitively: "Encyclopedia  Article" is "encyclopedia article"."""
    return " ".join(kind.lower().split())


def split_aliases(text: str) -> tuple[str, ...]:
    """`aliases` holds other names for the work separated by semicolons: "the Big Book; Big Book"."""
    return tuple(alias for alias in (part.strip() for part in text.split(";")) if alias)
