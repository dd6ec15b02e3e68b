"""Where `citewise eval quotes` reads the files that quotations are checked against: a folder of files (read as
`citewise ingest` reads them, with MANIFEST.tsv or front matter for their metadata), or an index."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from citewise.answers.quotes import TextFinder
from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader
from citewise.core.text import STOPWORDS, tokens
from citewise.ingest.manifest import load_manifest
from citewise.ingest.readers import UnreadableFile, is_supported, read_document


@dataclass
class SourceText:
    """One file's text, as citewise reads it (offsets count its characters), and what it says of itself."""

    file: str
    text: str
    title: str
    author: str
    year: int | str | None
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, page number), PDFs only
    _finder: TextFinder | None = None
    _line_starts: list[int] | None = None

    @property
    def finder(self) -> TextFinder:
        if self._finder is None:
            self._finder = TextFinder(self.text)
        return self._finder

    def line_of(self, offset: int) -> int:
        if self._line_starts is None:
            self._line_starts = [0] + [match.end() for match in re.finditer("\n", self.text)]
        return bisect.bisect_right(self._line_starts, offset)

    def page_of(self, offset: int) -> int | None:
        return next((number for start, end, number in self.pages if start <= offset < end), None)


class SourceTexts(Protocol):
    description: str

    def get(self, file: str) -> SourceText | str:
        """The named file's text, or why there is none (one phrase)."""
        ...

    def elsewhere(self, quote: str, exclude: str) -> SourceText | None:
        """Another source holding the quotation verbatim, where it can be looked for cheaply."""
        ...


class CorpusTexts:
    """Files under one folder, named relative to it; each read once."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise CitewiseError(f"--corpus {folder}: not a folder")
        self.folder = folder.resolve()
        self.description = f"the files under {folder}"
        self._read: dict[str, SourceText | str] = {}

    def get(self, file: str) -> SourceText | str:
        if file not in self._read:
            self._read[file] = self._load(file)
        return self._read[file]

    def _load(self, file: str) -> SourceText | str:
        path = (self.folder / file).resolve()
        if not path.is_relative_to(self.folder):
            return f"{file} lies outside the corpus folder"
        if not path.is_file():
            return f"no file {file} in the corpus folder"
        if not is_supported(path):
            return f"{file}: unsupported file type {path.suffix or '(none)'}"
        try:
            data = path.read_bytes()
            document = read_document(path, data, load_manifest(path.parent).get(path.name))
        except (OSError, UnreadableFile) as exc:
            return f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}"
        meta = document.meta
        return SourceText(file, document.text, meta.title, meta.author, meta.year, list(document.pages))

    def elsewhere(self, quote: str, exclude: str) -> SourceText | None:
        # Reading every file of a corpus to look for one quotation would cost a whole ingest's reading.
        return None


class IndexTexts:
    """The sources of an index, named as the index lists them (or by file name alone, when that is unique)."""

    def __init__(self, index: IndexReader, location: str) -> None:
        self.index = index
        self.description = f"the index {location}"
        self._by_file = {source.file: source for source in index.sources.values()}
        names: dict[str, list[str]] = {}
        for source in index.sources.values():
            names.setdefault(Path(source.file).name, []).append(source.file)
        self._by_name = {name: files[0] for name, files in names.items() if len(files) == 1}
        self._texts: dict[str, SourceText] = {}

    def get(self, file: str) -> SourceText | str:
        source = self._by_file.get(file) or self._by_file.get(self._by_name.get(Path(file).name, ""))
        if source is None:
            return f"no source {file} in the index"
        return self._text(source.id)

    def _text(self, source_id: str) -> SourceText:
        if source_id not in self._texts:
            source = self.index.sources[source_id]
            self._texts[source_id] = SourceText(source.file, self.index.source_text(source_id), source.title,
                                                source.author, source.year, self.index.source_pages(source_id))
        return self._texts[source_id]

    def elsewhere(self, quote: str, exclude: str) -> SourceText | None:
        """The first other source holding the quotation, among those whose passages hold its rarest words."""
        rare = sorted({t for t in tokens(quote) if t not in STOPWORDS}, key=len, reverse=True)[:4]
        if not rare:
            return None
        hits = self.index.lexical_search(rare, 40, match="all")
        passages = self.index.passages([pid for pid, _ in hits])
        for source_id in dict.fromkeys(passages[pid].source_id for pid, _ in hits if pid in passages):
            text = self._text(source_id)
            if text.file != exclude and text.finder.find(quote) is not None:
                return text
        return None
