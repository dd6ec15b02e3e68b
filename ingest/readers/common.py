"""Shared helpers for readers: decoding with clear errors, metadata from file names."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from citewise.core.types import SourceMeta


class UnreadableFile(Exception):
    """The file cannot be indexed; the message says why in a few words."""


# Byte order marks of the encodings a text file may announce; UTF-32's before UTF-16's, whose marks they start with.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def read_text_file(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), or UTF-16/32 when a BOM says so, with newlines normalised to \\n; binary or
    mis-encoded data is refused."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)  # the BOM tells the byte order, and is dropped
            except UnicodeDecodeError as exc:
                raise UnreadableFile(f"not valid {encoding.upper()} despite its byte order mark "
                                     f"(at offset {exc.start}); convert it to UTF-8") from None
            return text.replace("\r\n", "\n").replace("\r", "\n")
    if b"\x00" in data[:8192]:
        raise UnreadableFile("binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); convert it to UTF-8"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


_NAME_YEAR = re.compile(r"^(?P<author>[a-z][a-z-]*?)-(?P<year>1[5-9]\d\d|20\d\d)-(?P<title>.+)$")


def meta_from_filename(path: Path) -> SourceMeta:
    """`james-1902-varieties-of-religious-experience.txt` -> author James, year 1902, a title from the rest."""
    stem = path.stem
    match = _NAME_YEAR.match(stem.lower())
    if match:
        return SourceMeta(
            title=match["title"].replace("-", " ").capitalize(),
            author=match["author"].replace("-", " ").title(),
            year=int(match["year"]),
        )
    return SourceMeta(title=stem.replace("_", " ").replace("-", " ").strip() or path.name)
