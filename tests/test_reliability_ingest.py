"""Reliability of `citewise ingest` against careless use and hostile files (issue 15): nothing indexed is lost to a
partial ingest, an empty folder or a FIFO; odd folder entries are named; file names cannot forge output; zip bombs
are refused; every passage keeps the token limit whatever the script; Chinese can be found lexically. Issue 24:
files of long white space runs or deeply nested lists are read and chunked about as fast as prose of their size."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import zipfile
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from citewise.bench.ingest_shapes import PROSE, SHAPES, read_and_chunk_seconds, write_shapes
from citewise.core.errors import CitewiseError, IndexIncompatibleError
from citewise.core.settings import Settings
from citewise.ingest.chunker import Chunker
from citewise.ingest.files import collect_files
from citewise.ingest.pipeline import Ingestor
from citewise.ingest.readers import read_document
from citewise.ingest.readers.epub import MAX_MEMBER_BYTES, MAX_TOTAL_BYTES
from citewise.ingest.staged import staged_ingest
from citewise.retrieval.retriever import IndexRetriever
from citewise.store import sqlite_faiss
from citewise.store.sqlite_faiss import SqliteIndexReader
from tests.cli import indexed_files, run_cli

pytestmark = pytest.mark.integration

TEXTS = {
    "orchard.txt": "The orchard was planted in rows of pear trees. A late frost took the blossom.",
    "harbour.txt": "Fishing boats left the harbour before dawn. The nets came back heavy with herring.",
    "bees.txt": "The bees swarmed in May. A swarm in May is worth a load of hay, the keepers said.",
    "mill.txt": "The mill wheel turned in the race. Flour dust hung in the light of the loft.",
}
NOTE = "A note about the weather: rain all week, and the river rose over the lower meadow."


@pytest.fixture
def four_sources(tmp_path: Path, embedder) -> tuple[Path, Path, Ingestor]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in TEXTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    index = tmp_path / "idx"
    ingestor = Ingestor(Settings(index=index), embedder=embedder, progress=False)
    ingestor.run([corpus])
    return corpus, index, ingestor


def test_ingesting_one_file_adds_it_and_keeps_every_other_source(tmp_path: Path, four_sources) -> None:
    _, index, _ = four_sources
    note = tmp_path / "note.md"
    note.write_text(NOTE, encoding="utf-8")
    result = run_cli("ingest", str(note), "--index", str(index))
    assert result.returncode == 0, result.stderr
    assert "(1 added, 0 updated, 0 removed, 0 unchanged;" in result.stdout
    assert indexed_files(index) == set(TEXTS) | {"note.md"}
    kept = [line for line in result.stderr.splitlines() if "kept 4 indexed sources" in line]
    assert len(kept) == 1 and "more than the 1 given" in kept[0] and "--prune" in kept[0], result.stderr


def test_an_empty_folder_or_a_fifo_never_empties_an_index(tmp_path: Path, four_sources) -> None:
    _, index, ingestor = four_sources
    empty = tmp_path / "empty"
    empty.mkdir()
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    token = ingestor.store.current_token()

    assert ingestor.run([empty]).not_given == 4
    report = ingestor.run([fifo])
    assert report.skipped == [(str(fifo), "a FIFO (named pipe), not a regular file")]
    assert indexed_files(index) == set(TEXTS)

    refused = run_cli("ingest", str(empty), "--index", str(index), "--prune")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "--prune would remove all 4 sources" in refused.stderr and "nothing was changed" in refused.stderr
    refused = run_cli("ingest", str(fifo), "--index", str(index), "--prune")
    assert refused.returncode == 1 and "FIFO" in refused.stderr and "nothing was changed" in refused.stderr
    assert indexed_files(index) == set(TEXTS)
    assert ingestor.store.current_token() != token  # the runs without --prune published, and lost nothing


def test_prune_removes_only_what_was_not_given(four_sources) -> None:
    corpus, index, ingestor = four_sources
    (corpus / "mill.txt").unlink()
    report = ingestor.run([corpus], prune=True)
    assert (report.removed, report.unchanged, report.passages_embedded) == (1, 3, 0)
    assert indexed_files(index) == set(TEXTS) - {"mill.txt"}


def test_staged_rebuild_with_prune_ends_with_exactly_the_paths_given(tmp_path: Path, four_sources, embedder) -> None:
    corpus, index, _ = four_sources
    smaller = tmp_path / "smaller"
    smaller.mkdir()
    for name in ("orchard.txt", "harbour.txt", "bees.txt"):
        (smaller / name).write_text(TEXTS[name], encoding="utf-8")
    staged = staged_ingest(Settings(index=index), [smaller], rebuild=True, prune=True, progress=False,
                           embedder=embedder, first_part_bytes=100)
    assert staged.first is not None and staged.first.sources == 1  # the first part was published on its own
    assert indexed_files(index) == {"orchard.txt", "harbour.txt", "bees.txt"}


def test_remove_command_by_file_and_by_id(four_sources) -> None:
    _, index, _ = four_sources
    reader = SqliteIndexReader(index)
    bees_id = next(s.id for s in reader.sources.values() if s.file == "bees.txt")
    reader.close()
    unknown = run_cli("remove", "no-such-file.txt", "mill.txt", "--index", str(index))
    assert unknown.returncode == 1 and "'no-such-file.txt'" in unknown.stderr
    assert "nothing was removed" in unknown.stderr
    assert indexed_files(index) == set(TEXTS)
    removed = run_cli("remove", "mill.txt", bees_id, "--index", str(index))
    assert removed.returncode == 0, removed.stderr
    assert "removed" in removed.stdout and "2 sources" in removed.stdout
    assert indexed_files(index) == {"orchard.txt", "harbour.txt"}


def test_loops_dangling_links_and_fifos_in_a_folder_are_named(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "real.txt").write_text("Real text.", encoding="utf-8")
    (corpus / "sub" / "loop").symlink_to(corpus)  # leads back to a folder that holds it
    (corpus / "self.txt").symlink_to(corpus / "self.txt")  # a link to itself
    (corpus / "gone.txt").symlink_to(tmp_path / "missing.txt")
    (corpus / "linked.txt").symlink_to(corpus / "real.txt")
    os.mkfifo(corpus / "pipe.txt")
    files, skipped = collect_files([corpus])
    assert [f.rel for f in files] == ["linked.txt", "real.txt"]
    reasons = {Path(path).name: reason for path, reason in skipped}
    assert reasons["loop"].startswith("symbolic link loop")
    assert reasons["self.txt"] == "symbolic link loop"
    assert reasons["gone.txt"].startswith("dangling symbolic link")
    assert reasons["pipe.txt"] == "a FIFO (named pipe), not a regular file"


def test_file_names_with_control_characters_are_printed_escaped(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    forged = "x.bin\nskipped passwd: forged"
    (corpus / forged).write_bytes(b"data")
    (corpus / "weather\nreport\x1b[2J.md").write_text(NOTE, encoding="utf-8")
    index = tmp_path / "idx"
    result = run_cli("ingest", str(corpus), "--index", str(index))
    assert result.returncode == 3, result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    reason = "unsupported file type .bin skipped passwd: forged"
    assert skipped == [f"skipped {corpus}/x.bin\\nskipped passwd: forged: {reason}"]
    listed = run_cli("sources", "--index", str(index))
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 1
    assert "[weather\\nreport\\x1b[2J.md, 1 passages]" in listed.stdout
    as_json = json.loads(run_cli("sources", "--index", str(index), "--json").stdout)
    assert as_json[0]["file"] == "weather\nreport\x1b[2J.md"  # JSON carries the name itself, escaped by JSON


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_utf16_and_utf32_text_with_a_byte_order_mark_is_read(encoding: str) -> None:
    text = "Über die Brücke, sagte sie.\nZweite Zeile — 中文."
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00"}[encoding]
    document = read_document(Path("notes.txt"), bom + text.encode(encoding))
    assert document.text == text


def _epub_with_chapters(path: Path, chapter_bytes: list[int]) -> Path:
    """A valid EPUB whose chapters are `chapter_bytes` of markup each, compressed to almost nothing."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", (
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>'))
        items = "".join(f'<item id="c{i}" href="c{i}.xhtml" media-type="application/xhtml+xml"/>'
                        for i in range(len(chapter_bytes)))
        refs = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapter_bytes)))
        archive.writestr("content.opf", (
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf"><metadata/>'
            f"<manifest>{items}</manifest><spine>{refs}</spine></package>"))
        for i, size in enumerate(chapter_bytes):
            head = b"<html><body><p>"
            archive.writestr(f"c{i}.xhtml", head + b"a" * (size - len(head)))
    return path


def test_epub_zip_bombs_are_refused_and_named(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    one_big = _epub_with_chapters(corpus / "one-big-chapter.epub", [MAX_MEMBER_BYTES + 1])
    chapters = MAX_TOTAL_BYTES // MAX_MEMBER_BYTES + 1
    many = _epub_with_chapters(corpus / "many-chapters.epub", [MAX_MEMBER_BYTES] * chapters)
    assert one_big.stat().st_size < 200_000 and many.stat().st_size < 1_000_000
    (corpus / "fine.txt").write_text(NOTE, encoding="utf-8")
    report = Ingestor(Settings(index=tmp_path / "idx"), embedder=embedder, progress=False).run([corpus])
    reasons = dict(report.skipped)
    assert report.added == 1
    assert reasons[str(one_big)].startswith("refused: c0.xhtml inflates to more than 32 MB")
    assert reasons[str(many)].startswith("refused: its members inflate to more than 128 MB in all")


def checked_passages(reader: SqliteIndexReader, chunker: Chunker, limit: int) -> dict[str, tuple[str, list]]:
    """Each source's canonical text and passages, by file, once every passage is checked to be its text's own slice
    and within the token limit (counted again, and as stored)."""
    checked = {}
    for source in reader.sources.values():
        text = reader.source_text(source.id)
        passages = reader.passages_of(source.id)
        assert passages, source.file
        for passage in passages:
            assert text[passage.start:passage.end] == passage.text
            assert chunker.count(passage.text) <= limit and passage.tokens <= limit, source.file
        checked[source.file] = (text, passages)
    return checked


def test_every_passage_keeps_the_token_limit_whatever_the_script(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    image = base64.b64encode(os.urandom(150_000)).decode()
    markdown = (f"# Figures\n\nThe figure shows the river.\n\n![the river](data:image/png;base64,{image})\n\n"
                f"<!-- {image[:5000]} -->\nThe water rose again in March. <img src=\"data:image/gif;base64,"
                f"{image[:20000]}\"> Then it fell.\n")
    (corpus / "figures.md").write_text(markdown, encoding="utf-8")
    chinese = "".join(f"第{i}段：佛教认为人生是苦，修行可以带来解脱，禅宗强调顿悟与日常生活中的觉察" + "和" * 40 + "。"
                      for i in range(60))  # long sentences, few stops, no spaces
    (corpus / "chan.txt").write_text(chinese + "\n\n" + "无标点的长文" * 600, encoding="utf-8")
    (corpus / "blob.txt").write_text(image[:60_000], encoding="utf-8")  # no space, no markup: cut between tokens
    settings = Settings(index=tmp_path / "idx")
    Ingestor(settings, embedder=embedder, progress=False).run([corpus])
    chunker = Chunker(settings.chunking)
    reader = SqliteIndexReader(settings.index)
    try:
        for file, (text, passages) in checked_passages(reader, chunker, settings.chunking.max_tokens).items():
            if file == "figures.md":
                assert text == markdown  # the markup stays in the canonical text; offsets hold
                assert not any("base64" in p.text or "<!--" in p.text or image[:40] in p.text for p in passages)
                assert any("The water rose again in March." in p.text for p in passages)
                assert any("Then it fell." in p.text for p in passages)
        found = IndexRetriever(settings, reader, embedder).search("顿悟", k=3, mode="lexical")
        assert found and all("顿悟" in hit.passage.text for hit in found)
    finally:
        reader.close()


# Reading and chunking a hostile file may take at most this many times as long as prose of the same size: measured
# with `citewise bench ingest`, up to ~5x on a quiet machine and ~9x with the 2 cores under load 6 (a sentence of
# 500,000 one-letter words, where prose costs one unit a sentence; a heading with 2,000-space gaps, slow for
# tiktoken). Before issue 24, 1,000-space gaps took ~100x at 250 kB and more as the file grew, and a Markdown
# heading with a 2,000-space gap took about a minute a line: a stall, not a constant factor, is what this catches.
SLOWER_AT_MOST = 15
SHAPE_BYTES = 400_000


def _send_seconds(path: Path, settings: Settings, into: Connection) -> None:
    into.send(read_and_chunk_seconds(path, Chunker(settings.chunking), repeats=2)[0])


def _seconds_within(path: Path, settings: Settings, deadline: float) -> float | None:
    """Reading and chunking `path` in a forked child (best of two), or None when it has not finished by
    `deadline` seconds: a stalled file then fails the test instead of holding the suite for hours."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_send_seconds, args=(path, settings, send), daemon=True)
    child.start()
    send.close()
    seconds = receive.recv() if receive.poll(deadline) else None
    if child.is_alive():
        child.kill()
    child.join()
    return seconds


def test_whitespace_heavy_and_nested_files_read_and_chunk_about_as_fast_as_prose(tmp_path: Path) -> None:
    settings = Settings(index=tmp_path / "idx")
    paths = write_shapes(tmp_path / "corpus", SHAPE_BYTES)
    prose = read_and_chunk_seconds(paths[PROSE], Chunker(settings.chunking), repeats=3)[0]
    slow = {}
    for name, path in paths.items():
        # The child runs twice: its deadline leaves room for both runs at the bound, and then some.
        seconds = _seconds_within(path, settings, deadline=(2 * SLOWER_AT_MOST + 5) * prose)
        if seconds is None or seconds > SLOWER_AT_MOST * prose:
            slow[name] = "did not finish" if seconds is None else f"{seconds / prose:.1f}x"
    assert not slow, f"prose of {SHAPE_BYTES} bytes took {prose:.2f}s; slower: {slow}"


def test_whitespace_heavy_and_nested_files_are_indexed_within_the_limit(tmp_path: Path, embedder) -> None:
    write_shapes(tmp_path / "corpus", 30_000)
    settings = Settings(index=tmp_path / "idx")
    report = Ingestor(settings, embedder=embedder, progress=False).run([tmp_path / "corpus"])
    assert report.added == len(SHAPES) and not report.skipped, report.skipped
    chunker = Chunker(settings.chunking)
    reader = SqliteIndexReader(settings.index)
    try:
        passages = {file: len(found) for file, (_, found)
                    in checked_passages(reader, chunker, settings.chunking.max_tokens).items()}
        # A file that is mostly white space makes fewer passages than prose of its size, not one a word.
        assert all(passages[name] <= passages[PROSE] for name in ("spaces.txt", "newlines.txt", "tabs.txt",
                                                                   "nested-list.md", "deepening-list.md")), passages
    finally:
        reader.close()


def _generations(index: Path) -> set[str]:
    return {path.name for path in index.glob("gen-*")}


def test_a_refused_ingest_decides_before_copying_the_index(tmp_path: Path, four_sources, embedder,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, index, ingestor = four_sources
    copies: list[Path] = []
    real_copy = sqlite_faiss.copy_database
    monkeypatch.setattr(sqlite_faiss, "copy_database", lambda source, target: (copies.append(target),
                                                                               real_copy(source, target)))
    before, token = _generations(index), ingestor.store.current_token()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CitewiseError, match="--prune would remove all 4 sources"):
        ingestor.run([empty], prune=True)
    other = Settings(index=index, chunking={"max_tokens": 100})
    with pytest.raises(IndexIncompatibleError, match="chunker"):
        Ingestor(other, embedder=embedder, progress=False).run([tmp_path / "empty"])
    assert copies == [] and _generations(index) == before and ingestor.store.current_token() == token
    refused = run_cli("ingest", str(empty), "--index", str(index), "--prune")
    assert refused.returncode == 1 and "nothing was changed" in refused.stderr
    assert _generations(index) == before


def test_a_failed_ingest_removes_what_it_wrote(tmp_path: Path, four_sources,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    corpus, index, ingestor = four_sources
    before, token = _generations(index), ingestor.store.current_token()
    (corpus / "note.txt").write_text(NOTE, encoding="utf-8")

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Ingestor, "_embed_missing", full_disk)
    with pytest.raises(OSError, match="No space left"):
        ingestor.run([corpus])
    assert _generations(index) == before and ingestor.store.current_token() == token
    assert indexed_files(index) == set(TEXTS)
