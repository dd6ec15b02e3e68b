"""Verified claims of an LLM answer stream out while the model is still writing: through /v1/ask (SSE),
/v1/chat/completions (content deltas, then the annotations) and the chat page in a real browser. The scripted
server pauses its reply after the first claim, which no real model can be made to do on demand."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from citewise.bench.server_process import ServerProcess
from citewise.core.answer import Answer
from citewise.core.settings import Settings
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index
from tests.fake_openai import FakeOpenAI
from tests.llm_sentences import shown_sentences
from tests.test_browser import browser  # noqa: F401  (the Chromium fixture)

pytestmark = pytest.mark.integration
QUESTION = "What are the most serious short-term physical dangers of taking ecstasy?"
PAUSE = '"text": "first"}'


@pytest.fixture(scope="module")
def fake():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def server(slice_settings: Settings, fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory):
    env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key", "CITEWISE_LLM__MODEL": "fake-model"}
    with ServerProcess(slice_settings.index, env=env, inherit_settings=False,
                       log_dir=tmp_path_factory.mktemp("serve_llm_log")) as running:
        yield running


@pytest.fixture(scope="module")
def two_quotes(slice_settings: Settings, embedder) -> tuple[dict, dict]:
    """Two claims citing sentences the service will show the model; each claim carries the quotation it should
    become under "quote" (a key the engine does not read)."""
    retriever = IndexRetriever(slice_settings, open_index(slice_settings), embedder=embedder)
    given = shown_sentences(slice_settings, retriever, QUESTION)
    first, other = list(given)[0], list(given)[-1]
    return ({"cite": [first], "quote": given[first], "text": "first"},
            {"cite": [other], "quote": given[other], "text": "second"})


def script(fake: FakeOpenAI, claims: tuple[dict, dict]) -> None:
    fake.reply(json.dumps({"claims": list(claims), "refuse": False}), pause_after=PAUSE)


def test_ask_streams_the_first_verified_claim_before_the_model_finishes(server, fake, two_quotes):
    script(fake, two_quotes)
    events: list[tuple[str, dict]] = []
    paused_at_first_citation = None
    with httpx.stream("POST", f"{server.base_url}/v1/ask", timeout=120,
                      json={"question": QUESTION, "engine": "llm", "stream": True}) as response:
        assert response.status_code == 200
        name = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line[5:])))
                if name == "citation" and paused_at_first_citation is None:
                    paused_at_first_citation = fake.paused.is_set() and not fake._resume.is_set()
                    fake.resume()
    assert paused_at_first_citation, "the first citation only came after the model had finished"
    answer = Answer.model_validate(events[-1][1])
    assert events[-1][0] == "done" and answer.engine == "llm"
    assert [c.quote for c in answer.citations] == [c["quote"] for c in two_quotes]
    assert "".join(data["text"] for name, data in events if name == "text") == answer.answer


def test_chat_completions_stream_content_then_annotations(server, fake, two_quotes):
    script(fake, two_quotes)
    client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="unused", timeout=120)
    content, annotations, extras = "", None, None
    paused_when_first_quote_arrived = None
    for chunk in client.chat.completions.create(model="citewise-llm", stream=True,
                                                messages=[{"role": "user", "content": QUESTION}]):
        delta = chunk.choices[0].delta
        content += delta.content or ""
        if paused_when_first_quote_arrived is None and two_quotes[0]["quote"] in content:
            paused_when_first_quote_arrived = fake.paused.is_set() and not fake._resume.is_set()
            fake.resume()
        if (delta.model_extra or {}).get("annotations"):
            annotations, extras = delta.model_extra["annotations"], chunk.model_extra["citewise"]
    assert paused_when_first_quote_arrived
    assert extras["engine"] == "llm"
    assert [a["citation"]["quote"] for a in annotations] == [c["quote"] for c in two_quotes]
    assert two_quotes[1]["quote"] in content and "Sources cited" in content


def test_the_page_shows_the_first_claim_while_the_rest_is_written(browser, server, fake, two_quotes):  # noqa: F811
    script(fake, two_quotes)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.base_url + "/")
    page.locator("#index-status", has_text="sources").wait_for()
    page.click("#settings summary")
    page.select_option("#engine", "llm")
    page.fill("#question", QUESTION)
    page.click("#ask-button")
    first = page.locator(".answer-body .quote", has_text=two_quotes[0]["quote"][:40])
    first.wait_for(timeout=120_000)
    # The model is still held after its first claim: the page shows that claim, cited, and is still streaming.
    assert fake.paused.is_set() and not fake._resume.is_set()
    assert page.locator("article.turn[data-done]").count() == 0
    assert page.locator(".answer.streaming").count() == 1
    assert page.locator(".answer-body button.cite[data-n='1']").is_enabled()
    assert two_quotes[1]["quote"][:40] not in page.inner_text(".answer-body")
    fake.resume()
    page.wait_for_selector("article.turn[data-done='true']", timeout=120_000)
    assert two_quotes[1]["quote"][:40] in " ".join(page.inner_text(".answer-body").split())
    assert page.locator(".sources .num").count() == 2
    assert not errors, errors
    page.close()


def test_page_names_the_engines_plainly(server):
    page = httpx.get(server.base_url + "/").text
    assert "hosted model" not in page and "language model" in page
