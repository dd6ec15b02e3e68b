"""The tools an assistant calls: ask, search, get_passage and sources. Each borrows the live index generation for
the call, runs the blocking work in a worker thread (so a long `serve --ingest` or another call never holds the
others up), and reports a user's mistake or a missing index as a tool error, never as a crash."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import Annotated

import anyio
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from citewise.answers.output import attribution, source_ref
from citewise.core.answer import SourceRef
from citewise.core.errors import CitewiseError
from citewise.core.retrieval import FilterRequest, SearchFilters
from citewise.core.text import primary_author
from citewise.core.types import Source
from citewise.mcp_server.models import (
    AskResult,
    Heading,
    PassageHit,
    PassageResult,
    SearchResult,
    SourceEntry,
    SourcesResult,
)
from citewise.mcp_server.service import Generation, ServiceGetter, lent_generation
from citewise.retrieval.filters import index_kinds, resolve_filters, resolve_sources
from citewise.retrieval.spans import MAX_CONTEXT, span_in_context

log = logging.getLogger("citewise.mcp")

MAX_SEARCH_K = 50
# Shown in a tool's text for each search hit or nearest passage: enough to judge it, short enough for a context.
SNIPPET_CHARS = 600
INDEXING_NOTE = ("Note: the corpus is still being indexed; this comes from the part published so far, and asking "
                 "again once indexing has finished may find more.")

FiltersArg = Annotated[FilterRequest | None, Field(
    description="optional: confine the answer to sources published since/until a year, of some kinds, by some "
                "authors, or named ones (by id, file name, alias or title, as the sources tool lists them); "
                "all given conditions apply")]


@contextlib.contextmanager
def tool_errors(tool: str) -> Iterator[None]:
    """A CitewiseError (a bad filter, an unknown source, a span outside the text) is the caller's to fix: its message
    goes back as a tool error. Anything else is a bug: logged here under an id, and only the id goes back, never the
    exception's text, which may hold paths or corpus text."""
    try:
        yield
    except ToolError:
        raise
    except CitewiseError as exc:
        raise ToolError(str(exc)) from exc
    except Exception as exc:
        error_id = uuid.uuid4().hex[:12]
        log.error("internal error %s in MCP tool %s", error_id, tool, exc_info=exc)
        raise ToolError(f"internal error (id {error_id}); the citewise log has the details") from exc


def _result(text: str, structured: BaseModel) -> CallToolResult:
    """Markdown for the model to read, and the same facts as structured content for the client's code."""
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content=structured.model_dump(mode="json"))


def _cited(ref: SourceRef, start: int, end: int, page: int | None) -> str:
    """"Dudley Wright (1919, book), *The Eleusinian Mysteries and Rites* (wright-1919-....txt, characters 10-90)"."""
    when = ", ".join(str(part) for part in (ref.year, ref.kind) if part not in (None, ""))
    where = f"{ref.file}, characters {start}-{end}" + (f", p. {page}" if page else "")
    return f"{primary_author(ref.author) or ref.title}{f' ({when})' if when else ''}, *{ref.title}* ({where})"


def _snippet(text: str) -> str:
    folded = " ".join(text.split())
    return folded if len(folded) <= SNIPPET_CHARS else folded[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


def _entry(source: Source) -> SourceEntry:
    return SourceEntry(**source_ref(source).model_dump(), aliases=list(source.aliases), chars=source.chars,
                       passages=source.passages)


def _filters(request: FilterRequest | None, loaded: Generation) -> SearchFilters:
    try:
        return resolve_filters(request, loaded.index.sources)
    except CitewiseError as exc:
        raise ToolError(f"filters: {exc}") from exc


class CitewiseTools:
    """The tool functions, bound to the service that lends them the index."""

    def __init__(self, service: ServiceGetter) -> None:
        self.service = service

    def _indexing(self) -> bool:
        service = self.service()
        return service is not None and service.indexing()

    async def ask(
        self,
        question: Annotated[str, Field(min_length=1, description="the question, in plain words; one question per "
                                                                "call (a follow-up should restate its subject)")],
        filters: FiltersArg = None,
    ) -> Annotated[CallToolResult, AskResult]:
        with tool_errors("ask"):
            service = self.service()
            question = question.strip()
            limit = service.settings.server.max_question_chars if service is not None else None
            if not question:
                raise ToolError("question: must not be empty")
            if limit is not None and len(question) > limit:
                raise ToolError(f"question: {len(question)} characters; at most {limit} are accepted")
            with lent_generation(service) as loaded:
                resolved = _filters(filters, loaded)
                engine = await anyio.to_thread.run_sync(loaded.engine)
                answer = await anyio.to_thread.run_sync(engine.answer, question, None, resolved)
            result = AskResult(**answer.model_dump(), indexing=self._indexing())
            return _result(_ask_text(result), result)

    async def search(
        self,
        query: Annotated[str, Field(min_length=1, max_length=2000, description="what to look for: a question, "
                                                                              "a phrase, or key words")],
        k: Annotated[int, Field(ge=1, le=MAX_SEARCH_K, description="how many passages to return")] = 8,
        filters: FiltersArg = None,
    ) -> Annotated[CallToolResult, SearchResult]:
        with tool_errors("search"), lent_generation(self.service()) as loaded:
            resolved = _filters(filters, loaded)
            hits = await anyio.to_thread.run_sync(lambda: loaded.retriever.search(query, k, None, resolved))
            result = SearchResult(query=query, indexing=self._indexing(), hits=[
                PassageHit(rank=h.rank, score=h.score, passage_id=h.passage.id, start=h.passage.start,
                           end=h.passage.end, page=h.passage.page, heading=h.passage.heading, text=h.passage.text,
                           source=source_ref(h.source)) for h in hits])
            return _result(_search_text(result), result)

    async def get_passage(
        self,
        source: Annotated[str, Field(min_length=1, description="the source: its id (as a citation's source.id), "
                                                              "file name, alias or title")],
        start: Annotated[int, Field(ge=0, description="start offset in the source's canonical text (a citation's "
                                                      "or search hit's start)")],
        end: Annotated[int, Field(ge=0, description="end offset, exclusive (a citation's or search hit's end)")],
        context: Annotated[int, Field(ge=0, le=MAX_CONTEXT, description="characters of context either side")] = 600,
    ) -> Annotated[CallToolResult, PassageResult]:
        with tool_errors("get_passage"), lent_generation(self.service()) as loaded:
            found = resolve_sources([source], loaded.index.sources)
            if len(found) > 1:
                titles = "; ".join(sorted(f"{loaded.index.sources[i].title} ({i})" for i in found))
                raise ToolError(f"source {source!r} names {len(found)} sources ({titles}): pass one's id")
            entry = _entry(loaded.index.sources[next(iter(found))])
            span = await anyio.to_thread.run_sync(span_in_context, loaded.index, entry.id, start, end, context)
            result = PassageResult(source=entry, start=span.start, end=span.end, text=span.text, before=span.before,
                                   after=span.after, context_start=span.context_start, context_end=span.context_end,
                                   page=span.page, headings=[Heading(start=o, text=t) for o, t in span.headings])
            return _result(_passage_text(result), result)

    async def sources(self) -> Annotated[CallToolResult, SourcesResult]:
        with tool_errors("sources"), lent_generation(self.service()) as loaded:
            held = sorted(loaded.index.sources.values(), key=lambda s: (s.author, s.title, s.file))
            result = SourcesResult(sources=[_entry(s) for s in held], kinds=index_kinds(loaded.index.sources),
                                   indexing=self._indexing())
            return _result(_sources_text(result, held), result)


def _ask_text(result: AskResult) -> str:
    parts = [result.answer.strip()]
    if result.refused and result.nearest:
        lines = ["**Nearest passages** (none supports an answer; they are not quotations of one):"]
        for n, passage in enumerate(result.nearest, start=1):
            lines.append(f"{n}. {_cited(passage.source, passage.start, passage.end, passage.page)}: "
                         f"{_snippet(passage.text)}")
        parts.append("\n".join(lines))
    if result.indexing:
        parts.append(INDEXING_NOTE)
    return "\n\n".join(parts)


def _search_text(result: SearchResult) -> str:
    if not result.hits:
        lines = ["No passages found."]
    else:
        lines = [f"{h.rank}. {_cited(h.source, h.start, h.end, h.page)}, source id {h.source.id}: "
                 f"{_snippet(h.text)}" for h in result.hits]
    if result.indexing:
        lines.append(INDEXING_NOTE)
    return "\n".join(lines)


def _passage_text(result: PassageResult) -> str:
    # The span between ⟦ ⟧ is exactly canonical_text[start:end]; the context is as the source has it.
    return (f"{_cited(result.source, result.start, result.end, result.page)}\n\n"
            f"{result.before}⟦{result.text}⟧{result.after}")


def _sources_text(result: SourcesResult, held: list[Source]) -> str:
    lines = [f"{len(held)} sources" + (f"; kinds: {', '.join(result.kinds)}" if result.kinds else "")]
    for source in held:
        aliases = f"; also {', '.join(source.aliases)}" if source.aliases else ""
        lines.append(f"- {attribution(source)}, *{source.title}*: file {source.file}, id {source.id}, "
                     f"{source.passages} passages{aliases}")
    if result.indexing:
        lines.append(INDEXING_NOTE)
    return "\n".join(lines)
