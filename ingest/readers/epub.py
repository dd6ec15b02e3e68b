"""EPUB reader (zipfile + the OPF package file): chapters in spine order, each through the HTML text extraction."""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

from citewise.core.types import ParsedDocument, SourceMeta
from citewise.ingest.readers.common import UnreadableFile, meta_from_filename
from citewise.ingest.readers.html import decode_html, extract_html_text

_CONTAINER = "META-INF/container.xml"
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html"})
_CHAPTER_SEPARATOR = "\n\n"
_YEAR = re.compile(r"\b(1[0-9]\d\d|20\d\d)\b")
# What an EPUB may inflate to: max_file_mb bounds only its compressed size, and a megabyte of zip can inflate to a
# gigabyte. A real chapter is rarely above a few MB and a whole book's text a few tens.
MAX_MEMBER_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024


class _Inflated:
    """Reads archive members within the per-member and per-archive limits, counting what the archive gave."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.left = MAX_TOTAL_BYTES

    def read(self, name: str) -> bytes:
        info = self.archive.getinfo(name)  # KeyError for a missing member, as archive.read raises
        limit = min(MAX_MEMBER_BYTES, self.left)
        # The declared size is checked first; the bounded read catches an archive that understates it.
        if info.file_size > limit:
            raise self._refused(name, info.file_size)
        with self.archive.open(info) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise self._refused(name, len(data))
        self.left -= len(data)
        return data

    def _refused(self, name: str, size: int) -> UnreadableFile:
        if size > MAX_MEMBER_BYTES:
            what = f"{name} inflates to more than {MAX_MEMBER_BYTES >> 20} MB"
        else:
            what = f"its members inflate to more than {MAX_TOTAL_BYTES >> 20} MB in all (at {name})"
        return UnreadableFile(f"refused: {what} (a zip bomb, or not an ordinary EPUB)")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_xml(archive: _Inflated, name: str, what: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(archive.read(name))
    except KeyError:
        raise UnreadableFile(f"not a valid EPUB (no {what} at {name})") from None
    except ElementTree.ParseError as exc:
        raise UnreadableFile(f"not a valid EPUB ({what} is not well-formed XML: {exc})") from None


def _package_path(archive: _Inflated) -> str:
    container = _parse_xml(archive, _CONTAINER, "container file")
    for element in container.iter():
        if _local(element.tag) == "rootfile" and element.get("full-path"):
            return element.get("full-path", "")
    raise UnreadableFile(f"not a valid EPUB ({_CONTAINER} names no package (OPF) file)")


def _metadata(package: ElementTree.Element, path: Path) -> SourceMeta:
    titles: list[str] = []
    creators: list[str] = []
    dates: list[str] = []
    metadata = next((e for e in package.iter() if _local(e.tag) == "metadata"), package)
    for element in metadata.iter():
        name = _local(element.tag)
        value = " ".join("".join(element.itertext()).split())
        if not value:
            continue
        if name == "title":
            titles.append(value)
        elif name == "creator" and value not in creators:
            creators.append(value)
        elif name == "date":
            dates.append(value)
    year = next((int(m.group(1)) for m in map(_YEAR.search, dates) if m), None)
    fallback = meta_from_filename(path)
    return SourceMeta(
        title=titles[0] if titles else fallback.title,
        author="; ".join(creators) or fallback.author,
        year=year if year is not None else fallback.year,
    )


def _spine_chapters(package: ElementTree.Element, package_dir: str) -> list[str]:
    """Archive names of the (X)HTML documents in reading order."""
    manifest: dict[str, tuple[str, str]] = {}
    spine: list[str] = []
    for element in package.iter():
        name = _local(element.tag)
        if name == "item" and element.get("id") and element.get("href"):
            href = unquote(element.get("href", "").split("#", 1)[0])
            manifest[element.get("id", "")] = (posixpath.normpath(posixpath.join(package_dir, href)),
                                               element.get("media-type", ""))
        elif name == "itemref" and element.get("idref"):
            spine.append(element.get("idref", ""))
    if not spine:
        raise UnreadableFile("not a valid EPUB (the package file has an empty spine)")
    chapters: list[str] = []
    for idref in spine:
        if idref not in manifest:
            raise UnreadableFile(f"not a valid EPUB (spine item {idref!r} is not in the manifest)")
        href, media_type = manifest[idref]
        if media_type in _CHAPTER_TYPES or href.lower().endswith((".xhtml", ".html", ".htm")):
            chapters.append(href)
    return chapters


def read_epub(path: Path, data: bytes) -> ParsedDocument:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UnreadableFile("not a valid EPUB (not a zip archive)") from None
    with archive:
        members = _Inflated(archive)
        package_name = _package_path(members)
        package = _parse_xml(members, package_name, "package (OPF) file")
        meta = _metadata(package, path)
        parts: list[str] = []
        headings: list[tuple[int, str]] = []
        offset = 0
        for chapter in _spine_chapters(package, posixpath.dirname(package_name)):
            try:
                markup = decode_html(members.read(chapter))
            except KeyError:
                raise UnreadableFile(f"not a valid EPUB (chapter {chapter} is missing)") from None
            extracted = extract_html_text(markup)
            if not extracted.text:
                continue
            if parts:
                offset += len(_CHAPTER_SEPARATOR)
            headings.extend((offset + at, heading) for at, heading in extracted.headings)
            parts.append(extracted.text)
            offset += len(extracted.text)
    return ParsedDocument(text=_CHAPTER_SEPARATOR.join(parts), meta=meta, headings=headings)
