"""The MCP server through the SDK's own client: `citewise mcp` started over stdio, and /mcp of a real `citewise
serve` over streamable HTTP (with and without its API key, and during a long `serve --ingest`), on real indexes."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult

from citewise.bench.server_process import ServerProcess
from citewise.core.settings import Settings
from citewise.mcp_server.models import AskResult, PassageResult, SearchResult, SourcesResult
from tests.cli import CITEWISE
from tests.conftest import CORPUS

pytestmark = pytest.mark.integration

QUESTION = "What are the effects of MDMA on serotonin?"
# Nothing in the slice bears on it: the offline engine refuses.
UNANSWERABLE = "What is the boiling point of tungsten?"
API_KEY = "mcp-test-key-0123456789"
TOOLS = {"ask", "search", "get_passage", "sources"}


def folded(text: str) -> str:
    """A quotation's display form folds white space and may show straight quote marks for curly ones."""
    return " ".join(text.replace("“", '"').replace("”", '"').replace("’", "'").replace("‘", "'").split())


def run(test: Callable[[], Awaitable[None]]) -> None:
    anyio.run(test)


def stdio_client(index: Path) -> Client:
    # The SDK passes only a safe default environment (PATH, HOME, ...) plus `env`: no CITEWISE_ setting of the
    # test session reaches the server, and the model cache is this session's (conftest).
    return Client(StdioServerParameters(command=str(CITEWISE), args=["mcp", "--index", str(index)],
                                        env={"XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"], "HF_HUB_OFFLINE": "1"}))


@asynccontextmanager
async def http_client(url: str, api_key: str | None = None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        yield client


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


async def check_every_tool(client: Client, corpus: Path) -> None:
    """Lists the tools, calls each one, and checks every quotation and span against the files themselves."""
    files = {path.name: path.read_text(encoding="utf-8") for path in corpus.iterdir() if path.suffix in (".md",
                                                                                                         ".txt")}
    listed = (await client.list_tools()).tools
    assert {tool.name for tool in listed} == TOOLS
    for tool in listed:
        assert tool.description and len(tool.description) > 100, tool.name
        assert tool.output_schema is not None and tool.annotations is not None and tool.annotations.read_only_hint
    schemas = {tool.name: tool.input_schema for tool in listed}
    assert schemas["ask"]["required"] == ["question"]
    assert sorted(schemas["get_passage"]["required"]) == ["end", "source", "start"]
    assert schemas["search"]["properties"]["k"]["maximum"] == 50

    held = await client.call_tool("sources", {})
    assert not held.is_error, text_of(held)
    sources = SourcesResult.model_validate(held.structured_content)
    assert sorted(s.file for s in sources.sources) == sorted(files)
    assert "encyclopedia article" in sources.kinds and not sources.indexing
    assert all(s.id in text_of(held) for s in sources.sources)

    asked = await client.call_tool("ask", {"question": QUESTION})
    assert not asked.is_error, text_of(asked)
    answer = AskResult.model_validate(asked.structured_content)
    assert not answer.refused and answer.citations and answer.engine == "offline"
    assert "Sources cited" in text_of(asked)
    for citation in answer.citations:
        assert f"[{citation.n}]" in text_of(asked)
        source = files[citation.source.file]
        # Verbatim at its offsets in the file on disk, not only in the index.
        assert folded(source[citation.start:citation.end]) == folded(citation.quote), citation
        assert citation.source.author and citation.source.title and citation.source.kind

    found = await client.call_tool("search", {"query": "serotonin release", "k": 3,
                                              "filters": {"kinds": ["encyclopedia article"]}})
    assert not found.is_error, text_of(found)
    hits = SearchResult.model_validate(found.structured_content).hits
    assert len(hits) == 3 and all(h.source.kind == "encyclopedia article" for h in hits)
    for hit in hits:
        assert files[hit.source.file][hit.start:hit.end] == hit.text  # exactly, character for character

    first = answer.citations[0]
    span = await client.call_tool("get_passage", {"source": first.source.file, "start": first.start,
                                                  "end": first.end, "context": 200})
    assert not span.is_error, text_of(span)
    passage = PassageResult.model_validate(span.structured_content)
    source = files[first.source.file]
    assert passage.source.id == first.source.id
    assert passage.text == source[first.start:first.end]
    assert source[passage.context_start:passage.context_end] == passage.before + passage.text + passage.after
    assert 0 < len(passage.before) <= 200 + 40 or first.start < 200
    assert f"⟦{passage.text}⟧" in text_of(span)


async def check_refusal_and_errors(client: Client) -> None:
    refused = await client.call_tool("ask", {"question": UNANSWERABLE})
    assert not refused.is_error, text_of(refused)  # a refusal is an answer, not a failure
    answer = AskResult.model_validate(refused.structured_content)
    assert answer.refused and not answer.citations and answer.nearest
    assert text_of(refused).startswith("I cannot answer this from the indexed sources")
    assert "Nearest passages" in text_of(refused) and answer.nearest[0].source.file in text_of(refused)

    for arguments, says in (
        ({"question": QUESTION, "filters": {"kinds": ["poem"]}}, "no source in the index is of kind 'poem'"),
        ({"question": QUESTION, "filters": {"since": 2030, "until": 2020}}, "the year range is empty"),
        ({"question": QUESTION, "filters": {"colour": "red"}}, "colour"),
        ({"question": "   "}, "question: must not be empty"),
    ):
        failed = await client.call_tool("ask", arguments)
        assert failed.is_error and says in text_of(failed), (arguments, text_of(failed))
    failed = await client.call_tool("get_passage", {"source": "no-such-book.txt", "start": 0, "end": 10})
    assert failed.is_error and "'no-such-book.txt' is not in the index" in text_of(failed)
    failed = await client.call_tool("get_passage", {"source": "wikipedia-2025-mdma.md", "start": 10,
                                                    "end": 10_000_000})
    assert failed.is_error and "outside the source's text" in text_of(failed)
    failed = await client.call_tool("search", {"query": "serotonin", "k": 0})
    assert failed.is_error and "k" in text_of(failed)
    # None of it took the server down.
    assert not (await client.call_tool("sources", {})).is_error


def test_stdio_tools_quote_verbatim_and_report_refusals_and_errors(slice_settings: Settings,
                                                                   slice_corpus: Path) -> None:
    async def test() -> None:
        async with stdio_client(slice_settings.index) as client:
            await check_every_tool(client, slice_corpus)
            await check_refusal_and_errors(client)

    run(test)


def test_stdio_without_an_index_says_so_as_a_tool_error(tmp_path: Path) -> None:
    async def test() -> None:
        async with stdio_client(tmp_path / "none") as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
            for name, arguments in (("sources", {}), ("ask", {"question": QUESTION})):
                failed = await client.call_tool(name, arguments)
                assert failed.is_error, text_of(failed)
                assert f"no index at {tmp_path / 'none'} yet (run `citewise ingest`)" in text_of(failed)

    run(test)


@pytest.fixture(scope="module")
def keyed_server(slice_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    with ServerProcess(slice_settings.index, env={"CITEWISE_SERVER__API_KEY": API_KEY}, inherit_settings=False,
                       log_dir=tmp_path_factory.mktemp("mcp_serve_log")) as running:
        yield running


def test_http_tools_with_the_api_key(keyed_server: ServerProcess, slice_corpus: Path) -> None:
    async def test() -> None:
        async with http_client(f"{keyed_server.base_url}/mcp", API_KEY) as client:
            await check_every_tool(client, slice_corpus)
            await check_refusal_and_errors(client)

    run(test)


def test_http_refuses_a_client_without_the_key_or_for_another_host(keyed_server: ServerProcess) -> None:
    url = f"{keyed_server.base_url}/mcp"

    async def connect(key: str | None) -> None:
        async with http_client(url, key) as client:
            await client.list_tools()

    for key in (None, "wrong-key"):
        # The SDK's client reports the 401 as an MCPError ("Server returned an error response") in its task group.
        with pytest.raises(ExceptionGroup) as refused:
            run(lambda key=key: connect(key))
        assert refused.group_contains(MCPError, depth=None), refused.value
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    plain = httpx.post(url, json=body, headers=headers, timeout=30)
    assert plain.status_code == 401 and "API key" in plain.json()["error"]["message"]
    # DNS rebinding: a page whose name was rebound to 127.0.0.1 still sends its own Host header.
    rebound = httpx.post(url, json=body, headers={**headers, "Authorization": f"Bearer {API_KEY}",
                                                  "Host": "evil.example"}, timeout=30)
    assert rebound.status_code == 400 and "evil.example" in rebound.json()["error"]["message"]


def test_http_answers_while_a_long_serve_ingest_runs(slice_corpus: Path, tmp_path: Path) -> None:
    """Two books past the slice keep the ingest busy for minutes; the service is stopped (and the ingest with it)
    long before that. No API key here: MCP works on a keyless service as on a keyed one."""
    corpus = tmp_path / "corpus"
    shutil.copytree(slice_corpus, corpus)
    for book in ("freud-1919-totem-and-taboo.txt", "harrison-1913-ancient-art-and-ritual.txt"):
        shutil.copy(CORPUS / book, corpus / book)
    first_part = min(path.stat().st_size for path in corpus.iterdir() if path.suffix == ".md")
    args = ["--ingest", str(corpus), "--first-part-bytes", str(first_part)]
    with ServerProcess(tmp_path / "index", inherit_settings=False, log_dir=tmp_path, args=args,
                       wait_for="healthz") as server:
        def ingest_state() -> str:
            return httpx.get(f"{server.base_url}/readyz", timeout=30).json()["ingest"]["state"]

        async def test() -> None:
            async with http_client(f"{server.base_url}/mcp") as client:
                deadline = time.monotonic() + 300
                while True:  # until the first part is published; each call answers at once meanwhile
                    started = time.monotonic()
                    held = await client.call_tool("sources", {})
                    assert time.monotonic() - started < 5, "a call waited for the ingest"
                    if not held.is_error:
                        break
                    assert "the corpus is still being indexed" in text_of(held), text_of(held)
                    assert time.monotonic() < deadline, server.log()
                    await anyio.sleep(0.2)
                assert SourcesResult.model_validate(held.structured_content).indexing

                asked = await client.call_tool("ask", {"question": QUESTION})
                refused = await client.call_tool("ask", {"question": UNANSWERABLE})
                assert ingest_state() == "running", "the calls waited for the ingest to end"
                for result in (asked, refused):
                    assert not result.is_error, text_of(result)
                    assert AskResult.model_validate(result.structured_content).indexing
                    assert "the corpus is still being indexed" in text_of(result)
                assert AskResult.model_validate(refused.structured_content).refused

        run(test)


def test_cors_lets_an_allowed_origin_send_the_mcp_headers(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from citewise.server.app import create_app

    settings = Settings(index=tmp_path, server={"cors_origins": ["https://chat.example.org"]})
    # No lifespan (nothing loaded): a preflight is answered by the CORS middleware before any route.
    client = TestClient(create_app(settings, embedder=object()), base_url="http://127.0.0.1")
    preflight = client.options("/mcp", headers={
        "Origin": "https://chat.example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version"})
    assert preflight.status_code == 200, preflight.text
    assert "mcp-protocol-version" in preflight.headers["access-control-allow-headers"].lower()
    other = client.options("/mcp", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers
