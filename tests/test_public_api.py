"""The Python API (citewise.open): the README's example runs as written, and a program gets answers, refusals with
their reason, search and sources from one object, with clear errors for its mistakes. The service reaches the index
through it too: opened once, and named by its real location."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import citewise
from citewise.core.errors import CitewiseError, IndexMissingError
from citewise.core.settings import Settings
from citewise.library import Library
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _readme_example() -> str:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def library(slice_settings: Settings, embedder) -> Library:
    with citewise.open(slice_settings.index, embedder=embedder) as opened:
        yield opened


def test_the_readme_example_runs_as_written(slice_settings: Settings, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".citewise").symlink_to(slice_settings.index)  # where `citewise ingest` writes by default
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_readme_example(), "README.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    assert "**Sources cited**" in printed.getvalue()
    assert re.search(r"^1 .+ \d+ \d+$", printed.getvalue(), re.M), "a citation with its offsets"
    assert "True unknown_name" in lines
    assert re.search(r"^1 The Eleusinian Mysteries and Rites \d+ \d+$", printed.getvalue(), re.M)
    assert lines[-1] == "4 sources"


def test_ask_search_and_sources_from_one_object(library: Library) -> None:
    answer = library.ask("How long did the Greater Mysteries at Eleusis last?")
    assert not answer.refused and answer.refusal_reason is None and answer.engine == "offline"
    text = library.generation().index.source_text(answer.citations[0].source.id)
    assert answer.citations[0].quote in " ".join(text[answer.citations[0].start:answer.citations[0].end].split())
    under = library.ask("How long did the Greater Mysteries at Eleusis last?", filters={"since": 2000})
    assert under.refused and under.refusal_reason == "excluded_by_filters" and under.filters.since == 2000
    hits = library.search("serotonin", k=3, mode="lexical", filters={"kinds": ["encyclopedia article"]})
    assert len(hits) == 3 and {hit.source.kind for hit in hits} == {"encyclopedia article"}
    assert {source.file for source in library.sources()} == {
        "medlineplus-2025-ptsd-club-drugs-drug-use-summaries.md", "wikipedia-2025-mdma.md",
        "alcoholics-anonymous-1939-big-book-foreword-to-chapter-2.md", "wright-1919-eleusinian-mysteries-and-rites.txt"}
    events = list(library.stream("What is the only requirement for membership of Alcoholics Anonymous?"))
    assert events[-1].type == "done" and events[-1].answer.citations
    assert library.location == str(library.settings.index)


@pytest.mark.parametrize(("call", "message"), [
    (lambda lib: lib.ask("anything", engine="oracle"), "unknown answer engine 'oracle'; choose one of offline, llm"),
    (lambda lib: lib.ask("anything", filters={"year": 2000}), "filters: year: Extra inputs are not permitted"),
    (lambda lib: lib.ask("anything", filters={"kinds": ["sermon"]}), "no source in the index is of kind"),
    (lambda lib: lib.search("anything", mode="fuzzy"), "unknown search mode 'fuzzy'"),
])
def test_a_programs_mistake_is_a_clear_error(library: Library, call, message: str) -> None:
    with pytest.raises(CitewiseError, match=re.escape(message)):
        call(library)


def test_no_index_and_a_new_generation(tmp_path: Path, embedder, slice_corpus: Path) -> None:
    from citewise.ingest.pipeline import Ingestor

    with citewise.open(tmp_path / "index", embedder=embedder) as empty:
        with pytest.raises(IndexMissingError, match=re.escape(f"no index at {tmp_path / 'index'}")):
            empty.ask("anything")
        assert empty.current_token() is None
        corpus = tmp_path / "corpus"
        corpus.mkdir()
        (corpus / "note.md").write_text("# A note\n\nThe kykeon was a drink of barley and mint.\n", encoding="utf-8")
        Ingestor(empty.settings, embedder=embedder, progress=False).run([corpus])
        assert [s.file for s in empty.sources()] == ["note.md"]
        (corpus / "more.md").write_text("# More\n\nThe initiates fasted before the kykeon.\n", encoding="utf-8")
        Ingestor(empty.settings, embedder=embedder, progress=False).run([corpus])
        assert len(empty.sources()) == 1, "a library reads the generation it opened until refresh()"
        assert empty.refresh() and len(empty.sources()) == 2 and not empty.refresh()


def test_a_path_given_outright_wins_over_a_database_the_environment_names(tmp_path: Path) -> None:
    settings = Settings(store={"url": "postgresql://nobody@127.0.0.1:1/none"})
    with citewise.open(tmp_path / "folder", settings=settings) as opened:
        assert opened.location == str(tmp_path / "folder") and opened.settings.store.url is None
    with citewise.open("postgresql://someone:s3cret@127.0.0.1:1/db", settings=Settings()) as remote:
        assert remote.location == "postgresql://someone@127.0.0.1:1/db (schema citewise)"


def test_importing_citewise_and_the_llm_room_stays_light() -> None:
    """`import citewise` does not wire anything, and the LLM room loads the openai client only when used."""
    code = ("import sys, citewise, citewise.answers.llm, citewise.answers.offline; "
            "print('citewise.library' in sys.modules, 'openai' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=REPO)
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_the_service_opens_the_store_once_and_names_where_the_index_is(postgres_url: str, embedder) -> None:
    """/readyz and a request's 503 name the PostgreSQL database (without its password), not settings.index."""
    from citewise.server.app import create_app

    settings = Settings(store={"url": postgres_url, "schema_name": "nothing_here"})
    library = Library(settings, embedder=embedder)
    with TestClient(create_app(settings, library=library), base_url="http://127.0.0.1") as client:
        assert client.app.state.service.store is library.store
        ready = client.get("/readyz")
        asked = client.post("/v1/ask", json={"question": "anything"})
    password = postgres_url.split(":")[2].split("@")[0]
    for response in (ready, asked):
        assert response.status_code == 503
        assert f"no index at {library.location}" in response.text and "(schema nothing_here)" in response.text
        assert password not in response.text and ".citewise" not in response.text
