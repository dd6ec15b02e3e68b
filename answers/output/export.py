"""An answer to take away: Markdown with its bibliography, and the bibliography as BibTeX or RIS.

The entries come from the cited sources' metadata in the index (author, year, title, kind, licence, origin),
falling back to what the citation itself carries for a source no longer indexed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import rispy

from citewise.answers.output.markdown_safe import markdown_code, markdown_text
from citewise.answers.output.render import SOURCES_HEADING, display_author, year_and_kind
from citewise.core.answer import Answer, Citation, SourceRef
from citewise.core.controls import one_line
from citewise.core.retrieval import SearchFilters
from citewise.core.types import Source

ExportFormat = Literal["md", "bibtex", "ris"]


@dataclass(frozen=True)
class ExportKind:
    media_type: str
    suffix: str


EXPORTS: dict[str, ExportKind] = {
    "md": ExportKind("text/markdown; charset=utf-8", ".md"),
    "bibtex": ExportKind("application/x-bibtex; charset=utf-8", ".bib"),
    "ris": ExportKind("application/x-research-info-systems; charset=utf-8", ".ris"),
}

# Words that mark an author as a body rather than a person, so it is not split into first and last names.
_BODY_WORDS_TEXT = """contributors anonymous library institute institutes association organization organisation
society foundation agency department ministry council committee centre center university press service office
board college group poets national health government"""
_BODY_WORDS = frozenset(_BODY_WORDS_TEXT.split())
# No control character either: a URL is written into BibTeX and Markdown as it is, not escaped.
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f-\x9f;,()<>\"'{}\\]+[^\s\x00-\x1f\x7f-\x9f;,()<>\"'{}\\.]")
_BIBTEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$",
                   "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_BIBTEX_ESCAPE = re.compile("|".join(re.escape(ch) for ch in _BIBTEX_SPECIAL))
# RIS reference types by kind of source (the RIS specification's names); anything else is GEN.
_RIS_TYPES = {"book": "BOOK", "encyclopedia article": "ENCYC", "government health information": "GOVDOC",
              "guideline": "GOVDOC", "clinical guideline": "GOVDOC", "clinical trial": "JOUR", "review": "JOUR",
              "systematic review": "JOUR", "journal article": "JOUR", "web page": "ELEC"}


def cited_sources(answer: Answer, sources: Mapping[str, Source]) -> list[tuple[Source, list[Citation]]]:
    """Each cited source once, in order of first citation, with its citations."""
    found: dict[str, tuple[Source, list[Citation]]] = {}
    for citation in answer.citations:
        source_id = citation.source.id
        if source_id not in found:
            found[source_id] = (sources.get(source_id) or _from_ref(citation.source), [])
        found[source_id][1].append(citation)
    return list(found.values())


def _from_ref(ref: SourceRef) -> Source:
    return Source(id=ref.id, file=ref.file, title=ref.title, author=ref.author, year=ref.year, licence="",
                  origin="", file_sha256="", chars=0, kind=ref.kind)


def export(answer: Answer, sources: Mapping[str, Source], kind: str) -> str:
    if kind == "md":
        return to_markdown(answer, sources)
    if kind == "bibtex":
        return to_bibtex(answer, sources)
    if kind == "ris":
        return to_ris(answer, sources)
    raise ValueError(f"unknown export format {kind!r}")


def export_filename(answer: Answer, kind: str) -> str:
    words = re.findall(r"[a-z0-9]+", _ascii(answer.question).lower())[:8]
    stem = "-".join(words) or "answer"
    return f"citewise-{stem}{EXPORTS[kind].suffix}"


# ---------- Markdown ----------

def to_markdown(answer: Answer, sources: Mapping[str, Source]) -> str:
    """The question, the answer as written (its standing notice included), the filters, and a bibliography
    with where in each source every quotation lies."""
    body = answer.answer.split(f"\n\n{SOURCES_HEADING}")[0].strip()
    # The answer's Markdown is escaped where it was composed; what is added here is escaped likewise.
    lines = [f"# {markdown_text(' '.join(answer.question.split()))}", "", body, ""]
    if answer.filters is not None and not answer.filters.is_empty():
        f = answer.filters
        described = SearchFilters(frozenset(f.sources), frozenset(f.authors), f.since, f.until,
                                  frozenset(f.kinds)).describe(sources)
        lines += [f"*Answered only from sources matching: {markdown_text(described)}.*", ""]
    cited = cited_sources(answer, sources)
    if cited:
        lines += ["## Sources cited", ""]
        for number, (source, citations) in enumerate(cited, start=1):
            where = ", ".join(f"[{c.n}] characters {c.start}–{c.end}" + (f", p. {c.page}" if c.page else "")
                              for c in citations)
            lines.append(f"{number}. {_reference(source)} Quoted at {where}.")
        lines.append("")
    if answer.refused and answer.nearest:
        lines += ["## Nearest passages", ""]
        for number, passage in enumerate(answer.nearest, start=1):
            ref = passage.source
            snippet = " ".join(passage.text.split())
            credit = f"{display_author(_from_ref(ref))}{year_and_kind(_from_ref(ref))}"
            lines.append(f"{number}. {markdown_text(credit)}, *{markdown_text(ref.title)}*, characters "
                         f"{passage.start}–{passage.end}: {markdown_text(snippet[:400])}")
        lines.append("")
    lines.append(f"*Composed by citewise ({answer.engine} engine) from quotations checked against their sources.*")
    return "\n".join(lines) + "\n"


def _reference(source: Source) -> str:
    parts = [f"{markdown_text(source.author or display_author(source))}{markdown_text(year_and_kind(source))}.",
             f"*{markdown_text(source.title)}*."]
    if source.licence:
        parts.append(f"{markdown_text(source.licence)}.")
    url = source_url(source)
    if url:
        parts.append(f"<{url}>.")
    parts.append(f"File {markdown_code(source.file)}.")
    return " ".join(parts)


# ---------- BibTeX ----------

def to_bibtex(answer: Answer, sources: Mapping[str, Source]) -> str:
    """One entry per cited source: @book for books, @misc for the rest, the kind in `note`; values in braces
    with LaTeX's special characters escaped, so any BibTeX reader takes the file."""
    keys: set[str] = set()
    entries = [_bibtex_entry(source, _unique_key(source, keys)) for source, _ in cited_sources(answer, sources)]
    # BibTeX reads an entry wherever an '@' stands, comment or not: the question's must not start one.
    header = f"% Sources cited by citewise for: {_one_line(answer.question).replace('@', '(at)')}\n"
    return header + ("\n".join(entries) if entries else "% (no sources cited)\n")


def _bibtex_entry(source: Source, key: str) -> str:
    author, credit = _split_author(source)
    fields: list[tuple[str, str]] = [("author", _bibtex_author(author)), ("title", "{" + _tex(source.title) + "}")]
    if isinstance(source.year, int) or (isinstance(source.year, str) and source.year.strip()):
        fields.append(("year", "{" + _tex(str(source.year)) + "}"))
    url = source_url(source)
    if url:
        fields.append(("url", "{" + url + "}"))
    # The corpus file goes in the note: reference managers read a `file` field as an attachment to open.
    notes = [note for note in (source.kind.capitalize(), credit, source.licence, f"Corpus file: {source.file}")
             if note]
    fields.append(("note", "{" + _tex(". ".join(n.rstrip(".") for n in notes) + ".") + "}"))
    entry_type = "book" if source.kind == "book" else "misc"
    body = ",\n".join(f"  {name} = {value}" for name, value in fields)
    return f"@{entry_type}{{{key},\n{body}\n}}\n"


def _bibtex_author(author: str) -> str:
    # A body's name goes in an extra pair of braces, or BibTeX would read "Wikipedia contributors" as a person
    # whose last name is "contributors".
    return "{" + _tex(author) + "}" if _is_person(author) else "{{" + _tex(author) + "}}"


def _tex(text: str) -> str:
    return _BIBTEX_ESCAPE.sub(lambda m: _BIBTEX_SPECIAL[m.group(0)], _one_line(text))


def _unique_key(source: Source, taken: set[str]) -> str:
    """The file name's stem as ASCII letters, digits and hyphens (james-1902-varieties-of-...), made unique."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", source.file.rsplit("/", 1)[-1])
    base = re.sub(r"[^A-Za-z0-9]+", "-", _ascii(stem)).strip("-")[:48].strip("-") or f"source-{source.id}"
    if not base[0].isalpha():
        base = "s-" + base
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


# ---------- RIS ----------

class _RisWriter(rispy.RisWriter):
    def set_header(self, count: int) -> str:
        return ""  # rispy numbers each reference ("1."), which the RIS specification does not have


def to_ris(answer: Answer, sources: Mapping[str, Source]) -> str:
    records = []
    for source, _ in cited_sources(answer, sources):
        author, credit = _split_author(source)
        record: dict[str, object] = {
            "type_of_reference": _RIS_TYPES.get(source.kind, "GEN"),
            "authors": [_ris_author(author)],
            "title": _one_line(source.title),
        }
        if source.year not in (None, ""):
            record["year"] = _one_line(str(source.year))
        if source.kind:
            record["type_of_work"] = _one_line(source.kind)
        notes = [_one_line(note) for note in (credit, source.licence, f"File: {source.file}") if note]
        record["notes"] = notes
        url = source_url(source)
        if url:
            record["urls"] = [url]
        records.append(record)
    return rispy.dumps(records, implementation=_RisWriter) if records else ""


def _ris_author(author: str) -> str:
    """RIS wants "Last, First" for a person; a body's name stays whole."""
    if not _is_person(author):
        return author
    *first, last = author.split()
    return f"{last}, {' '.join(first)}"


# ---------- shared ----------

def _split_author(source: Source) -> tuple[str, str]:
    """The author to file the work under, and the full credit when it says more (translator, editor...)."""
    primary = display_author(source) if source.author else (source.title or source.file)
    credit = _one_line(source.author)
    return _one_line(primary), (f"Credited: {credit}" if credit and credit != primary else "")


def _is_person(name: str) -> bool:
    words = name.split()
    if not 2 <= len(words) <= 5 or any(ch.isdigit() or ch in "/&,;" for ch in name):
        return False
    return all(word[0].isupper() for word in words) and not any(
        word.strip(".").lower() in _BODY_WORDS for word in words)


def source_url(source: Source) -> str | None:
    """Where the work can be read: the first web address of its origin, else one its licence note gives (as
    "attribution: ...; https://en.wikipedia.org/wiki/MDMA" does), other than the licence's own."""
    for text in (source.origin, source.licence):
        for match in _URL.finditer(text or ""):
            if "creativecommons.org" not in match.group(0):
                return match.group(0)
    return None


def _one_line(text: str) -> str:
    """A field of metadata on one line, its control characters escaped (the one rule for exports and terminals)."""
    return one_line(text)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
