"""A span of a source's canonical text with context either side: how a reader checks a quotation in place. The
API's /v1/sources/{id}/text and the MCP get_passage tool both show spans this way."""

from __future__ import annotations

from dataclasses import dataclass

from citewise.core.errors import CitewiseError
from citewise.core.index import IndexReader

MAX_SPAN = 100_000
MAX_CONTEXT = 5_000
DEFAULT_SPAN = 2_000
# A context edge moves up to this far to fall on white space rather than mid-word.
EDGE_SLACK = 40


@dataclass(frozen=True)
class SpanInContext:
    start: int
    end: int
    page: int | None
    before: str
    text: str  # canonical_text[start:end]
    after: str
    context_start: int
    context_end: int
    headings: list[tuple[int, str]]  # (offset, heading) of the source's headings within the context


def _context_start(text: str, start: int, context: int) -> int:
    edge = max(0, start - context)
    if edge == 0:
        return 0
    space = text.find(" ", edge, min(start, edge + EDGE_SLACK))
    newline = text.find("\n", edge, min(start, edge + EDGE_SLACK))
    found = [i for i in (space, newline) if i >= 0]
    return min(found) + 1 if found else edge


def _context_end(text: str, end: int, context: int) -> int:
    edge = min(len(text), end + context)
    if edge == len(text):
        return edge
    low = max(end, edge - EDGE_SLACK)
    found = [i for i in (text.rfind(" ", low, edge), text.rfind("\n", low, edge)) if i >= 0]
    return max(found) if found else edge


def span_in_context(index: IndexReader, source_id: str, start: int, end: int | None, context: int) -> SpanInContext:
    """The canonical text of `source_id` from start to end (default: start + DEFAULT_SPAN, within the text) with
    about `context` characters either side, cut at white space. A span outside the text, or longer than MAX_SPAN,
    is a CitewiseError; so is an unknown source id (callers that answer 404 check it first)."""
    try:
        text = index.source_text(source_id)
    except KeyError:
        raise CitewiseError(f"no source {source_id} in the index") from None
    end = min(len(text), start + DEFAULT_SPAN) if end is None else end
    if start < 0 or start > end or end > len(text):
        raise CitewiseError(f"span {start}-{end} is outside the source's text (0-{len(text)})")
    if end - start > MAX_SPAN:
        raise CitewiseError(f"span {start}-{end} is longer than {MAX_SPAN} characters")
    context = max(0, min(context, MAX_CONTEXT))
    left, right = _context_start(text, start, context), _context_end(text, end, context)
    page = next((number for low, high, number in index.source_pages(source_id) if low <= start < high), None)
    headings = [(offset, heading) for offset, heading in index.source_headings(source_id) if left <= offset < right]
    return SpanInContext(start=start, end=end, page=page, before=text[left:start], text=text[start:end],
                         after=text[end:right], context_start=left, context_end=right, headings=headings)
