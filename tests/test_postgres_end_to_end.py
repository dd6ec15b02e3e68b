"""The PostgreSQL index end to end: the same files give the same cited answers as the embedded index, and running
services that share the database pick up a new ingest without a restart."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from citewise.answers.engines import build_engine
from citewise.bench.server_process import ServerProcess
from citewise.core.settings import Settings, StoreSettings
from citewise.ingest.pipeline import Ingestor
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import open_index
from tests.conftest import CORPUS

pytestmark = pytest.mark.integration

QUESTIONS = (
    "What does MDMA do to serotonin?",
    "How were the Eleusinian mysteries celebrated?",
    "What are the symptoms of post-traumatic stress disorder?",
    "What did the founders of Alcoholics Anonymous say about alcoholism?",
    "Who was allowed to be initiated at Eleusis?",
    "What is the capital of Mongolia?",  # a refusal: both must refuse, listing the same nearest passages
)


@pytest.fixture(scope="module")
def postgres_slice(postgres_url: str, slice_corpus: Path, embedder) -> Settings:
    settings = Settings(store=StoreSettings(url=postgres_url, schema_name="end_to_end"))
    Ingestor(settings, embedder=embedder, progress=False).run([slice_corpus])
    return settings


def _citations(settings: Settings, embedder, question: str) -> tuple[bool, list[tuple[str, int, int]], list[str]]:
    retriever = IndexRetriever(settings, open_index(settings), embedder=embedder)
    answer = build_engine(settings, retriever, retriever.index, name="offline", embedder=embedder).answer(question)
    return (answer.refused, [(c.passage_id, c.start, c.end) for c in answer.citations],
            [p.passage_id for p in answer.nearest])


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_same_files_give_the_same_citations_as_the_embedded_index(postgres_slice: Settings,
                                                                     slice_settings: Settings, embedder,
                                                                     question: str) -> None:
    ours = _citations(postgres_slice, embedder, question)
    assert ours == _citations(slice_settings, embedder, question)
    assert ours[1] or ours[0]


def test_replicas_sharing_the_database_pick_up_a_new_ingest(postgres_url: str, tmp_path: Path, embedder) -> None:
    settings = Settings(store=StoreSettings(url=postgres_url, schema_name="replicas"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "medlineplus-2025-ptsd-club-drugs-drug-use-summaries.md", corpus)
    Ingestor(settings, embedder=embedder, progress=False).run([corpus])
    env = {"CITEWISE_STORE__URL": postgres_url, "CITEWISE_STORE__SCHEMA_NAME": "replicas"}
    with ServerProcess(tmp_path / "unused", env, inherit_settings=False) as first, \
            ServerProcess(tmp_path / "unused", env, inherit_settings=False) as second:
        for replica in (first, second):
            assert len(httpx.get(f"{replica.base_url}/v1/sources").json()) == 1
        (corpus / "note.md").write_text("# A note\n\nThe kykeon was a drink of barley and mint taken by the "
                                        "initiates of Eleusis.\n", encoding="utf-8")
        Ingestor(settings, embedder=embedder, progress=False).run([corpus])
        for replica in (first, second):
            deadline = time.monotonic() + 20
            while len(httpx.get(f"{replica.base_url}/v1/sources").json()) != 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(httpx.get(f"{replica.base_url}/v1/sources").json()) == 2
            hits = httpx.get(f"{replica.base_url}/v1/search", params={"q": "kykeon barley drink"}).json()
            assert "kykeon" in str(hits)


def test_copy_index_carries_the_embedded_index_over(postgres_url: str, slice_settings: Settings) -> None:
    from citewise.store.copy import copy_index
    from citewise.store.postgres import PostgresStore

    store = PostgresStore(postgres_url, schema="copied")
    facts = copy_index(Path(slice_settings.index), store)
    ours, theirs = store.reader(), open_index(slice_settings)
    assert int(facts["passages"]) == ours.passage_count() == theirs.passage_count()
    assert ours.sources == theirs.sources
    assert ours.meta["embedder"] == theirs.meta["embedder"]
    for source_id in theirs.sources:
        passages = theirs.passages_of(source_id)
        assert ours.passages_of(source_id) == passages
        assert ours.source_pages(source_id) == theirs.source_pages(source_id)
        assert ours.source_headings(source_id) == theirs.source_headings(source_id)
        ids = [p.id for p in passages]
        assert (ours.passage_vectors(ids) == theirs.passage_vectors(ids)).all()
        assert {k: v.sentences.keys() for k, v in ours.stored_vectors(ids).items()} == {
            k: v.sentences.keys() for k, v in theirs.stored_vectors(ids).items()}
    store.close()


@pytest.mark.parametrize(("args", "env", "message"), [
    (("sources",), {"CITEWISE_STORE__URL": "postgresql://reader:s3cret-pw@127.0.0.1:1/nowhere"},
     "cannot connect to postgresql://reader@127.0.0.1:1/nowhere (schema citewise)"),
    (("sources",), {"CITEWISE_STORE__URL": "postgresql://x@127.0.0.1:1/y", "CITEWISE_STORE__SCHEMA_NAME": "A-b"},
     "invalid settings"),
    (("copy-index", "corpus"), {}, "CITEWISE_STORE__URL"),
    (("ingest", "corpus", "--workers", "2"), {}, "--workers is taken with --distributed only"),
])
def test_store_mistakes_get_one_line_without_the_password(tmp_path: Path, args: tuple[str, ...],
                                                         env: dict[str, str], message: str) -> None:
    from tests.test_cli_errors import run_cli

    result = run_cli(*args, env={"CITEWISE_INDEX": str(tmp_path / "idx"), "CITEWISE_STORE__URL": "", **env},
                     cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout and "s3cret" not in result.stderr + result.stdout
