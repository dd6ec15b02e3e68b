"""Plain text (Project Gutenberg style, hard-wrapped) and Markdown readers."""

from __future__ import annotations

import re
from pathlib import Path

from citewise.core.types import ParsedDocument, SourceMeta
from citewise.ingest.manifest import normal_kind, split_aliases
from citewise.ingest.readers.common import meta_from_filename, read_text_file
from citewise.ingest.readers.headings import merge_label_headings, plain_text_headings

# '=### Title=' is how one corpus file's converter wrote level-4 headings. Only the marks are found by a pattern:
# one that also took the text and its closing marks ('(.+?)\s*#*=?[ \t]*$') backtracked cubically on a heading
# with a long run of spaces inside (5 s for 1,000 spaces, 5 minutes for 4,000).
_MD_HEADING_MARKS = re.compile(r"^=?#{1,6}\s+", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
# Markup that is not text to quote: HTML comments, images whose address is a data URI (the whole `![alt](data:...)`),
# and any other data URI (in a link or an <img src="...">). Base64 holds no space, quote, bracket or angle bracket.
_NOT_TEXT = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|!\[[^\[\]\n]*\]\(\s*data:[^\s)]*\s*\)"
    r"|\bdata:(?:[\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+(?:=[\w.+-]*)?)*,[^\s\"'()<>\[\]]*",
    re.DOTALL | re.IGNORECASE)


def read_plain_text(path: Path, data: bytes) -> ParsedDocument:
    text = read_text_file(data)
    return ParsedDocument(text=text, meta=meta_from_filename(path), headings=plain_text_headings(text))


def read_markdown(path: Path, data: bytes) -> ParsedDocument:
    text = read_text_file(data)
    headings = merge_label_headings(text, _markdown_headings(text))
    hidden = [match.span() for match in _NOT_TEXT.finditer(text)]
    return ParsedDocument(text=text, meta=_front_matter_meta(text) or meta_from_filename(path), headings=headings,
                          hidden=hidden)


def _markdown_headings(text: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, text, False) of each '# Heading' line: the text after the marks, less closing marks
    ('## Title ##', '=### Title=') and trailing white space; in time linear in the line, whatever its spaces."""
    found: list[tuple[int, int, str, bool]] = []
    line_end = 0
    for marks in _MD_HEADING_MARKS.finditer(text):
        start = marks.end()
        # The white space after the marks may run over lines (a lone '#' takes the next line as its text): a line
        # taken so is not a heading of its own. White space to the end of the text is no heading at all.
        if marks.start() < line_end or start == len(text):
            continue
        line_end = text.find("\n", start) % (len(text) + 1)
        line = text[start:line_end]
        # From the right: spaces and tabs, one '=', '#'s, then any white space; the text keeps at least a character.
        kept = line.rstrip(" \t")
        kept = kept[:-1] if kept.endswith("=") else kept
        kept = kept.rstrip("#").rstrip() or line[0]
        found.append((start, start + len(kept), kept, False))
    return found


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
