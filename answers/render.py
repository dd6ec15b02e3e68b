"""Markdown answers built from verified quotations: attributions, [n] markers, Sources cited, and stream events."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from citewise.answers.markdown_safe import markdown_code, markdown_text
from citewise.core.answer import REFUSAL_TEXT, Answer, AnswerEvent, Citation, NearestPassage, SourceRef
from citewise.core.retrieval import Hit
from citewise.core.types import Passage, Source
from citewise.ingest.sentences import unwrap


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


@dataclass
class RenderedAnswer:
    answer: Answer
    # The Markdown in order, each piece with the citation it closes (if any): what stream() replays.
    pieces: list[tuple[str, Citation | None]] = field(default_factory=list)


def display_author(source: Source) -> str:
    """The person or body to name in prose: the part before any translator/editor note or parenthesis."""
    author = re.split(r";", source.author or "")[0]
    author = re.sub(r"\s*\([^)]*\)", "", author).strip()
    return author or source.title or source.file


def attribution(source: Source) -> str:
    year = f" ({source.year})" if source.year not in (None, "") else ""
    return f"{display_author(source)}{year}"


def source_ref(source: Source) -> SourceRef:
    return SourceRef(id=source.id, title=source.title, author=source.author, year=source.year, file=source.file)


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


def _offline_lead(quote: VerifiedQuote, previous: VerifiedQuote | None, paragraph_index: int) -> str:
    """Attribution and connective only: the engine's own words never carry content."""
    name = display_author(quote.source)
    s = "" if _is_plural(name) else "s"
    if previous is not None and previous.source.id == quote.source.id:
        far = abs(quote.start - previous.end) > 3000
        return f"Elsewhere, {name} write{s}:" if far else f"{name} continue{s}:"
    who = attribution(quote.source)
    openers = ("{who} write{s}:", "On the same question, {who} write{s}:", "In another source, {who} write{s}:")
    return (openers[0] if paragraph_index == 0 else openers[1 + (paragraph_index + 1) % 2]).format(who=who, s=s)


def _lead_with_quote(lead: str, quote: str, n: int, close: bool) -> str:
    """`lead “quote” [n]`, closed with a full stop unless the quotation already ends a sentence."""
    lead = lead.strip()
    joiner = "" if lead.endswith((":", ",", "—", "-", ".", "!", "?")) else ":"
    ends_sentence = quote.rstrip("\"'”’)]_*").endswith((".", "!", "?"))
    return f"{lead}{joiner} “{quote}” [{n}]" + ("." if close and not ends_sentence else "")


def render_answer(question: str, quotes: list[VerifiedQuote], engine: str, note: str | None = None,
                  nearest: list[NearestPassage] | None = None) -> RenderedAnswer:
    """Prose from quotes in the given order: a paragraph per run of one source, then the Sources cited list."""
    pieces: list[tuple[str, Citation | None]] = []
    citations: list[Citation] = []
    if note:
        pieces.append((f"> {markdown_text(note)}\n\n", None))
    paragraph_index = -1
    previous: VerifiedQuote | None = None
    for n, quote in enumerate(quotes, start=1):
        new_paragraph = previous is None or previous.source.id != quote.source.id
        if new_paragraph:
            paragraph_index += 1
            if previous is not None:
                pieces.append(("\n\n", None))
        else:
            pieces.append((" ", None))
        lead = quote.lead if quote.lead else _offline_lead(quote, None if new_paragraph else previous,
                                                            paragraph_index)
        citation = _citation(n, quote)
        citations.append(citation)
        # Corpus text and an LLM's words become Markdown here, and only here: escaped, so none of it is live.
        pieces.append((_lead_with_quote(markdown_text(lead), markdown_text(quote.quote), n, close=True), citation))
        previous = quote
    pieces.append(("\n\n" + sources_cited(quotes), None))
    markdown = "".join(text for text, _ in pieces)
    answer = Answer(question=question, answer=markdown, refused=False, engine=engine, citations=citations,
                    nearest=nearest or [])
    return RenderedAnswer(answer, pieces)


def sources_cited(quotes: list[VerifiedQuote]) -> str:
    """One line per source, in order of first citation, with the markers that cite it."""
    order: dict[str, list[int]] = {}
    sources: dict[str, Source] = {}
    for n, quote in enumerate(quotes, start=1):
        order.setdefault(quote.source.id, []).append(n)
        sources[quote.source.id] = quote.source
    lines = ["**Sources cited**", ""]
    for source_id, numbers in order.items():
        s = sources[source_id]
        year = f" ({s.year})" if s.year not in (None, "") else ""
        marks = ", ".join(f"[{n}]" for n in numbers)
        lines.append(f"- {markdown_text(s.author or display_author(s))}{markdown_text(year)}. "
                     f"*{markdown_text(s.title)}*. {markdown_code(s.file)} — {marks}")
    return "\n".join(lines)


def refusal(question: str, engine: str, hits: list[Hit], note: str | None = None) -> RenderedAnswer:
    text = (f"> {markdown_text(note)}\n\n" if note else "") + REFUSAL_TEXT
    answer = Answer(question=question, answer=text, refused=True, engine=engine, nearest=nearest_passages(hits))
    return RenderedAnswer(answer, [(text, None)])


def events(rendered: RenderedAnswer) -> Iterator[AnswerEvent]:
    """Text as composed, a citation event right after the text that carries its marker, then the answer."""
    for text, citation in rendered.pieces:
        yield AnswerEvent(type="text", text=text)
        if citation is not None:
            yield AnswerEvent(type="citation", citation=citation)
    yield AnswerEvent(type="done", answer=rendered.answer)
