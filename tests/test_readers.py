"""Readers: html, pdf, epub, markdown and plain text turn bytes into canonical text, headings, pages, metadata."""

from __future__ import annotations

import bisect
import os
import re
import zipfile
from pathlib import Path

import pytest
from ingest_samples import (
    EPUB_CHAPTERS,
    HTML_PAGE,
    PAGE_TWO_PHRASE,
    PDF_PAGES,
    make_epub,
    make_pdf,
    make_scanned_pdf,
)

from citewise.core.sentences import unwrap
from citewise.ingest.readers import UnreadableFile, read_document
from citewise.ingest.readers.text import plain_text_headings

pytestmark = pytest.mark.unit
CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _read(path: Path):
    return read_document(path, path.read_bytes())


def _assert_headings_at_offsets(document) -> None:
    for offset, heading in document.headings:
        assert document.text[offset:offset + len(heading)] == heading


def test_readers_html_text_blocks_headings_and_meta(tmp_path: Path) -> None:
    path = tmp_path / "bees.html"
    path.write_text(HTML_PAGE, encoding="utf-8")
    document = _read(path)
    assert "do not index" not in document.text and "color: red" not in document.text
    assert "Bee icon" not in document.text  # inline SVG is a drawing, and its <title> is not the page's
    paragraphs = document.text.split("\n\n")
    assert "Bees visit many flowers in a single morning. They carry pollen from one to the next." in paragraphs
    assert "A hive holds one queen\nand many workers." in paragraphs  # <br> is a line break inside a paragraph
    assert "Honey & propolis" in paragraphs
    assert [h for _, h in document.headings] == ["Notes on Bees", "The Hive"]
    _assert_headings_at_offsets(document)
    assert (document.meta.title, document.meta.author, document.meta.year) == ("Notes on Bees", "Mara Quill", 1911)


def test_readers_html_declared_charset_and_undecodable(tmp_path: Path) -> None:
    latin = tmp_path / "latin.html"
    latin.write_bytes('<meta charset="iso-8859-1"><p>Café crème</p>'.encode("latin-1"))
    assert _read(latin).text == "Café crème"
    undeclared = tmp_path / "undeclared.html"
    undeclared.write_bytes("<p>Café crème</p>".encode("latin-1"))
    with pytest.raises(UnreadableFile, match="not valid UTF-8"):
        _read(undeclared)


def test_readers_html_without_title_falls_back_to_file_name(tmp_path: Path) -> None:
    path = tmp_path / "ortega-1930-revolt.html"
    path.write_text("<p>Only a paragraph.</p>", encoding="utf-8")
    meta = _read(path).meta
    assert (meta.author, meta.year) == ("Ortega", 1930)


def test_readers_pdf_pages_and_meta(tmp_path: Path) -> None:
    document = _read(make_pdf(tmp_path / "three.pdf"))
    assert [number for _, _, number in document.pages] == [1, 2, 3]
    for (start, end, _), printed in zip(document.pages, PDF_PAGES, strict=True):
        assert unwrap(document.text[start:end]) == printed
    # The phrase may be wrapped across lines in the extracted text; find it with any white space between words.
    found = re.search(r"\s+".join(map(re.escape, PAGE_TWO_PHRASE.split())), document.text)
    assert found is not None
    starts = [start for start, _, _ in document.pages]
    assert document.pages[bisect.bisect_right(starts, found.start()) - 1][2] == 2
    assert (document.meta.title, document.meta.author) == ("Three Pages", "Ida Lane")
    assert isinstance(document.meta.year, int)


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("random.pdf", lambda p: p.write_bytes(os.urandom(4096)), "not a readable PDF"),
    ("truncated.pdf", lambda p: p.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog"), "not a readable PDF"),
    ("scan.pdf", make_scanned_pdf, "no text layer (scanned PDF?)"),
    ("random.epub", lambda p: p.write_bytes(os.urandom(4096)), "not a zip archive"),
    ("no-opf.epub", lambda p: make_epub(p, with_opf=False), "OPF"),
])
def test_readers_corrupt_documents_are_refused(tmp_path: Path, name: str, make, reason: str) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(UnreadableFile) as caught:
        _read(path)
    assert reason in str(caught.value)


def test_readers_epub_spine_order_headings_meta(tmp_path: Path) -> None:
    document = _read(make_epub(tmp_path / "harbour.epub"))
    assert [h for _, h in document.headings] == [heading for heading, _ in EPUB_CHAPTERS]
    _assert_headings_at_offsets(document)
    positions = [document.text.index(p) for _, paragraphs in EPUB_CHAPTERS for p in paragraphs]
    assert positions == sorted(positions)
    assert (document.meta.title, document.meta.author, document.meta.year) == ("Harbour Days", "Tomas Reed", 1923)


def test_readers_epub_container_without_zip_members(tmp_path: Path) -> None:
    path = tmp_path / "empty.epub"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
    with pytest.raises(UnreadableFile, match="container"):
        _read(path)


def test_readers_text_bad_bytes(tmp_path: Path) -> None:
    cases = {"empty.txt": (b"  \n", "empty file"), "binary.txt": (b"abc\x00\x01\x02def", "binary file"),
             "latin.txt": ("naïve".encode("latin-1"), "not valid UTF-8")}
    for name, (data, reason) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnreadableFile, match=reason):
            _read(tmp_path / name)


def test_readers_markdown_headings_merge_labels(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("# CHAPTER 1\n\n# THE START\n\nText here.\n\n=### Odd level=\n\nMore text.\n", encoding="utf-8")
    document = _read(path)
    assert [h for _, h in document.headings] == ["CHAPTER 1. THE START", "Odd level"]
    assert document.text[document.headings[0][0]:].startswith("CHAPTER 1")


def test_readers_markdown_heading_text_and_closing_marks(tmp_path: Path) -> None:
    gap = " " * 400  # the pattern that also took the text backtracked cubically on such a gap (~0.3 s here)
    path = tmp_path / "marks.md"
    path.write_text(f"## Closed ##  \n\ntext\n\n# Open with a{gap}gap\t\n\n#### Four ###=\n\n# #\n\n"
                    "![alt [with] brackets](data:image/png;base64,AAAA) after\n", encoding="utf-8")
    document = _read(path)
    assert [h for _, h in document.headings] == ["Closed", f"Open with a{gap}gap", "Four", "#"]
    start = document.headings[1][0]
    assert document.text[start:start + 9] == "Open with"
    assert any("data:image" in document.text[s:e] for s, e in document.hidden)


def test_readers_plain_text_headings_skip_contents_index_and_signatures() -> None:
    prose = "It begins here with a sentence that runs on for a while, as the prose of old books tends to do. " * 3
    text = "\n\n".join([
        "CONTENTS", "I. THE FIRST      1", "II. THE SECOND     9",
        "PREFACE", prose, "J. G. SMITH.", prose,
        "CHAPTER I", "THE FIRST", prose, "III", prose,
        "1. A Small Matter", prose,
        "THE FAIR ONE.", "        Apples have been desired by you,\n        Since first in Paradise they grew;", prose,
        "                CHAPTER II\n          THE SECOND PART", prose,
        "INDEX", "ACHILLES, 86.", "BALDWIN, 347, 503.", "AURELIUS, see MARCUS.",
    ])
    headings = [h for _, h in plain_text_headings(text)]
    assert headings == ["CONTENTS", "PREFACE", "CHAPTER I. THE FIRST", "CHAPTER I. THE FIRST — III",
                        "CHAPTER I. THE FIRST — 1. A Small Matter", "CHAPTER II. THE SECOND PART", "INDEX"]


def test_readers_gutenberg_book_passages_get_lecture_headings() -> None:
    text = (CORPUS / "james-1902-varieties-of-religious-experience.txt").read_text(encoding="utf-8")
    headings = plain_text_headings(text)
    offsets = [offset for offset, _ in headings]
    body_start = next(o for o, h in headings if h.startswith("LECTURE I."))
    body_end = next(o for o, h in headings if h.startswith("INDEX"))
    samples = range(body_start, body_end, 997)
    governing = [headings[bisect.bisect_right(offsets, at) - 1][1] for at in samples]
    real = [h for h in governing if h.startswith(("LECTURE", "POSTSCRIPT"))]
    assert len(real) == len(governing)


@pytest.mark.unit
def test_manifest_and_front_matter_give_kind_and_aliases(tmp_path: Path) -> None:
    from citewise.ingest.manifest import load_manifest
    from citewise.ingest.readers import read_document

    (tmp_path / "MANIFEST.tsv").write_text(
        "file\ttitle\tauthor\tyear\tkind\taliases\n"
        "aa.md\tAlcoholics Anonymous\tAA\t1939\tBook\tthe Big Book;  Big Book ;\n"
        "plain.txt\tPlain\t\t\t\t\n", encoding="utf-8")
    manifest = load_manifest(tmp_path)
    assert (manifest["aa.md"].kind, manifest["aa.md"].aliases) == ("book", ("the Big Book", "Big Book"))
    assert (manifest["plain.txt"].kind, manifest["plain.txt"].aliases) == ("", ())
    page = b"---\ntitle: Trial Summary\nkind: Clinical  Trial\naliases: MAPP1; the MAPP trial\n---\n\nText.\n"
    meta = read_document(tmp_path / "trial.md", page, None).meta
    assert (meta.kind, meta.aliases) == ("clinical trial", ("MAPP1", "the MAPP trial"))
