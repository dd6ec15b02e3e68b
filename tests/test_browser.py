"""The chat page in a real headless Chromium (Debian's), driven by Playwright, against a real `citewise serve`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from citewise.bench.server_process import ServerProcess
from citewise.core.settings import Settings
from citewise.ingest.pipeline import Ingestor

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
QUESTION = "What are the effects of MDMA on serotonin?"
# The engine quotes the plain first sentence (it never quotes a line carrying markup); the panel then shows the
# passage around it, markup included, as text.
HOSTILE = """# Harbour lantern notes

On winter nights the harbour lantern burned with a green flame that the sailors could see from far out at sea.
The keeper wrote that the harbour lantern <script>window.__pwned=1</script> burned with a green flame on winter nights.
He added that <img src=x onerror="window.__pwned=2"> sailors trusted the green lantern flame more than any chart.
"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium: install Debian's as root, `apt-get update && apt-get install "
                    "-y chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def folded(text: str) -> str:
    return " ".join(text.split())


def done_answer(sse_body: str) -> dict:
    for block in sse_body.split("\n\n"):
        if block.startswith("event: done"):
            return json.loads("\n".join(line[6:] for line in block.splitlines() if line.startswith("data: ")))
    raise AssertionError("no done event in the stream")


def ask(page, question: str) -> dict:
    page.fill("#question", question)
    with page.expect_response("**/v1/ask") as info:
        page.click("#ask-button")
    response = info.value
    assert response.headers["content-type"].startswith("text/event-stream")
    page.wait_for_selector("article.turn[data-done]", timeout=120_000)
    return done_answer(response.text())


def test_ask_stream_cite_and_read_in_context(browser, slice_settings: Settings, tmp_path: Path) -> None:
    with ServerProcess(slice_settings.index, inherit_settings=False, log_dir=tmp_path) as server:
        context = browser.new_context(viewport={"width": 1360, "height": 1000})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.base_url + "/")
        # Locator waits, not wait_for_function: polling a JS string needs eval, which the page's CSP forbids.
        page.locator("#index-status", has_text="sources").wait_for()
        answer = ask(page, QUESTION)
        assert page.get_attribute("article.turn", "data-done") == "true", page.inner_text("article.turn")
        assert not answer["refused"] and answer["citations"]
        body = page.inner_text(".answer-body")
        first = answer["citations"][0]
        assert folded(first["quote"]) in folded(body)
        assert page.locator(".answer-body .quote").count() >= 1
        assert page.locator(".sources .num").count() == len(answer["citations"])
        assert page.locator(".sources .source-ref").count() == len({c["source"]["id"] for c in answer["citations"]})

        page.click(".answer-body button.cite[data-n='1']")
        page.wait_for_selector("#panel mark")
        assert folded(page.inner_text("#panel mark")) == folded(first["quote"])
        meta = page.inner_text("#panel-meta")
        assert str(first["source"]["year"]) in meta and first["source"]["file"] in meta
        assert page.inner_text("#panel-title") == first["source"]["title"]
        assert folded(page.inner_text("#panel-passage")) != folded(first["quote"]), "context around the quote"
        page.evaluate("document.getElementById('conversation').scrollTop = 0")
        artifacts = REPO / "artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "chat.png"))

        # A follow-up goes out with the first turn as history.
        with page.expect_request("**/v1/ask") as sent:
            page.fill("#question", "What about its risks?")
            page.click("#ask-button")
        assert [m["role"] for m in sent.value.post_data_json["history"]] == ["user", "assistant"]
        page.wait_for_selector("article.turn:nth-of-type(2)[data-done]", timeout=120_000)
        assert page.locator("article.turn").count() == 2

        page.locator("article.turn").first.locator("button.copy").click()
        page.locator("button.copy", has_text="Copied").first.wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith(f"# {QUESTION}") and "## Sources cited" in copied
        source = first["source"]
        assert f"{source['author']} ({source['year']}, {source['kind']})" in copied
        assert folded(first["quote"]) in folded(copied)
        assert not errors, errors
        context.close()


def test_corpus_markup_is_shown_as_text(browser, embedder, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour-notes.md").write_text(HOSTILE, encoding="utf-8")
    shutil.copy(REPO / "corpus" / "wikipedia-2025-mdma.md", corpus / "wikipedia-2025-mdma.md")
    settings = Settings(index=tmp_path / "index")
    Ingestor(settings, embedder=embedder, progress=False).run([corpus])
    with ServerProcess(settings.index, inherit_settings=False, log_dir=tmp_path) as server:
        page = browser.new_page()
        page.goto(server.base_url + "/")
        answer = ask(page, "What colour was the flame of the harbour lantern on winter nights?")
        opener = ".answer-body button.cite" if answer["citations"] else ".nearest .num"
        page.click(opener)
        page.wait_for_selector("#panel mark")
        shown = page.inner_text("#panel-passage") + page.inner_text("#conversation")
        assert "<script>window.__pwned=1</script>" in shown
        assert '<img src=x onerror="window.__pwned=2">' in shown
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#conversation script, #panel script, #conversation img, #panel img").count() == 0
        page.close()


def test_page_holds_a_question_while_the_corpus_is_indexed(browser, slice_corpus: Path, tmp_path: Path) -> None:
    # `serve --ingest` on an empty index, watched from the moment the service answers: the first part (the slice's
    # three smallest files, ~170 passages) takes several seconds to index, so the page sees the index arrive.
    args = ["--ingest", str(slice_corpus), "--first-part-bytes", "140000"]
    with ServerProcess(tmp_path / "index", inherit_settings=False, log_dir=tmp_path, args=args,
                       wait_for="healthz") as server:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.base_url + "/")
        page.evaluate("window.__sameDocument = true")
        page.locator("#index-notice", has_text="The corpus is being indexed").wait_for()
        assert page.inner_text("#index-status") == "indexing the corpus…"
        page.fill("#question", QUESTION)
        page.click("#ask-button")
        page.locator("article.turn p.waiting", has_text="answered as soon as its first part is ready").wait_for()
        page.wait_for_selector("article.turn[data-done]", timeout=180_000)
        assert page.get_attribute("article.turn", "data-done") == "true", page.inner_text("article.turn")
        assert page.locator(".answer-body button.cite").count() >= 1
        assert page.locator("article.turn p.waiting").count() == 0
        # The rest of the corpus arrives without a reload, and the notice goes once nothing is left to index.
        page.locator("#index-status", has_text="4 sources").wait_for(timeout=180_000)
        page.locator("#index-notice").wait_for(state="hidden")
        assert page.evaluate("window.__sameDocument") is True
        assert not errors, errors
        page.close()
