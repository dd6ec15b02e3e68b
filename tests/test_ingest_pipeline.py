"""Ingest pipeline with the real model: every format round-trips offsets, re-ingest is incremental."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from ingest_samples import HTML_PAGE, PAGE_TWO_PHRASE, make_epub, make_pdf

from citewise.core.settings import ChunkSettings, Settings
from citewise.ingest.pipeline import Ingestor
from citewise.ingest.readers import READERS
from citewise.store.sqlite_faiss import SqliteIndexReader

pytestmark = pytest.mark.integration

# Small passages, so that even these tiny documents give several passages each and pages matter.
SMALL_CHUNKS = ChunkSettings(max_tokens=16, overlap_tokens=4)
PLAIN = (
    "THE ORCHARD\n\nThe trees were planted in rows along the\nslope. Each spring the blossom came early.\n\n"
    "Pickers arrived in late summer. They\nworked from dawn until the light failed.\n"
)
NOTES = (
    "---\ntitle: Field Notes\nauthor: R. Vale\nyear: 1931\n---\n\n"
    "# Weather\n\nRain fell for three days. The river rose.\n"
)


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    (folder / "orchard.txt").write_text(PLAIN, encoding="utf-8")
    (folder / "notes.md").write_text(NOTES, encoding="utf-8")
    (folder / "bees.html").write_text(HTML_PAGE, encoding="utf-8")
    make_pdf(folder / "three.pdf")
    make_epub(folder / "harbour.epub")
    return folder


def _ids_by_file(index: Path) -> dict[str, set[str]]:
    reader = SqliteIndexReader(index)
    try:
        return {s.file: {p.id for p in reader.passages_of(s.id)} for s in reader.sources.values()}
    finally:
        reader.close()


@pytest.fixture()
def ingested(tmp_path: Path, embedder) -> tuple[Ingestor, Path]:
    corpus = _corpus(tmp_path / "corpus")
    ingestor = Ingestor(Settings(index=tmp_path / "idx", chunking=SMALL_CHUNKS), embedder=embedder, progress=False)
    report = ingestor.run([corpus])
    assert report.skipped == [] and report.added == 5
    return ingestor, corpus


def test_ingest_offsets_round_trip_for_every_format(ingested) -> None:
    ingestor, _ = ingested
    reader = SqliteIndexReader(ingestor.settings.index)
    try:
        files = {s.file: s for s in reader.sources.values()}
        assert set(files) == {"orchard.txt", "notes.md", "bees.html", "three.pdf", "harbour.epub"}
        for source in files.values():
            text = reader.source_text(source.id)
            passages = reader.passages_of(source.id)
            assert len(passages) >= 2, source.file
            for passage in passages:
                assert text[passage.start:passage.end] == passage.text
                assert passage.tokens <= SMALL_CHUNKS.max_tokens
        assert (files["notes.md"].title, files["notes.md"].year) == ("Field Notes", 1931)
        assert files["harbour.epub"].author == "Tomas Reed"
        epub_headings = {p.heading for p in reader.passages_of(files["harbour.epub"].id)}
        assert epub_headings == {"Chapter One: The Harbour", "Chapter Two: The Market"}
        pdf_passages = reader.passages_of(files["three.pdf"].id)
        phrase = re.compile(r"\s+".join(map(re.escape, PAGE_TWO_PHRASE.split())))
        holding = [p for p in pdf_passages if phrase.search(p.text)]
        assert holding and all(p.page == 2 for p in holding)
        assert {p.page for p in pdf_passages} == {1, 2, 3}
    finally:
        reader.close()


def test_ingest_unchanged_edited_and_deleted_files(ingested) -> None:
    ingestor, corpus = ingested
    before = _ids_by_file(ingestor.settings.index)

    again = ingestor.run([corpus])
    assert (again.passages_embedded, again.unchanged, again.added, again.updated) == (0, 5, 0, 0)
    assert _ids_by_file(ingestor.settings.index) == before

    with (corpus / "orchard.txt").open("a", encoding="utf-8") as handle:
        handle.write("\nA late frost took the last of the pears.\n")
    edited = ingestor.run([corpus])
    after = _ids_by_file(ingestor.settings.index)
    assert edited.updated == 1 and edited.unchanged == 4
    assert 0 < edited.passages_embedded <= len(after["orchard.txt"])
    for name, ids in before.items():
        if name != "orchard.txt":
            assert after[name] == ids
    assert after["orchard.txt"] != before["orchard.txt"]

    (corpus / "bees.html").unlink()
    kept = ingestor.run([corpus])  # an ingest adds and updates; only --prune removes what was not given
    assert (kept.removed, kept.not_given) == (0, 1)
    assert "bees.html" in _ids_by_file(ingestor.settings.index)
    removed = ingestor.run([corpus], prune=True)
    assert (removed.removed, removed.not_given) == (1, 0) and removed.passages_embedded == 0
    remaining = _ids_by_file(ingestor.settings.index)
    assert "bees.html" not in remaining
    reader = SqliteIndexReader(ingestor.settings.index)
    try:
        assert reader.passage_count() == sum(len(ids) for ids in remaining.values())
        assert all(reader.passage(pid) is None for pid in before["bees.html"])
    finally:
        reader.close()


def test_ingest_reader_crash_is_one_skipped_file(tmp_path: Path, embedder, monkeypatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text(NOTES, encoding="utf-8")
    shutil.copy(corpus / "notes.md", corpus / "copy.md")
    (corpus / "odd.txt").write_text("Plain words.", encoding="utf-8")

    def exploding_reader(path: Path, data: bytes):
        raise RuntimeError("reader bug\nwith a second line")

    monkeypatch.setitem(READERS, ".txt", exploding_reader)
    report = Ingestor(Settings(index=tmp_path / "idx"), embedder=embedder, progress=False).run([corpus])
    assert [(Path(f).name, reason) for f, reason in report.skipped] == [
        ("odd.txt", "could not be read (RuntimeError: reader bug with a second line)")]
    assert report.sources == 2


def test_ingest_reader_upgrade_rereads_without_reembedding(ingested, monkeypatch) -> None:
    ingestor, corpus = ingested
    before = _ids_by_file(ingestor.settings.index)
    monkeypatch.setattr("citewise.ingest.pipeline.READER_VERSION", "next")
    upgraded = ingestor.run([corpus])
    assert (upgraded.updated, upgraded.unchanged, upgraded.passages_embedded) == (5, 0, 0)
    assert _ids_by_file(ingestor.settings.index) == before
    assert ingestor.run([corpus]).unchanged == 5


@pytest.mark.unit
def test_passage_context_names_the_work_author_and_heading() -> None:
    from citewise.core.types import SourceMeta
    from citewise.ingest.pipeline import passage_context

    meta = SourceMeta(title="The Varieties of Religious Experience: A Study in Human Nature",
                      author="William James (1842-1910); ed. nobody")
    assert passage_context(meta, "LECTURE XVI. MYSTICISM") == (
        "The Varieties of Religious Experience. William James. LECTURE XVI. MYSTICISM.\n\n")
    assert passage_context(SourceMeta(title="Notes"), None) == "Notes.\n\n"


def test_contextual_passages_are_found_by_their_work_and_keep_their_offsets(tmp_path: Path, embedder) -> None:
    from citewise.core.errors import IndexIncompatibleError
    from citewise.core.settings import IngestSettings

    corpus = _corpus(tmp_path / "corpus")
    settings = Settings(index=tmp_path / "idx", chunking=SMALL_CHUNKS, ingest=IngestSettings(contextual=True))
    Ingestor(settings, embedder=embedder, progress=False).run([corpus])
    reader = SqliteIndexReader(settings.index)
    notes = next(s for s in reader.sources.values() if s.file == "notes.md")
    text = reader.source_text(notes.id)
    for passage in reader.passages_of(notes.id):
        assert text[passage.start:passage.end] == passage.text  # the context is searched, never quoted
    # "Field Notes" stands in the front matter only: the context makes every passage findable by it.
    assert "Field" not in text.split("---")[-1] and len(reader.passages_of(notes.id)) > 1
    found = reader.lexical_search(["field", "notes"], 20, match="all")
    assert {pid for pid, _ in found} == {p.id for p in reader.passages_of(notes.id)}
    stored = reader.stored_vectors([p.id for p in reader.passages_of(notes.id)])
    assert any("Rain fell for three days." in sentences for v in stored.values() for sentences in v.sentences)
    # Growing it without contexts would mix two kinds of vectors: refused until --rebuild.
    with pytest.raises(IndexIncompatibleError, match="passage_context"):
        Ingestor(Settings(index=settings.index, chunking=SMALL_CHUNKS), embedder=embedder, progress=False).run(
            [corpus])
