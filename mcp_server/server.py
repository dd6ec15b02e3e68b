"""The MCP server: the four tools with the descriptions a model reads to choose and fill them."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from citewise.mcp_server.service import ServiceGetter
from citewise.mcp_server.tools import CitewiseTools

VERSION = "0.1.0"
INSTRUCTIONS = (
    "citewise answers questions from a fixed corpus of documents with verbatim quotations, each verified against "
    "its source and cited with exact character offsets. Call `ask` for an answer; quote its quotations as given "
    "and keep their citations. When `ask` refuses (refused: true), the corpus does not support an answer: say so "
    "rather than answering from memory. Use `search` to look through passages, `get_passage` to read a cited "
    "span in context, and `sources` to see what the corpus holds and the names the filters accept."
)
ASK = (
    "Answer a question from the indexed corpus with verbatim quotations only. Every quotation has been located "
    "in its source text before it is returned. The text result is Markdown: the answer woven from quotations with "
    "[n] markers, then a 'Sources cited' list. The structured result lists every citation: n, the quotation, its "
    "source (id, author, year, title, kind, file), its start and end offsets in the source's canonical text, and "
    "its page for PDFs. When the passages found do not support an answer, the result is a refusal (refused: "
    "true, the text says it cannot answer) with the nearest passages listed instead; do not present those as an "
    "answer. Filters confine the answer to some sources; a refusal under filters says whether they excluded the "
    "evidence."
)
SEARCH = (
    "Find the passages of the indexed corpus that bear on a query (hybrid dense and keyword search), best "
    "first. Each hit has its text, its source (id, author, year, title, kind, file), its start and end offsets "
    "in the source's canonical text (text == canonical_text[start:end]) and its page for PDFs. Passages are "
    "retrieved, not verified as answering anything: use `ask` for an answer."
)
GET_PASSAGE = (
    "Read a span of one source's canonical text with context either side, e.g. to check a quotation from `ask` "
    "or a hit from `search` in place. Give the source (its id, file name, alias or title) and the start and end "
    "offsets as a citation or hit gives them. The text result marks the span with ⟦ ⟧; the structured result "
    "has the span, the context before and after, the page and the headings around it."
)
SOURCES = (
    "List what the corpus holds: every source with its id, author, year, title, kind, file, aliases and number "
    "of passages, and the kinds of source present. The names and kinds listed are what the filters of `ask` and "
    "`search` accept."
)
# Nothing here changes the corpus, and answers come from it alone.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)


@contextlib.contextmanager
def _root_logging_kept() -> Iterator[None]:
    """MCPServer() calls logging.basicConfig at INFO, which would make every INFO record of the process (the
    service's, httpx's) print; citewise leaves logging as its command set it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def build_server(service: ServiceGetter,
                 lifespan: Callable[[MCPServer[Any]], AbstractAsyncContextManager[Any]] | None = None
                 ) -> MCPServer[Any]:
    """The MCP server whose tools use `service()`'s index; `lifespan` opens that service where the server runs
    alone (stdio)."""
    with _root_logging_kept():
        server: MCPServer[Any] = MCPServer("citewise", title="citewise: verified quotations", version=VERSION,
                                           instructions=INSTRUCTIONS, lifespan=lifespan)
    tools = CitewiseTools(service)
    server.add_tool(tools.ask, name="ask", title="Answer with verified quotations", description=ASK,
                    annotations=READ_ONLY)
    server.add_tool(tools.search, name="search", title="Search passages", description=SEARCH,
                    annotations=READ_ONLY)
    server.add_tool(tools.get_passage, name="get_passage", title="Read a span in context", description=GET_PASSAGE,
                    annotations=READ_ONLY)
    server.add_tool(tools.sources, name="sources", title="List the sources", description=SOURCES,
                    annotations=READ_ONLY)
    return server
