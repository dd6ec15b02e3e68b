"""`citewise ingest` / `citewise sources` as a user runs them: bad files, exit codes, JSON, settings changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ingest_samples import HTML_PAGE, make_epub, make_scanned_pdf

from citewise.core.settings import Settings
from citewise.ingest.pipeline import Ingestor
from citewise.store.sqlite_faiss import SqliteIndexReader
from tests.cli import run_cli

pytestmark = pytest.mark.integration

NOTES = (
    "---\ntitle: Field Notes\nauthor: R. Vale\nyear: 1931\nlicence: CC0\n---\n\n"
    "# Weather\n\nRain fell. The river rose.\n"
)


def test_ingest_cli_help() -> None:
    result = run_cli("ingest", "--help")
    assert result.returncode == 0
    assert "--rebuild" in result.stdout


def test_ingest_cli_bad_inputs_are_skipped_one_line_each(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text(NOTES, encoding="utf-8")
    (corpus / "bees.html").write_text(HTML_PAGE, encoding="utf-8")
    bad = {
        "random.pdf": "not a readable PDF",
        "scan.pdf": "no text layer (scanned PDF?)",
        "no-opf.epub": "OPF",
        "empty.txt": "empty file",
        "binary.txt": "binary file",
        "latin.txt": "not valid UTF-8",
        "big.txt": "too large",
    }
    (corpus / "random.pdf").write_bytes(os.urandom(3000))
    make_scanned_pdf(corpus / "scan.pdf")
    make_epub(corpus / "no-opf.epub", with_opf=False)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (corpus / "latin.txt").write_bytes("Une pensée très ancienne.".encode("latin-1"))
    (corpus / "big.txt").write_text("A sentence that repeats. " * 1000, encoding="utf-8")  # ~25 KB

    index = tmp_path / "idx"
    result = run_cli("ingest", str(corpus), "--index", str(index), "--json",
                     env={"CITEWISE_INGEST__MAX_FILE_MB": "0.01"})
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)  # nothing but JSON on stdout
    assert report["sources"] == 2 and report["added"] == 2
    assert "Traceback" not in result.stderr
    for name, reason in bad.items():
        lines = [line for line in result.stderr.splitlines() if name in line]
        assert len(lines) == 1, (name, result.stderr)
        assert lines[0].startswith(f"skipped {corpus / name}: ") and reason in lines[0], lines[0]

    listed = run_cli("sources", "--index", str(index), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["file"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"notes.md", "bees.html"}
    notes = rows["notes.md"]
    assert set(notes) == {"id", "title", "author", "year", "kind", "aliases", "licence", "file", "passages"}
    assert (notes["title"], notes["author"], notes["year"], notes["licence"]) == ("Field Notes", "R. Vale", 1931, "CC0")
    assert all(row["passages"] >= 1 for row in rows.values())


def test_ingest_cli_other_chunk_settings_need_rebuild(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text(NOTES + "More words follow here. " * 20, encoding="utf-8")
    index = tmp_path / "idx"
    Ingestor(Settings(index=index), embedder=embedder, progress=False).run([corpus])
    before = SqliteIndexReader(index)
    count, chunker = before.passage_count(), before.meta["chunker"]
    before.close()

    other = {"CITEWISE_CHUNKING__MAX_TOKENS": "32", "CITEWISE_CHUNKING__OVERLAP_TOKENS": "8"}
    refused = run_cli("ingest", str(corpus), "--index", str(index), env=other)
    assert refused.returncode == 1
    assert "--rebuild" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    still = SqliteIndexReader(index)
    assert (still.passage_count(), still.meta["chunker"]) == (count, chunker)
    still.close()

    rebuilt = run_cli("ingest", str(corpus), "--index", str(index), "--rebuild", env=other)
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = SqliteIndexReader(index)
    assert after.meta["chunker"].endswith("/32/8") and after.passage_count() > count
    after.close()
