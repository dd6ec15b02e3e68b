"""Readers turn one file into a ParsedDocument (canonical text, pages, headings, metadata).

Every reader raises UnreadableFile with a short reason for input it cannot use; the pipeline reports the
file and the reason on one line and goes on with the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from citewise.core.types import ParsedDocument, SourceMeta
from citewise.ingest.readers.common import UnreadableFile, read_text_file
from citewise.ingest.readers.text import read_markdown, read_plain_text

Reader = Callable[[Path, bytes], ParsedDocument]

READERS: dict[str, Reader] = {
    ".txt": read_plain_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
}


def _register_optional() -> None:
    # html, pdf and epub readers live in their own modules; they are registered when present.
    try:
        from citewise.ingest.readers.html import read_html
    except ImportError:
        pass
    else:
        READERS.update({".html": read_html, ".htm": read_html})
    try:
        from citewise.ingest.readers.pdf import read_pdf
    except ImportError:
        pass
    else:
        READERS[".pdf"] = read_pdf
    try:
        from citewise.ingest.readers.epub import read_epub
    except ImportError:
        pass
    else:
        READERS[".epub"] = read_epub


_register_optional()


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in READERS


def read_document(path: Path, data: bytes, manifest_meta: SourceMeta | None = None) -> ParsedDocument:
    """Parse `data` (the bytes of `path`); a manifest row, when given, overrides the file's own metadata."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UnreadableFile(f"unsupported file type {path.suffix or '(none)'}")
    if not data.strip():
        raise UnreadableFile("empty file")
    document = reader(path, data)
    if not document.text.strip():
        raise UnreadableFile("no text could be extracted")
    if manifest_meta is not None:
        document = dataclasses.replace(document, meta=manifest_meta)
    return document


__all__ = ["READERS", "UnreadableFile", "is_supported", "read_document", "read_text_file"]
