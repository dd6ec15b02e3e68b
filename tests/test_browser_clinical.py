"""The chat page for clinicians, in Debian's Chromium against a real `citewise serve` on the slice index: kinds
and years on citations, the health notice, filters, take-away files, the passage panel's structure and focus,
and a stream that breaks."""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

import bibtexparser
import pytest
import rispy

from citewise.bench.server_process import ServerProcess
from citewise.core.settings import Settings
from citewise.ingest.pipeline import Ingestor
from tests.test_browser import browser, folded  # noqa: F401 - the shared Chromium fixture

pytestmark = pytest.mark.integration

CLINICAL = "Is MDMA-assisted therapy approved for PTSD?"
HISTORICAL = "How long did the Greater Mysteries at Eleusis last?"
NOTICE_START = "Note: this answer only quotes its sources and is not medical advice."


@pytest.fixture(scope="module")
def server(slice_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    with ServerProcess(slice_settings.index, inherit_settings=False,
                       log_dir=tmp_path_factory.mktemp("serve_log")) as running:
        yield running


@pytest.fixture()
def page(browser, server):  # noqa: F811
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.goto(server.base_url + "/")
    opened.locator("#index-status", has_text="sources").wait_for()
    yield opened
    context.close()
    assert not errors, errors


def ask(page, question: str, nth: int = 1) -> dict:
    page.fill("#question", question)
    with page.expect_request("**/v1/ask") as sent:
        page.click("#ask-button")
    turn = page.locator("article.turn").nth(nth - 1)
    turn.and_(page.locator("article.turn[data-done]")).wait_for(timeout=120_000)
    assert turn.get_attribute("data-done") == "true", turn.inner_text()
    return sent.value.post_data_json


def set_since(page, year: str) -> None:
    page.click("#settings summary")
    page.locator("#filter-kinds input").first.wait_for()
    page.fill("#filter-since", year)
    page.click("#settings summary")


def test_clinical_answer_with_kinds_notice_filter_and_take_away_files(page, tmp_path: Path) -> None:
    set_since(page, "2020")
    assert page.inner_text("#active-filters-text") == "Filters on: published in or after 2020"
    payload = ask(page, CLINICAL)
    assert payload["filters"] == {"since": 2020}
    turn = page.locator("article.turn").first
    cites = turn.locator(".answer-body button.cite")
    assert cites.count() >= 1
    for i in range(cites.count()):
        title = cites.nth(i).get_attribute("title") or ""
        label = re.search(r"\((\d{4}), (encyclopedia article|government health information)\): ", title)
        assert label and int(label.group(1)) >= 2020, title
    for line in turn.locator(".sources .source-ref .work").all_inner_texts():
        assert "(2025, " in line, line
    notice = turn.locator(".health-notice")
    assert notice.count() == 1 and notice.inner_text().startswith(NOTICE_START)
    assert notice.get_attribute("role") == "note"
    assert "medical advice" not in turn.locator(".answer-body").inner_text(), "once, and never in the body"
    assert turn.locator(".filtered").inner_text() == "Answered only from sources: published in or after 2020"

    cited_files = {line.split(" · ")[0] for line in turn.locator(".sources .where").all_inner_texts()}
    with page.expect_download() as info:
        turn.locator("button.download-bibtex").click()
    bib = info.value
    assert bib.suggested_filename == "citewise-is-mdma-assisted-therapy-approved-for-ptsd.bib"
    library = bibtexparser.parse_file(bib.path())
    assert not library.failed_blocks
    notes = " ".join(entry["note"].replace("\\_", "_") for entry in library.entries)
    assert len(library.entries) == len(cited_files) and all(f"Corpus file: {f}" in notes for f in cited_files)
    with page.expect_download() as info:
        turn.locator("button.download-ris").click()
    assert len(rispy.load(Path(info.value.path()))) == len(cited_files)
    with page.expect_download() as info:
        turn.locator("button.download-md").click()
    markdown = Path(info.value.path()).read_text(encoding="utf-8")
    assert markdown.startswith(f"# {CLINICAL}") and "## Sources cited" in markdown and NOTICE_START in markdown

    turn.locator("button.copy").click()
    page.locator("button.copy", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == markdown


def test_a_refusal_under_filters_says_so_and_asks_again_without_them(page) -> None:
    set_since(page, "2000")
    ask(page, HISTORICAL)
    first = page.locator("article.turn").first
    assert "The filters (published in or after 2000) excluded the evidence" in first.inner_text()
    assert first.locator(".health-notice").count() == 0
    with page.expect_request("**/v1/ask") as sent:
        first.locator("button.again").click()
    assert "filters" not in sent.value.post_data_json
    second = page.locator("article.turn").nth(1)
    second.and_(page.locator("article.turn[data-done]")).wait_for(timeout=120_000)
    assert second.locator(".answer-body button.cite").count() >= 1
    assert second.locator(".health-notice").count() == 0, "a question about ancient rites is not a health question"
    page.click("#active-filters-clear")
    assert page.locator("#active-filters").is_hidden()


def test_passage_panel_shows_structure_takes_focus_and_gives_it_back(page) -> None:
    ask(page, CLINICAL)
    opener = page.locator(".answer-body button.cite[data-n='1']")
    opener.click()
    page.wait_for_selector("#panel mark")
    assert page.evaluate("document.activeElement.id") == "panel-title"
    passage = page.locator("#panel-passage")
    headings = passage.locator(".structured h3, .structured h4, .structured h5, .structured h6")
    assert headings.count() >= 1 and passage.locator(".structured p").count() >= 2
    assert not any(text.lstrip().startswith(("#", "=")) for text in headings.all_inner_texts())
    assert "\n## " not in passage.inner_text() and "\n### " not in passage.inner_text()
    mark = passage.locator("mark").first
    box, panel = mark.bounding_box(), page.locator("#panel").bounding_box()
    assert box and panel and panel["y"] <= box["y"] <= panel["y"] + panel["height"], "scrolled into view"
    page.focus("#question")
    page.keyboard.press("Escape")
    assert page.locator("#panel").is_visible(), "Escape while typing a question leaves the panel open"
    page.focus("#panel-close")
    page.keyboard.press("Escape")
    assert page.locator("#panel").is_hidden()
    assert page.evaluate("document.activeElement.dataset.n") == "1"
    assert page.evaluate("document.activeElement.classList.contains('cite')")


def test_html_source_structure_is_built_from_text(browser, embedder, tmp_path: Path) -> None:  # noqa: F811
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lantern.html").write_text(
        "<html><head><title>Lantern log</title></head><body><h2>Winter &lt;b&gt;watch&lt;/b&gt;</h2>"
        "<p>The keeper wrote that the harbour lantern &lt;img src=x onerror=window.__pwned=1&gt; burned with a "
        "green flame on winter nights.</p><ul><li>Sailors trusted the green flame.</li><li>Gulls did not.</li></ul>"
        "<h2>Summer watch</h2><p>In summer the lantern burned with a yellow flame, the keeper said.</p>"
        "</body></html>", encoding="utf-8")
    settings = Settings(index=tmp_path / "index")
    Ingestor(settings, embedder=embedder, progress=False).run([corpus])
    with ServerProcess(settings.index, inherit_settings=False, log_dir=tmp_path) as server:
        page = browser.new_page()
        page.goto(server.base_url + "/")
        page.locator("#index-status", has_text="sources").wait_for()
        page.fill("#question", "What colour did the harbour lantern burn on winter nights?")
        page.click("#ask-button")
        page.wait_for_selector("article.turn[data-done]", timeout=120_000)
        page.click(".answer-body button.cite, .nearest .num")
        page.wait_for_selector("#panel mark")
        structured = page.locator("#panel-passage .structured")
        assert structured.locator("h4").all_inner_texts() == ["Winter <b>watch</b>", "Summer watch"]
        assert "<img src=x onerror=window.__pwned=1>" in structured.inner_text()
        assert page.locator("#panel-passage img, #panel-passage b, #panel-passage script").count() == 0
        assert page.evaluate("window.__pwned") is None
        page.close()


def _broken_stream_server() -> tuple[int, threading.Thread]:
    """Answers one request with the start of an event stream, then drops the connection mid-chunk: what a proxy
    timing out or a server dying does, which the real service cannot be made to do on demand."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, listener:
            connection.recv(65536)
            frame = b'event: text\ndata: {"text": "Wikipedia contributors write: "}\n\n'
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                               b"\r\n" + f"{len(frame):x}\r\n".encode() + frame + b"\r\n" + b"400\r\npartial")
            connection.shutdown(socket.SHUT_RDWR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_a_stream_that_breaks_shows_an_error(page) -> None:
    port, thread = _broken_stream_server()
    page.route("**/v1/ask", lambda route: route.continue_(url=f"http://127.0.0.1:{port}/v1/ask"))
    page.fill("#question", CLINICAL)
    page.click("#ask-button")
    page.wait_for_selector("article.turn[data-done]", timeout=30_000)
    turn = page.locator("article.turn").first
    assert turn.get_attribute("data-done") == "error"
    assert "connection broke while the answer was streaming" in turn.locator(".error").inner_text()
    assert turn.locator(".answer.streaming").count() == 0
    assert page.locator("#ask-button").is_enabled()
    thread.join(timeout=5)
