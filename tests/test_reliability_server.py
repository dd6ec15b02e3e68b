"""Reliability of `citewise serve` (issue 15), over real HTTP against a real service process: replaced index
generations are let go, corpus markup never reaches a client live, the Host header and the API key guard every
route, a broken published generation is reported, and an internal error gives the client an id, not its text."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from citewise.bench.server_process import ServerProcess
from citewise.core.settings import Settings
from citewise.ingest.pipeline import Ingestor
from tests.cli import run_cli, run_on_terminal

pytestmark = pytest.mark.integration

HOSTILE = """---
title: Q <img src=x onerror=alert(1)>
author: <script>alert(2)</script> Keeper
year: 1901
---

# Lantern notes

The harbour lantern burned with a green flame on winter nights, and the keeper trusted it more than any chart.

The keeper wrote that the harbour lantern <svg onload=alert(3)> burned with a green flame on winter nights.
He added that sailors [trusted](javascript:alert(4)) the green lantern flame <b>more than any chart</b>.
The green flame of the lantern was seen <img src=x onerror=alert(5)> from far out at sea on winter nights.
"""
QUESTION = "What colour was the flame of the harbour lantern on winter nights?"
LIVE_MARKUP = re.compile(r"<\s*(svg|img|script|b)\b|\]\(\s*javascript:", re.IGNORECASE)


# Issue 24: a file name whose blank lines would end the code span it is written in, and a title holding terminal
# controls (ESC ] 0 ; sets the window title, BEL ends it; ESC [ 2 J clears the screen).
LIVE_NAME = "a\n\n<img src=x onerror=alert(1)>\n\nb.md"
BELLS = """---
title: Bells\x07 \x1b]0;owned\x07 of the \x1b[2Jtower
author: Ida \x1b[31mRinger
---

The bell tower rang the hours over the harbour town, and the ringer climbed its stair at dawn each day.
"""
BELLS_QUESTION = "Who climbed the stair of the bell tower at dawn?"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    corpus = tmp_path_factory.mktemp("hostile")
    (corpus / "lantern <b>notes<b> `x`.md").write_text(HOSTILE, encoding="utf-8")
    (corpus / LIVE_NAME).write_text(BELLS, encoding="utf-8")
    (corpus / "weather.txt").write_text("Rain fell all week and the river rose over the meadow.", encoding="utf-8")
    settings = Settings(index=tmp_path_factory.mktemp("hostile_index") / "index")
    Ingestor(settings, embedder=embedder, progress=False).run([corpus])
    return settings.index


@pytest.fixture(scope="module")
def server(hostile_index: Path, tmp_path_factory: pytest.TempPathFactory):
    with ServerProcess(hostile_index, inherit_settings=False, log_dir=tmp_path_factory.mktemp("log")) as running:
        yield running


# The file name is a code span whose fence outlasts its backticks: nothing inside a code span is markup.
FILE_SPAN = "``lantern <b>notes<b> `x`.md``"


def assert_inert(markdown: str) -> None:
    assert not LIVE_MARKUP.search(markdown.replace(FILE_SPAN, "")), markdown
    assert "&lt;" in markdown, markdown  # the markup is still there, as text


def test_corpus_markup_is_escaped_in_every_answer_markdown(server: ServerProcess, hostile_index: Path) -> None:
    with httpx.Client(base_url=server.base_url, timeout=120) as http:
        asked = http.post("/v1/ask", json={"question": QUESTION}).json()
        assert not asked["refused"] and asked["citations"], asked
        assert_inert(asked["answer"])
        assert FILE_SPAN in asked["answer"]
        # Structured data carries the text as it is (the title, and any quotation holding markup).
        assert any("<img" in c["source"]["title"] for c in asked["citations"])
        chat = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})
        assert_inert(chat.json()["choices"][0]["message"]["content"])
        with http.stream("POST", "/v1/chat/completions", json={
                "stream": True, "messages": [{"role": "user", "content": QUESTION}]}) as streamed:
            body = streamed.read().decode()
        chunks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
        assert_inert("".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks))
        exported = http.post("/v1/export", json={"answer": asked, "format": "md"})
        assert exported.status_code == 200
        assert_inert(exported.text)
    cli = run_cli("ask", QUESTION, "--index", str(hostile_index))
    assert cli.returncode == 0, cli.stderr
    assert_inert(cli.stdout)


def _rendered(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(markdown)


def test_a_file_name_cannot_put_live_html_into_any_markdown(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=120) as http:
        asked = http.post("/v1/ask", json={"question": BELLS_QUESTION}).json()
        assert any(c["source"]["file"] == LIVE_NAME for c in asked["citations"]), asked
        chat = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": BELLS_QUESTION}]})
        exported = http.post("/v1/export", json={"answer": asked, "format": "md"})
    for markdown in (asked["answer"], chat.json()["choices"][0]["message"]["content"], exported.text):
        html = _rendered(markdown)
        assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html, markdown
        assert not CONTROL.search(markdown) and "\\x1b]0;owned" in markdown, markdown


def test_control_characters_in_metadata_never_reach_the_terminal(hostile_index: Path) -> None:
    outputs = {
        "ask": run_cli("ask", BELLS_QUESTION, "--index", str(hostile_index)).stdout,
        "ask on a terminal": run_on_terminal("ask", BELLS_QUESTION, "--index", str(hostile_index)),
        "ask, refused": run_cli("ask", "What did the bell ringer eat for supper in the winter of 1890?",
                                "--index", str(hostile_index)).stdout,
        "search": run_cli("search", "bell tower ringer", "--index", str(hostile_index)).stdout,
        "ask --format bibtex": run_cli("ask", BELLS_QUESTION, "--format", "bibtex", "--index",
                                       str(hostile_index)).stdout,
    }
    for command, output in outputs.items():
        assert "Bells" in output, (command, output)
        assert not CONTROL.search(output), (command, output)
        assert "x1b]0;owned" in output, (command, output)  # shown as an escape, not dropped


def test_text_null_in_a_content_part_is_refused(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        response = http.post("/v1/chat/completions", json={
            "messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]})
        assert response.status_code == 422 and "string 'text'" in response.json()["error"]["message"]
        fine = http.post("/v1/chat/completions", json={
            "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]})
        assert fine.status_code == 200


@pytest.mark.parametrize(("name", "count"), [("kind", 51), ("author", 51), ("source", 501)])
def test_too_long_a_filter_list_is_a_422_and_the_connection_stays_open(
        server: ServerProcess, name: str, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        query = urllib.parse.urlencode([("q", "lantern"), *[(name, f"v{i}") for i in range(count)]])
        connection.request("GET", f"/v1/search?{query}")
        refused = connection.getresponse()
        body = json.loads(refused.read())
        assert refused.status == 422, body
        assert name in body["error"]["message"] and f"at most {count - 1}" in body["error"]["message"], body
        assert refused.getheader("connection") != "close"
        kept = connection.sock
        # The next request goes out on the same socket and is answered (a 500 made uvicorn close it).
        connection.request("GET", "/v1/search?q=lantern")
        fine = connection.getresponse()
        assert fine.status == 200 and json.loads(fine.read())["hits"]
        assert connection.sock is kept
    finally:
        connection.close()


def test_only_the_configured_host_names_are_served(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        rebound = http.get("/v1/sources", headers={"Host": "attacker.example"})
        assert rebound.status_code == 400 and "CITEWISE_SERVER__ALLOWED_HOSTS" in rebound.json()["error"]["message"]
        assert http.get("/", headers={"Host": f"attacker.example:{server.port}"}).status_code == 400
        for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "localhost"):
            assert http.get("/v1/sources", headers={"Host": host}).status_code == 200
    with ServerProcess(server.index, inherit_settings=False,
                       env={"CITEWISE_SERVER__ALLOWED_HOSTS": '["citewise.internal"]'}) as named, \
            httpx.Client(base_url=named.base_url, timeout=60) as http:
        assert http.get("/v1/sources", headers={"Host": "citewise.internal:80"}).status_code == 200
        assert http.get("/v1/sources", headers={"Host": "localhost"}).status_code == 400


def test_openapi_declares_the_errors_the_api_sends(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        paths = http.get("/openapi.json").json()["paths"]
    for path, status in (("/v1/sources/{source_id}", "404"), ("/v1/ask", "400"), ("/v1/chat/completions", "404"),
                         ("/v1/search", "422"), ("/v1/ask", "401")):
        operation = next(iter(paths[path].values()))
        assert status in operation["responses"], (path, status)
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def _held_generations(pid: int) -> list[str]:
    """The index generation files the process has open (a deleted one shows ' (deleted)')."""
    held = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if "/gen-" in target:
            held.append(target)
    return held


def test_replaced_generations_are_closed_when_their_last_request_ends(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "weather.txt").write_text("Rain fell all week and the river rose over the meadow.", encoding="utf-8")
    settings = Settings(index=tmp_path / "index")
    ingestor = Ingestor(settings, embedder=embedder, progress=False)
    ingestor.run([corpus])
    with ServerProcess(settings.index, inherit_settings=False, log_dir=tmp_path) as server, \
            httpx.Client(base_url=server.base_url, timeout=120) as http:
        pid = server.process.pid
        first = http.get("/readyz").json()["generation"]
        assert any(first in path for path in _held_generations(pid))
        previous = first
        for n in range(6):  # the first generation is replaced like every other
            with http.stream("POST", "/v1/ask", json={"question": "When did the boats leave?", "stream": True}) as r:
                r.read()
            assert http.get("/v1/search", params={"q": "tide", "k": 2}).status_code == 200
            (corpus / f"note-{n}.txt").write_text(f"Note {n}: the tide came in at dawn and the boats left.",
                                                  encoding="utf-8")
            ingestor.run([corpus])
            token = ingestor.store.current_token()
            deadline = time.monotonic() + 30
            while http.get("/readyz").json()["generation"] != token and time.monotonic() < deadline:
                time.sleep(0.1)
            assert http.get("/readyz").json()["generation"] == token
            # No request uses the replaced generation any more: it is let go at once, not whenever the garbage
            # collector gets round to it.
            deadline = time.monotonic() + 2
            while any(previous in path for path in _held_generations(pid)) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not any(previous in path for path in _held_generations(pid)), (n, _held_generations(pid))
            previous = token
        held = _held_generations(pid)
        assert held and all(token in path and "(deleted)" not in path for path in held), held
        assert http.get("/v1/sources").json()  # the live generation still answers


def test_a_broken_published_generation_is_reported_not_crashed_on(tmp_path: Path, hostile_index: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(hostile_index, index)
    live = (index / "CURRENT").read_text().strip()
    with ServerProcess(index, inherit_settings=False, log_dir=tmp_path) as server, \
            httpx.Client(base_url=server.base_url, timeout=60) as http:
        broken = index / "gen-broken"
        broken.mkdir()
        shutil.copy(index / live / "index.sqlite", broken / "index.sqlite")
        (broken / "vectors.faiss").write_bytes(b"not a faiss index")
        (index / "CURRENT").write_text("gen-broken\n")
        deadline = time.monotonic() + 30
        while http.get("/readyz").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert "vectors.faiss is damaged" in ready.json()["reason"] and ready.json()["serving"]["generation"] == live
        assert http.get("/v1/search", params={"q": "lantern"}).status_code == 200  # the old one still answers
    cli = run_cli("search", "lantern", "--index", str(index))
    assert cli.returncode == 1 and "internal error" not in cli.stderr
    assert "gen-broken" in cli.stderr and "vectors.faiss is damaged" in cli.stderr and "--rebuild" in cli.stderr
    (index / "CURRENT").write_text("gen-missing\n")
    cli = run_cli("sources", "--index", str(index))
    assert cli.returncode == 1 and "gen-missing/index.sqlite does not exist" in cli.stderr


def test_an_internal_error_sends_an_id_and_logs_the_exception(tmp_path: Path, hostile_index: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(hostile_index, index)
    database = index / (index / "CURRENT").read_text().strip() / "index.sqlite"
    with ServerProcess(index, inherit_settings=False, log_dir=tmp_path) as server, \
            httpx.Client(base_url=server.base_url, timeout=60) as http:
        # The disk goes bad under the running service: every page past the first reads back as zeros.
        with open(database, "r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(4096)
            handle.write(b"\0" * (size - 4096))
        response = http.get("/v1/search", params={"q": "lantern flame", "mode": "lexical"})
        assert response.status_code == 500
        message = response.json()["error"]["message"]
        error_id = re.search(r"id ([0-9a-f]{12})", message).group(1)
        assert "malformed" not in message and "sqlite" not in message.lower() and str(index) not in message
        time.sleep(0.5)
        log = server.log()
        assert error_id in log and "DatabaseError" in log
