"""The HTTP API over real HTTP against a real `citewise serve` subprocess on the slice index."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from citewise.bench.server_process import ServerProcess
from citewise.core.answer import Answer, Citation
from citewise.core.settings import Settings
from citewise.ingest.pipeline import Ingestor

pytestmark = pytest.mark.integration

QUESTION = "What are the effects of MDMA on serotonin?"
API_KEY = "test-key-0123456789"


@pytest.fixture(scope="module")
def server(slice_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    with ServerProcess(slice_settings.index, inherit_settings=False,
                       log_dir=tmp_path_factory.mktemp("serve_log")) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: ServerProcess):
    with httpx.Client(base_url=server.base_url, timeout=120) as http:
        yield http


def sse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        name = next(line[6:].strip() for line in block.splitlines() if line.startswith("event:"))
        data = "\n".join(line[5:].removeprefix(" ") for line in block.splitlines() if line.startswith("data:"))
        events.append((name, json.loads(data)))
    return events


def folded(text: str) -> str:
    return " ".join(text.replace("“", '"').replace("”", '"').split())


def assert_quotes_in_sources(client: httpx.Client, citations: list[Citation]) -> None:
    for citation in citations:
        span = client.get(f"/v1/sources/{citation.source.id}/text",
                          params={"start": citation.start, "end": citation.end, "context": 0}).json()
        assert folded(span["text"]) == folded(citation.quote), citation


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["sources"] == 4 and ready.json()["passages"] > 0
    assert client.get("/openapi.json").json()["paths"]["/v1/ask"]


def test_api_docs_load_nothing_from_the_internet(client: httpx.Client) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "http://" not in docs.text and "https://" not in docs.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_ask_returns_the_answer_contract_with_verifiable_quotes(client: httpx.Client) -> None:
    response = client.post("/v1/ask", json={"question": QUESTION})
    assert response.status_code == 200, response.text
    answer = Answer.model_validate(response.json())
    assert answer.question == QUESTION and answer.engine == "offline"
    assert not answer.refused and answer.citations
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.answer
    assert_quotes_in_sources(client, answer.citations)


def test_ask_streams_text_then_citations_then_the_whole_answer(client: httpx.Client) -> None:
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode()
    events = sse_events(body)
    names = [name for name, _ in events]
    assert names[-1] == "done" and names.count("done") == 1 and "text" in names
    answer = Answer.model_validate(events[-1][1])
    assert "".join(data["text"] for name, data in events if name == "text") == answer.answer
    streamed = [Citation.model_validate(data) for name, data in events if name == "citation"]
    assert streamed == answer.citations and streamed


def test_follow_up_uses_history(client: httpx.Client) -> None:
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "It releases serotonin."}]
    response = client.post("/v1/ask", json={"question": "What about its risks?", "history": history})
    assert response.status_code == 200, response.text
    assert Answer.model_validate(response.json()).question == "What about its risks?"


def test_search_with_filters(client: httpx.Client) -> None:
    sources = client.get("/v1/sources").json()
    mdma = next(s for s in sources if "mdma" in s["file"])
    everything = client.get("/v1/search", params={"q": "drug effects on the brain", "k": 5}).json()
    assert len(everything["hits"]) == 5 and everything["mode"] == "hybrid"
    only = client.get("/v1/search", params={"q": "drug effects on the brain", "k": 5, "source": mdma["id"],
                                            "mode": "lexical"}).json()
    assert only["hits"] and {hit["source"]["id"] for hit in only["hits"]} == {mdma["id"]}
    by_year = client.get("/v1/search", params={"q": "mysteries", "year_from": 1900, "year_to": 1950}).json()
    assert by_year["hits"] and all(1900 <= hit["source"]["year"] <= 1950 for hit in by_year["hits"])
    assert client.get("/v1/search", params={"q": "x", "year_from": 2000, "year_to": 1990}).status_code == 422
    assert client.get("/v1/search", params={"q": "x", "mode": "psychic"}).status_code == 422


def test_sources_and_text_in_context(client: httpx.Client) -> None:
    sources = client.get("/v1/sources").json()
    assert len(sources) == 4
    first = sources[0]
    assert client.get(f"/v1/sources/{first['id']}").json() == first
    hit = client.get("/v1/search", params={"q": "serotonin", "k": 1, "source": first["id"]}).json()["hits"]
    start, end = (hit[0]["start"], hit[0]["end"]) if hit else (100, 200)
    span = client.get(f"/v1/sources/{first['id']}/text", params={"start": start, "end": end, "context": 300}).json()
    assert (span["start"], span["end"]) == (start, end)
    assert span["context_start"] == start - len(span["before"]) and span["context_end"] == end + len(span["after"])
    assert 0 < len(span["before"]) <= 300 or start == 0
    if hit:
        assert span["text"] == hit[0]["text"]


def test_unknown_and_malformed_ids(client: httpx.Client) -> None:
    missing = client.get("/v1/sources/0123456789abcdef")
    assert missing.status_code == 404 and "0123456789abcdef" in missing.json()["error"]["message"]
    assert client.get("/v1/sources/0123456789abcdef/text").status_code == 404
    assert client.get("/v1/sources/NOT-HEX-AT-ALL!!").status_code == 422
    for attempt in ("/v1/sources/..%2F..%2F..%2Fetc%2Fpasswd/text", "/v1/sources/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                    "/v1/sources/....//....//etc/passwd"):
        response = client.get(attempt)
        assert response.status_code in (404, 422), attempt
        assert "root:" not in response.text and "error" in response.json()


def test_bad_input_is_refused_with_json_errors(client: httpx.Client, server: ServerProcess) -> None:
    too_long = client.post("/v1/ask", json={"question": "why " * 1000})
    assert too_long.status_code == 422 and "at most 2000" in too_long.json()["error"]["message"]
    assert client.post("/v1/ask", json={"question": "   "}).status_code == 422
    assert client.post("/v1/ask", json={"history": []}).status_code == 422
    assert client.post("/v1/ask", json={"question": "x", "engine": "magic"}).status_code == 422
    huge = client.post("/v1/ask", content=b'{"question": "' + b"a" * 400_000 + b'"}',
                       headers={"content-type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["type"] == "request_too_large"

    def chunked():
        for _ in range(40):
            yield b"x" * 10_000

    streamed = client.post("/v1/ask", content=chunked(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    source = client.get("/v1/sources").json()[0]
    assert client.get(f"/v1/sources/{source['id']}/text", params={"start": 10, "end": 5}).status_code == 422
    beyond = client.get(f"/v1/sources/{source['id']}/text", params={"start": 0, "end": source["chars"] + 1})
    assert beyond.status_code == 422


def test_cors_is_closed_by_default(client: httpx.Client) -> None:
    origin = {"Origin": "http://evil.example"}
    assert "access-control-allow-origin" not in client.get("/v1/sources", headers=origin).headers
    preflight = client.options("/v1/ask", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_page_is_served_with_a_strict_content_policy(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="ask-form"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert "http" not in page.text.replace("http-equiv", ""), "the page must load nothing from elsewhere"


# ---- a second server: API key required, and an index that changes while it runs ----

NEW_SOURCE = """# Harbour lantern notes

The keeper of the north harbour lantern recorded that the lamp burned with a green flame on winter nights.
He wrote that sailors trusted the green light more than any chart, and that the lantern oil came from whale blubber.
"""


@pytest.fixture(scope="module")
def changing_index(slice_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("changing")
    shutil.copytree(slice_settings.index, root / "index")
    return root / "index"


@pytest.fixture(scope="module")
def keyed_server(changing_index: Path):
    with ServerProcess(changing_index, env={"CITEWISE_SERVER__API_KEY": API_KEY}, inherit_settings=False,
                       log_dir=changing_index.parent) as running:
        yield running


def test_api_key_required_when_configured(keyed_server: ServerProcess) -> None:
    with httpx.Client(base_url=keyed_server.base_url, timeout=60) as http:
        assert http.get("/healthz").status_code == 200
        assert http.get("/").status_code == 200
        assert http.get("/static/app.js").status_code == 200
        for path in ("/v1/sources", "/v1/search?q=serotonin", "/v1/models", "/readyz", "/docs", "/openapi.json"):
            denied = http.get(path)
            assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
            assert http.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert http.get(path, headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
        assert http.post("/v1/ask", json={"question": QUESTION}).status_code == 401
        # The key is checked before the body: an invalid body without it is a 401, not a 422.
        assert http.post("/v1/ask", json={"question": 5, "bogus": True}).status_code == 401
        assert http.post("/v1/chat/completions", content=b"{not json").status_code == 401
        assert http.post("/v1/ask", json={"bogus": True},
                         headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 422



def test_a_key_beyond_ascii_opens_every_route(slice_settings: Settings, tmp_path: Path) -> None:
    """A key is any text: the client sends it UTF-8 encoded, and every route takes it (none checks it twice, in
    another encoding)."""
    key = "clé-sécrète-0123456789"
    with ServerProcess(slice_settings.index, env={"CITEWISE_SERVER__API_KEY": key}, inherit_settings=False,
                       log_dir=tmp_path) as keyed, httpx.Client(base_url=keyed.base_url, timeout=60) as http:
        right = {"Authorization": b"Bearer " + key.encode()}
        wrong = {"Authorization": b"Bearer " + key.upper().encode()}
        for path in ("/v1/sources", "/v1/search?q=serotonin", "/v1/models", "/readyz", "/openapi.json"):
            assert http.get(path, headers=right).status_code == 200, path
            assert http.get(path, headers=wrong).status_code == 401, path
            assert http.get(path).status_code == 401, path

def test_new_index_is_picked_up_without_restart_or_failed_requests(
        keyed_server: ServerProcess, changing_index: Path, slice_corpus: Path, embedder,
        tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    http = httpx.Client(base_url=keyed_server.base_url, timeout=120, headers=auth)
    before = http.get("/readyz").json()["generation"]
    failures: list[str] = []
    completed: list[float] = []
    stop = threading.Event()

    def request_loop() -> None:
        with httpx.Client(base_url=keyed_server.base_url, timeout=120, headers=auth) as loop_http:
            for i in range(10_000):
                if stop.is_set():
                    return
                try:
                    response = (loop_http.get("/v1/search", params={"q": "serotonin release", "k": 3}) if i % 2
                                else loop_http.post("/v1/ask", json={"question": QUESTION}))
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                completed.append(time.monotonic())

    loop = threading.Thread(target=request_loop, daemon=True)
    loop.start()
    corpus = tmp_path / "corpus"
    shutil.copytree(slice_corpus, corpus)
    (corpus / "harbour-lantern-notes.md").write_text(NEW_SOURCE, encoding="utf-8")
    Ingestor(Settings(index=changing_index), embedder=embedder, progress=False).run([corpus])
    ingested = time.monotonic()

    deadline = time.monotonic() + 60
    files: list[str] = []
    while time.monotonic() < deadline:
        files = [s["file"] for s in http.get("/v1/sources").json()]
        if "harbour-lantern-notes.md" in files:
            break
        time.sleep(0.2)
    assert "harbour-lantern-notes.md" in files
    while time.monotonic() < deadline and sum(t > ingested for t in completed) < 4:
        time.sleep(0.2)
    stop.set()
    loop.join(timeout=120)
    http_after = http.get("/readyz").json()
    assert http_after["generation"] != before and http_after["sources"] == 5
    hits = http.get("/v1/search", params={"q": "green flame of the harbour lantern", "k": 1}).json()["hits"]
    assert hits[0]["source"]["file"] == "harbour-lantern-notes.md"
    assert not failures, failures[:3]
    assert sum(t > ingested for t in completed) >= 4, "the request loop must run across the swap"
    http.close()
