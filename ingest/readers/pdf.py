"""PDF reader (pypdf): the text layer page by page, pages joined by a blank line, with 1-based page spans."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

from citewise.core.types import ParsedDocument, SourceMeta
from citewise.ingest.readers.common import UnreadableFile, meta_from_filename

_PAGE_SEPARATOR = "\n\n"
_YEAR = re.compile(r"(1[5-9]\d\d|20\d\d)")


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    # pypdf logs and warns about every irregularity it repairs; the pipeline reports a bad file on one line
    # of its own, so these messages would only break that promise.
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _clean_page(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _short(exc: Exception) -> str:
    message = " ".join(str(exc).split())[:120]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def read_pdf(path: Path, data: bytes) -> ParsedDocument:
    from pypdf import PdfReader

    with _quiet_pypdf():
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise UnreadableFile("encrypted PDF (a password is needed)")
            page_texts = [_clean_page(page.extract_text() or "") for page in reader.pages]
        except UnreadableFile:
            raise
        except Exception as exc:  # pypdf raises many kinds of errors on damaged input
            raise UnreadableFile(f"not a readable PDF ({_short(exc)})") from None
        meta = _pdf_meta(reader, path)
    if not page_texts:
        raise UnreadableFile("PDF has no pages")
    parts: list[str] = []
    pages: list[tuple[int, int, int]] = []
    offset = 0
    for number, page_text in enumerate(page_texts, start=1):
        if not page_text:
            continue  # blank or image-only pages add no text and no span
        if parts:
            offset += len(_PAGE_SEPARATOR)
        pages.append((offset, offset + len(page_text), number))
        parts.append(page_text)
        offset += len(page_text)
    if not parts:
        raise UnreadableFile("no text layer (scanned PDF?)")
    return ParsedDocument(text=_PAGE_SEPARATOR.join(parts), meta=meta, pages=pages)


def _pdf_meta(reader: object, path: Path) -> SourceMeta:
    fallback = meta_from_filename(path)
    try:
        info = reader.metadata or {}  # type: ignore[attr-defined]
        title = " ".join(str(info.get("/Title") or "").split())
        author = " ".join(str(info.get("/Author") or "").split())
        created = _YEAR.search(str(info.get("/CreationDate") or ""))
    except Exception:  # a damaged info dictionary costs only the metadata, never the text
        title, author, created = "", "", None
    return SourceMeta(
        title=title or fallback.title,
        author=author or fallback.author,
        year=int(created.group(1)) if created else fallback.year,
    )
