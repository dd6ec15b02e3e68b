"""A report written as JSON and Markdown side by side: the one way both `eval answers` and `eval quotes` write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from citewise.core.errors import CitewiseError


def write_json_and_markdown(report: dict[str, Any], markdown: str, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """`out_dir/STEM.json` and `out_dir/STEM.md`; a folder that cannot be written is an error naming it."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
        json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        md_path.write_text(markdown, encoding="utf-8")
    except OSError as exc:
        raise CitewiseError(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from exc
    return json_path, md_path
