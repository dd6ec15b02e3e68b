"""HTML reader: the visible text (block elements become paragraphs), h1-h3 headings, <title>/<meta> metadata.

The canonical text of an HTML file is the extracted text, not the markup; the EPUB reader reuses the extraction.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from citewise.core.types import ParsedDocument, SourceMeta
from citewise.ingest.readers.common import UnreadableFile, meta_from_filename

_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "html", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
# Content never shown as text. `head` is skipped too, but its <title> and <meta> are read for metadata.
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "math", "head", "select", "iframe"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3"})
_AUTHOR_NAMES = frozenset({"author", "dc.creator", "citation_author", "dcterms.creator"})
_DATE_NAMES = frozenset({"date", "dc.date", "citation_date", "citation_publication_date", "dcterms.date",
                         "dc.date.issued"})
_YEAR = re.compile(r"\b(1[0-9]\d\d|20\d\d)\b")
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
# Stands for <br> inside a block until the block's white space is folded; real NULs are removed first.
_LINE_BREAK = "\x00"


@dataclass
class HtmlText:
    """Text extracted from one HTML document, with its h1-h3 headings and <head> metadata."""

    text: str
    headings: list[tuple[int, str]] = field(default_factory=list)
    title: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, bool]] = []  # (text, is a heading)
        self._buffer: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0
        self._heading_depth = 0
        self._in_title = False
        self._title_done = False
        self.title_parts: list[str] = []
        self.authors: list[str] = []
        self.dates: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            self._read_meta(dict(attrs))
            return
        if tag == "title":
            # Only the first: later <title>s are inside inline SVG drawings, not the document's own.
            self._in_title = not self._title_done
            return
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag == "br":
            self._buffer.append(_LINE_BREAK)
        elif tag in _BLOCK_TAGS:
            self._flush()
            if tag == "pre":
                self._pre_depth += 1
            elif tag in _HEADING_TAGS:
                self._heading_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._title_done = self._title_done or self._in_title
            self._in_title = False
            return
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth or tag not in _BLOCK_TAGS:
            return
        self._flush()
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        elif tag in _HEADING_TAGS:
            self._heading_depth = max(0, self._heading_depth - 1)

    def handle_data(self, data: str) -> None:
        data = data.replace(_LINE_BREAK, "")
        if self._in_title:
            self.title_parts.append(data)
        elif not self._skip_depth:
            self._buffer.append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _read_meta(self, attrs: dict[str, str | None]) -> None:
        name = (attrs.get("name") or attrs.get("property") or "").strip().lower()
        content = " ".join((attrs.get("content") or "").split())
        if not content:
            return
        if name in _AUTHOR_NAMES and content not in self.authors:
            self.authors.append(content)
        elif name in _DATE_NAMES:
            self.dates.append(content)

    def _flush(self) -> None:
        raw = "".join(self._buffer)
        self._buffer = []
        if self._pre_depth:
            lines = [line.rstrip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
            text = "\n".join(lines).replace(_LINE_BREAK, "\n").strip("\n")
            if not text.strip():
                return
        else:
            lines = [" ".join(part.split()) for part in raw.split(_LINE_BREAK)]
            text = "\n".join(line for line in lines if line)
            if not text:
                return
        self.blocks.append((text, self._heading_depth > 0))


def extract_html_text(markup: str) -> HtmlText:
    """Visible text of `markup`: one paragraph per block element, separated by blank lines."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    parts: list[str] = []
    headings: list[tuple[int, str]] = []
    offset = 0
    for text, is_heading in parser.blocks:
        if parts:
            offset += 2  # the "\n\n" joining blocks
        if is_heading:
            headings.append((offset, " ".join(text.split())))
        parts.append(text)
        offset += len(text)
    year_match = next((m for m in map(_YEAR.search, parser.dates) if m), None)
    return HtmlText(
        text="\n\n".join(parts),
        headings=headings,
        title=" ".join("".join(parser.title_parts).split()),
        authors=parser.authors,
        year=int(year_match.group(1)) if year_match else None,
    )


def decode_html(data: bytes) -> str:
    """UTF-8 (or a BOM's encoding), else the charset the document declares; binary data is refused."""
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if b"\x00" in data[:8192]:
        raise UnreadableFile("binary file, not HTML")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    declared = _CHARSET.search(data[:4096])
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    raise UnreadableFile(
        f"not valid UTF-8 (byte 0x{data[utf8_error.start]:02x} at offset {utf8_error.start}) "
        "and no usable charset declared"
    )


def read_html(path: Path, data: bytes) -> ParsedDocument:
    extracted = extract_html_text(decode_html(data))
    fallback = meta_from_filename(path)
    meta = SourceMeta(
        title=extracted.title or fallback.title,
        author="; ".join(extracted.authors) or fallback.author,
        year=extracted.year if extracted.year is not None else fallback.year,
    )
    return ParsedDocument(text=extracted.text, meta=meta, headings=extracted.headings)
