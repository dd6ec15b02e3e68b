"""Plain text (Project Gutenberg style, hard-wrapped) and Markdown readers."""

from __future__ import annotations

import re
from pathlib import Path

from citewise.core.types import ParsedDocument, SourceMeta
from citewise.ingest.manifest import normal_kind, split_aliases
from citewise.ingest.readers.common import meta_from_filename, read_text_file
from citewise.ingest.readers.headings import merge_label_headings, plain_text_headings

# '=### Title=' is how one corpus file's converter wrote level-4 headings.
_MD_HEADING = re.compile(r"^=?(#{1,6})\s+(.+?)\s*#*=?[ \t]*$", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
# Markup that is not text to quote: HTML comments, images whose address is a data URI (the whole `![alt](data:...)`),
# and any other data URI (in a link or an <img src="...">). Base64 holds no space, quote, bracket or angle bracket.
_NOT_TEXT = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|!\[[^\]\n]*\]\(\s*data:[^\s)]*\s*\)"
    r"|\bdata:(?:[\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+(?:=[\w.+-]*)?)*,[^\s\"'()<>\[\]]*",
    re.DOTALL | re.IGNORECASE)


def read_plain_text(path: Path, data: bytes) -> ParsedDocument:
    text = read_text_file(data)
    return ParsedDocument(text=text, meta=meta_from_filename(path), headings=plain_text_headings(text))


def read_markdown(path: Path, data: bytes) -> ParsedDocument:
    text = read_text_file(data)
    candidates = [(m.start(2), m.end(), m.group(2), False) for m in _MD_HEADING.finditer(text)]
    headings = merge_label_headings(text, candidates)
    hidden = [match.span() for match in _NOT_TEXT.finditer(text)]
    return ParsedDocument(text=text, meta=_front_matter_meta(text) or meta_from_filename(path), headings=headings,
                          hidden=hidden)


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
        kind=normal_kind(fields.get("kind", "")),
        aliases=split_aliases(fields.get("aliases", "")),
    )
