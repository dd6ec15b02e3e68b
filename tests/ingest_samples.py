"""Small documents in every supported format, built on the spot (fpdf2 for PDF, zipfile for EPUB)."""

from __future__ import annotations

import zipfile
from pathlib import Path

PDF_PAGES = (
    "The first page speaks of orchards. Apples ripen slowly in the northern valleys. "
    "Farmers keep careful notes on the weather.",
    "The second page is about lighthouses. A keeper named Ansel Morrow trimmed the lamp at dusk. "
    "Ships passed the headland in safety.",
    "The third page closes with rivers. Water finds its way to the sea. The delta spreads wide and green.",
)
PAGE_TWO_PHRASE = "keeper named Ansel Morrow"

EPUB_CHAPTERS = (
    ("Chapter One: The Harbour", ["The harbour was quiet before dawn.", "Gulls circled above the moored boats."]),
    ("Chapter Two: The Market", ["Traders laid out bread and fish.", "By noon the square was full of voices."]),
)

HTML_PAGE = """<!DOCTYPE html>
<html><head><title>Notes on Bees</title>
<meta name="author" content="Mara Quill"><meta name="dc.date" content="1911-05-02">
<style>body { color: red; }</style><script>var hidden = "do not index";</script></head>
<body><svg><title>Bee icon</title><path d="M0 0"/></svg><h1>Notes on Bees</h1>
<p>Bees   visit
many flowers in a single morning. They carry pollen from one to the next.</p>
<h2>The Hive</h2><p>A hive holds one queen<br>and many workers.</p>
<ul><li>Wax</li><li>Honey &amp; propolis</li></ul></body></html>
"""


def make_pdf(path: Path, pages: tuple[str, ...] = PDF_PAGES, title: str = "Three Pages",
             author: str = "Ida Lane") -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF whose pages carry only drawings: no text layer, like a scan."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))
    return path


def make_epub(path: Path, title: str = "Harbour Days", creator: str = "Tomas Reed", date: str = "1923-04-01",
              chapters: tuple[tuple[str, list[str]], ...] = EPUB_CHAPTERS, with_opf: bool = True) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", (
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>"))
        items, refs = [], []
        # Written in reverse so that only the spine, not the archive order, can give the reading order.
        for number in reversed(range(len(chapters))):
            heading, paragraphs = chapters[number]
            body = "".join(f"<p>{p}</p>" for p in paragraphs)
            archive.writestr(f"OEBPS/text/ch{number}.xhtml", (
                '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
                f"<head><title>{heading}</title></head><body><h2>{heading}</h2>{body}</body></html>"))
        for number in range(len(chapters)):
            items.append(f'<item id="c{number}" href="text/ch{number}.xhtml" media-type="application/xhtml+xml"/>')
            refs.append(f'<itemref idref="c{number}"/>')
        if with_opf:
            archive.writestr("OEBPS/content.opf", (
                '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
                '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f"<dc:title>{title}</dc:title><dc:creator>{creator}</dc:creator><dc:date>{date}</dc:date>"
                f"</metadata><manifest>{''.join(items)}</manifest><spine>{''.join(refs)}</spine></package>"))
    return path
