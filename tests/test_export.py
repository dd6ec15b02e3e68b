"""Answers to take away: Markdown with its bibliography, BibTeX and RIS, read back as a reference manager would."""

from __future__ import annotations

import re

import bibtexparser
import pytest
import rispy
from pylatexenc.latex2text import LatexNodes2Text

from citewise.answers.engines import build_engine
from citewise.answers.output.export import export_filename, to_bibtex, to_markdown, to_ris
from citewise.answers.output.render import source_ref
from citewise.core.answer import Answer, Citation
from citewise.core.types import Source
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index

HOSTILE_TITLE = "Smith & Sons: 100% {unbalanced_pure} #1 for $5 ~ ^ \\ end"


def _source(sid: str, **fields) -> Source:
    base = {"file": f"{sid}.txt", "title": f"Title {sid}", "author": "Ann Author", "year": 2001, "licence": "",
            "origin": "", "file_sha256": "", "chars": 100, "kind": "book"}
    return Source(id=sid, **(base | fields))


SOURCES = {s.id: s for s in (
    _source("aaaa", title=HOSTILE_TITLE, author="C. G. Jung; transl. Beatrice M. Hinkle", year=1916,
            file="jung-1916-psychology.txt"),
    _source("bbbb", title="Wikipedia: MDMA", author="Wikipedia contributors", year=2025, kind="encyclopedia article",
            file="wikipedia-2025-mdma.md", licence="CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)",
            origin="https://en.wikipedia.org/wiki/MDMA"),
    _source("cccc", title="Summaries", author="U.S. National Library of Medicine (MedlinePlus)", year=2025,
            kind="government health information", file="medlineplus.md"),
    _source("dddd", title="Never cited", file="other.txt"),
)}


def _answer(*source_ids: str) -> Answer:
    citations = [Citation(n=n, quote=f"quote {n}", passage_id=f"p{n}", start=10 * n, end=10 * n + 5, support=1.0,
                          source=source_ref(SOURCES[sid])) for n, sid in enumerate(source_ids, start=1)]
    prose = " ".join(f"“quote {c.n}” [{c.n}]." for c in citations)
    return Answer(question="Is it approved?", answer=f"{prose}\n\n**Sources cited**\n\n- ...", refused=False,
                  engine="offline", citations=citations)


def _tex_to_text(value: str) -> str:
    return LatexNodes2Text().latex_to_text(value).replace("ˆ", "^")


@pytest.mark.unit
def test_bibtex_holds_each_cited_source_once_and_survives_latex_specials() -> None:
    text = to_bibtex(_answer("aaaa", "bbbb", "aaaa", "cccc"), SOURCES)
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [block.error for block in library.failed_blocks]
    entries = {entry.key: entry for entry in library.entries}
    assert sorted(entries) == ["jung-1916-psychology", "medlineplus", "wikipedia-2025-mdma"]
    jung = entries["jung-1916-psychology"]
    assert jung.entry_type == "book" and "Corpus file: jung-1916-psychology.txt" in _tex_to_text(jung["note"])
    assert _tex_to_text(jung["title"]) == HOSTILE_TITLE
    assert jung["author"] == "C. G. Jung" and "transl. Beatrice M. Hinkle" in jung["note"]
    wiki = entries["wikipedia-2025-mdma"]
    # A body's name is braced, so BibTeX never files it under the "last name" "contributors".
    assert wiki.entry_type == "misc" and wiki["author"] == "{Wikipedia contributors}"
    assert wiki["url"] == "https://en.wikipedia.org/wiki/MDMA" and wiki["year"] == "2025"
    assert wiki["note"].startswith("Encyclopedia article.")
    assert entries["medlineplus"]["author"] == "{U.S. National Library of Medicine}"


@pytest.mark.unit
def test_ris_round_trips_through_a_reader() -> None:
    records = rispy.loads(to_ris(_answer("bbbb", "aaaa"), SOURCES))
    assert [r["type_of_reference"] for r in records] == ["ENCYC", "BOOK"]
    wiki, jung = records
    assert wiki["authors"] == ["Wikipedia contributors"] and wiki["urls"] == ["https://en.wikipedia.org/wiki/MDMA"]
    assert jung["authors"] == ["Jung, C. G."] and jung["title"] == HOSTILE_TITLE and jung["year"] == "1916"
    assert jung["type_of_work"] == "book"
    assert to_ris(_answer(), SOURCES) == ""


@pytest.mark.unit
def test_markdown_keeps_the_answer_and_adds_a_bibliography_with_offsets() -> None:
    answer = _answer("bbbb", "bbbb")
    text = to_markdown(answer, SOURCES)
    assert text.startswith("# Is it approved?\n\n“quote 1” [1].")
    assert "**Sources cited**" not in text and text.count("## Sources cited") == 1
    assert ("1. Wikipedia contributors (2025, encyclopedia article). *Wikipedia: MDMA*. CC BY-SA 4.0" in text)
    assert "[1] characters 10–15, [2] characters 20–25" in text
    assert "<https://en.wikipedia.org/wiki/MDMA>" in text
    assert export_filename(answer, "bibtex") == "citewise-is-it-approved.bib"


@pytest.mark.unit
def test_a_source_gone_from_the_index_is_described_from_its_citation() -> None:
    answer = _answer("cccc")
    library = bibtexparser.parse_string(to_bibtex(answer, {}))
    assert [e["title"] for e in library.entries] == ["Summaries"]


@pytest.mark.integration
def test_a_real_answer_exports_every_cited_source(slice_settings, embedder) -> None:
    retriever = IndexRetriever(slice_settings, open_index(slice_settings), embedder=embedder)
    engine = build_engine(slice_settings, retriever, retriever.index, name="offline", embedder=embedder)
    answer = engine.answer("What are other names for ecstasy?")
    assert not answer.refused
    cited = {c.source.file for c in answer.citations}
    library = bibtexparser.parse_string(to_bibtex(answer, retriever.index.sources))
    assert not library.failed_blocks
    assert {_tex_to_text(e["note"]).rsplit("Corpus file: ", 1)[1].rstrip(".") for e in library.entries} == cited
    assert len(rispy.loads(to_ris(answer, retriever.index.sources))) == len(cited)
    markdown = to_markdown(answer, retriever.index.sources)
    assert all(c.quote in markdown for c in answer.citations) and answer.notice in markdown


# A file name whose blank lines end the code span it is written in, and metadata that drives a terminal: ESC ] 0 ;
# sets the window title, BEL ends it, ESC [ 2 J clears the screen, U+202E reverses what follows (issue 24).
LIVE_NAME = "a\n\n<img src=x onerror=alert(1)>\n\nb.txt"
TERMINAL_TITLE = "Bells\x07 \x1b]0;owned\x07 and \x1b[2J towers \u202etxt.exe"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ODD = {"eeee": _source("eeee", title=TERMINAL_TITLE, author="Ann\x1b[31m Author", file=LIVE_NAME,
                       licence="CC0\x07", origin="https://example.org/bells\x1b]0;x\x07", kind="book\x1b")}


@pytest.mark.unit
def test_a_file_name_cannot_put_live_html_into_the_markdown_export() -> None:
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(to_markdown(_answer_from(ODD), ODD))
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<code>a\\n\\n&lt;img" in html  # the name stays whole, in its code span, its line breaks shown


@pytest.mark.unit
def test_the_question_cannot_add_an_entry_to_the_bibtex() -> None:
    answer = _answer("bbbb").model_copy(update={"question": "x @misc{q, title={Q}}\n@book{r, title={R}}"})
    text = to_bibtex(answer, SOURCES)
    library = bibtexparser.parse_string(text)
    assert [entry.key for entry in library.entries] == ["wikipedia-2025-mdma"]
    assert text.startswith("% Sources cited by citewise for: x (at)misc{q, title={Q}} (at)book{r, title={R}}\n")


@pytest.mark.unit
def test_control_characters_in_metadata_never_reach_an_export() -> None:
    answer = _answer_from(ODD)
    for kind, text in (("bibtex", to_bibtex(answer, ODD)), ("ris", to_ris(answer, ODD)),
                       ("md", to_markdown(answer, ODD))):
        assert not CONTROL.search(text), (kind, text)
        assert "x1b]0;owned" in text and "x07" in text, (kind, text)  # shown as escapes, not dropped
    record = rispy.loads(to_ris(answer, ODD))[0]
    assert record["title"] == "Bells\\x07 \\x1b]0;owned\\x07 and \\x1b[2J towers \\u202etxt.exe"
    assert record["urls"] == ["https://example.org/bells"]  # the address ends where the control begins


def _answer_from(sources: dict[str, Source]) -> Answer:
    citations = [Citation(n=1, quote="quote", passage_id="p1", start=0, end=5, support=1.0,
                          source=source_ref(source)) for source in sources.values()]
    return Answer(question="Which bells?", answer="“quote” [1].", refused=False, engine="offline",
                  citations=citations)
