"""Markdown answers built from verified quotations: attributions, [n] markers, Sources cited, and stream events."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from citewise.answers.output.markdown_safe import markdown_code, markdown_text
from citewise.answers.output.notice import health_notice
from citewise.core.answer import Answer, AnswerEvent, Citation, NearestPassage, SourceRef
from citewise.core.retrieval import Hit
from citewise.core.sentences import unwrap
from citewise.core.text import is_personal_name, primary_author
from citewise.core.types import Passage, Source

SOURCES_HEADING = "**Sources cited**"

@dataclass
class VerifiedQuote:
    """A quotation the verifier located in its cited passage, ready to be cited."""

    quote: str  # display form (white space folded)
    source: Source
    passage: Passage
    start: int  # verifier's offsets in the canonical text
    end: int
    support: float = 0.0
    lead: str | None = None  # the LLM's own sentence introducing the quote; None: render writes an attribution
    part: int = 0  # the part of the question it answers: one paragraph per part


@dataclass
class RenderedAnswer:
    answer: Answer
    # The Markdown in order, each piece with the citation it closes (if any): what stream() replays.
    pieces: list[tuple[str, Citation | None]] = field(default_factory=list)


def display_author(source: Source) -> str:
    """The person or body to name in prose: the part before any translator/editor note or parenthesis."""
    return primary_author(source.author) or source.title or source.file


def year_and_kind(source: Source) -> str:
    """" (2025, encyclopedia article)", " (1902, book)", " (2025)", or "" when neither is known."""
    parts = [str(part) for part in (source.year, source.kind) if part not in (None, "")]
    return f" ({', '.join(parts)})" if parts else ""


def attribution(source: Source) -> str:
    """How prose names a source: "Wikipedia contributors (2025, encyclopedia article)"."""
    return f"{display_author(source)}{year_and_kind(source)}"


def source_ref(source: Source) -> SourceRef:
    return SourceRef(id=source.id, title=source.title, author=source.author, year=source.year, file=source.file,
                     kind=source.kind)


def nearest_passages(hits: list[Hit], limit: int = 5) -> list[NearestPassage]:
    return [
        NearestPassage(passage_id=h.passage.id, text=unwrap(h.passage.text), score=float(h.score),
                       start=h.passage.start, end=h.passage.end, page=h.passage.page, heading=h.passage.heading,
                       source=source_ref(h.source))
        for h in hits[:limit]
    ]


def _citation(n: int, quote: VerifiedQuote) -> Citation:
    return Citation(n=n, quote=quote.quote, passage_id=quote.passage.id, start=quote.start, end=quote.end,
                    page=quote.passage.page, support=round(float(quote.support), 4), source=source_ref(quote.source))


def _is_plural(name: str) -> bool:
    """"Wikipedia contributors" write; "Alcoholics Anonymous" and "William James" write-s."""
    last = name.split()[-1] if name.split() else ""
    return " and " in name or "et al" in name or (last.islower() and last.endswith("s"))


def short_title(source: Source) -> str:
    """The title as prose names it: without parenthetical notes, and without its subtitle unless what comes before
    the colon is a single word ("Wikipedia: MDMA" stays whole; "The Varieties of Religious Experience: A Study in
    Human Nature" loses its subtitle)."""
    title = re.sub(r"\s*\([^)]*\)", "", source.title or source.file).strip()
    head, sep, _ = title.partition(": ")
    return head if sep and len(head.split()) > 1 else title


def _is_person(name: str) -> bool:
    return is_personal_name(name) and not _is_plural(name)


_PARTICLES = frozenset(("de", "da", "di", "du", "van", "von", "der", "den", "la", "le", "ten", "ter"))
# What prose calls a work it has already introduced when its author is not a person, by the work's kind.
_WORK_BY_KIND = (("article", "the article"), ("health", "the same page"), ("guideline", "the guideline"),
                 ("trial", "the trial report"), ("review", "the review"), ("book", "the book"))


def later_name(source: Source) -> str:
    """How prose names a source it has already introduced: the author's surname with its particles ("De Quincey",
    "van der Kolk"), or the work by its kind ("the article"), or "the same source"."""
    name = display_author(source)
    if _is_person(name):
        words = name.split()
        start = len(words) - 1
        while start > 1 and words[start - 1].lower() in _PARTICLES:
            start -= 1
        return " ".join(words[start:])
    kind = source.kind.lower()
    return next((noun for key, noun in _WORK_BY_KIND if key in kind), "the same source")


def _offline_lead(quote: VerifiedQuote, previous: VerifiedQuote | None, introduced: set[str]) -> str:
    """Attribution and connective only: the engine's own words never carry content. A work is named in full the
    first time it is quoted ("In *The Varieties of Religious Experience* (1902, book), William James writes:")."""
    source = quote.source
    author = display_author(source)
    s = "" if _is_plural(author) else "s"
    if source.id not in introduced:
        return f"In *{short_title(source)}*{year_and_kind(source)}, {author} write{s}:"
    name = later_name(source)
    who = name[0].upper() + name[1:]
    s = "" if _is_plural(name) else "s"
    if not _is_person(author):
        s = "s"  # "the article adds", "the same source adds"
    if previous is not None and previous.source.id == source.id:
        far = abs(quote.start - previous.end) > 3000
        if far:
            where = "Elsewhere in the same work" if _is_person(author) else "Elsewhere"
            return f"{where}, {name} write{s}:"
        return f"{who} add{s}:"
    # Back to a work quoted earlier, after another: name it again, or "the article" would seem to be the last one.
    return f"In *{short_title(source)}*, {name} also write{s}:"


def _lead_with_quote(lead: str, quote: str, n: int, close: bool) -> str:
    """`lead “quote” [n]`, closed with a full stop unless the quotation already ends a sentence."""
    lead = lead.strip()
    joiner = "" if lead.endswith((":", ",", "—", "-", ".", "!", "?")) else ":"
    ends_sentence = quote.rstrip("\"'”’)]_*").endswith((".", "!", "?"))
    return f"{lead}{joiner} “{quote}” [{n}]" + ("." if close and not ends_sentence else "")


# "Note:" marks a line as the engine speaking of its own search, not a claim about the world (evals/statements.py).
UNANSWERED_TEXT = "Note: none of the passages I found answers this part of the question:"
UNANSWERED_PARTS_TEXT = "Note: none of the passages I found answers these parts of the question:"


def render_answer(question: str, quotes: list[VerifiedQuote], engine: str, note: str | None = None,
                  nearest: list[NearestPassage] | None = None,
                  part_titles: list[str | None] | None = None, unanswered: list[str] | None = None) -> RenderedAnswer:
    """Prose from quotes in the given order, then the Sources cited list. The offline engine gives each part of the
    question its own paragraph, headed by the part as asked when there are several; the LLM engine's quotes
    (with leads of their own) start a paragraph where the source changes. `unanswered`: parts of the question no
    quote answers, named after the prose so that their silence is not read as the sources' silence."""
    pieces: list[tuple[str, Citation | None]] = []
    citations: list[Citation] = []
    if note:
        pieces.append((f"> {markdown_text(note)}\n\n", None))
    introduced: set[str] = set()
    headed = part_titles is not None and len({q.part for q in quotes}) > 1
    previous: VerifiedQuote | None = None
    for n, quote in enumerate(quotes, start=1):
        if quote.lead:
            new_paragraph = previous is None or previous.source.id != quote.source.id
        else:
            new_paragraph = previous is None or previous.part != quote.part
        if new_paragraph and previous is not None:
            pieces.append(("\n\n", None))
        elif not new_paragraph:
            pieces.append((" ", None))
        title = part_titles[quote.part] if headed and part_titles and quote.part < len(part_titles) else None
        if new_paragraph and title and (previous is None or part_titles[previous.part] != title):
            pieces.append((f"**{markdown_text(_sentence(title))}** ", None))
        lead = quote.lead if quote.lead else _offline_lead(quote, None if new_paragraph else previous, introduced)
        introduced.add(quote.source.id)
        citation = _citation(n, quote)
        citations.append(citation)
        # Corpus text and an LLM's words become Markdown here, and only here: escaped, so none of it is live.
        pieces.append((_lead_with_quote(markdown_text(lead), markdown_text(quote.quote), n, close=True), citation))
        previous = quote
    if unanswered:
        asked = " ".join(f"“{markdown_text(_sentence(part))}”" for part in unanswered)
        lead = UNANSWERED_TEXT if len(unanswered) == 1 else UNANSWERED_PARTS_TEXT
        pieces.append((f"\n\n> {lead} {asked}", None))
    # Once per answer, a block of its own after the prose: never inside a quotation.
    notice = health_notice(question, [quote.source for quote in quotes])
    if notice:
        pieces.append((f"\n\n> {notice}", None))
    pieces.append(("\n\n" + sources_cited(quotes), None))
    markdown = "".join(text for text, _ in pieces)
    answer = Answer(question=question, answer=markdown, refused=False, engine=engine, citations=citations,
                    nearest=nearest or [], notice=notice)
    return RenderedAnswer(answer, pieces)


def _sentence(part: str) -> str:
    """A part of the question as a heading: capitalised, ending with its question mark."""
    part = part.strip().rstrip(",;")
    part = part[0].upper() + part[1:] if part else part
    return part if part.endswith(("?", ".", "!")) else part + "?"


def sources_cited(quotes: list[VerifiedQuote]) -> str:
    """One line per source, in order of first citation, labelled with its year and kind, with the markers that
    cite it."""
    order: dict[str, list[int]] = {}
    sources: dict[str, Source] = {}
    for n, quote in enumerate(quotes, start=1):
        order.setdefault(quote.source.id, []).append(n)
        sources[quote.source.id] = quote.source
    lines = [SOURCES_HEADING, ""]
    for source_id, numbers in order.items():
        s = sources[source_id]
        marks = ", ".join(f"[{n}]" for n in numbers)
        lines.append(f"- {markdown_text(s.author or display_author(s))}{markdown_text(year_and_kind(s))}. "
                     f"*{markdown_text(s.title)}*. {markdown_code(s.file)} — {marks}")
    return "\n".join(lines)


def events(rendered: RenderedAnswer) -> Iterator[AnswerEvent]:
    """Text as composed, a citation event right after the text that carries its marker, then the answer."""
    for text, citation in rendered.pieces:
        yield AnswerEvent(type="text", text=text)
        if citation is not None:
            yield AnswerEvent(type="citation", citation=citation)
    yield AnswerEvent(type="done", answer=rendered.answer)
