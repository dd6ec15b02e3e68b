"""Plain text (Project Gutenberg style, hard-wrapped) and Markdown readers."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.models import ParsedDocument, SourceMeta
from ingest.readers.common import meta_from_filename, read_text_file

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_TXT_HEADING_WORD = re.compile(r"^(chapter|lecture|book|part|section|preface|introduction|contents)\b", re.I)


def read_plain_text(path: Path, data: bytes) -> ParsedDocument:
    text = read_text_file(data)
    return ParsedDocument(text=text, meta=meta_from_filename(path), headings=plain_text_headings(text))


def plain_text_headings(text: str) -> list[tuple[int, str]]:
    """Short lines standing alone between blank lines, in capitals or starting 'CHAPTER', 'LECTURE', ..."""
    headings: list[tuple[int, str]] = []
    offset = 0
    lines = text.split("\n")
    for index, line in enumerate(lines):
        stripped = line.strip()
        alone = (index == 0 or not lines[index - 1].strip()) and (
            index + 1 >= len(lines) or not lines[index + 1].strip()
        )
        if alone and 3 <= len(stripped) <= 80 and _looks_like_heading(stripped):
            headings.append((offset + line.index(stripped[0]), stripped))
        offset += len(line) + 1
    return headings


def _looks_like_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    if len(letters) < 3:
        return False
    capitals = sum(c.isupper() for c in letters) / len(letters)
    return capitals > 0.8 or bool(_TXT_HEADING_WORD.match(line))


def read_markdown(path: Path, data: bytes) -> ParsedDocument:
    text = read_text_file(data)
    headings = [(m.start(2), m.group(2)) for m in _MD_HEADING.finditer(text)]
    return ParsedDocument(text=text, meta=_front_matter_meta(text) or meta_from_filename(path), headings=headings)


def _front_matter_meta(text: str) -> SourceMeta | None:
    match = _FRONT_MATTER.match(text)
    if not match:
        return None
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip().strip("\"'")
    if "title" not in fields:
        return None
    year: int | str | None = fields.get("year") or fields.get("date", "")[:4] or None
    if isinstance(year, str) and year.isdigit():
        year = int(year)
    return SourceMeta(
        title=fields["title"],
        author=fields.get("author", ""),
        year=year,
        licence=fields.get("licence", fields.get("license", "")),
        origin=fields.get("origin", fields.get("url", "")),
    )
