"""The staged first ingest (ingest/staged.py): a new index publishes its smallest files first, then everything."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from citewise.core.settings import Settings
from citewise.ingest.pipeline import Ingestor, collect_files
from citewise.ingest.staged import plan_first_part, staged_ingest
from citewise.store.sqlite_faiss import SqliteIndexReader
from citewise.store.sqlite_faiss.layout import IndexLayout
from tests.cli import run_cli

# The slice's two smallest files (13.7 kB + 57.9 kB) fit; the third (59.5 kB) would take the part past this.
BUDGET = 100_000


def smallest_within(folder: Path, budget: int) -> list[str]:
    """The files the rule should pick, worked out independently: smallest first while the bytes fit."""
    files = sorted((p for p in folder.iterdir() if p.suffix in (".md", ".txt")), key=lambda p: p.stat().st_size)
    chosen, total = [], 0
    for path in files:
        if chosen and total + path.stat().st_size > budget:
            break
        chosen.append(path.name)
        total += path.stat().st_size
    return sorted(chosen)


def write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x" * size, encoding="utf-8")
    return path


# ---------- the rule (no model) ----------

@pytest.mark.unit
def test_first_part_is_the_smallest_files_within_the_budget(tmp_path: Path) -> None:
    for name, size in (("a.md", 300), ("b.md", 100), ("c.md", 200), ("d.md", 5000), ("empty.md", 0),
                       ("skip.csv", 1), (".hidden/e.md", 1)):
        write(tmp_path / name, size)
    plan = plan_first_part([tmp_path], budget_bytes=600)
    assert plan is not None
    assert [f.rel for f in plan.files] == ["b.md", "c.md", "a.md"] and plan.bytes == 600
    assert plan.total_files == 4  # the empty file, the unsupported and the hidden one are not counted
    # The smallest file goes first even when it alone is over the budget.
    assert [f.rel for f in plan_first_part([tmp_path], budget_bytes=10).files] == ["b.md"]


@pytest.mark.unit
def test_no_first_part_when_it_would_not_help(tmp_path: Path) -> None:
    write(tmp_path / "a.md", 100)
    write(tmp_path / "b.md", 200)
    assert plan_first_part([tmp_path], budget_bytes=1000) is None  # everything fits: one run
    assert plan_first_part([tmp_path], budget_bytes=0) is None  # staging switched off
    # The same recorded path twice: left to the full run, which names the clash.
    assert plan_first_part([tmp_path, tmp_path / "a.md"], budget_bytes=150) is None


@pytest.mark.unit
def test_first_part_files_keep_the_path_and_manifest_row_of_the_full_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "top.md", 10)
    write(corpus / "books" / "deep.md", 20)
    write(corpus / "books" / "big.md", 9000)
    (corpus / "books" / "MANIFEST.tsv").write_text("file\ttitle\tauthor\ndeep.md\tDeep Title\tA. Writer\n",
                                                   encoding="utf-8")
    plan = plan_first_part([corpus], budget_bytes=100)
    assert plan is not None and [f.rel for f in plan.files] == ["top.md", "books/deep.md"]
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    first, _ = collect_files(plan.ingest_paths(mirror))
    full, _ = collect_files([corpus])
    recorded = {f.rel: f.meta for f in first}
    assert recorded == {f.rel: f.meta for f in full if f.rel in recorded}
    assert set(recorded) == {"top.md", "books/deep.md"} and recorded["books/deep.md"].title == "Deep Title"


# ---------- real ingests ----------

@pytest.mark.integration
def test_new_index_publishes_the_smallest_files_first_then_all(slice_corpus: Path, embedder, tmp_path: Path
                                                               ) -> None:
    settings = Settings(index=tmp_path / "index")
    published: dict[str, object] = {}

    def notify(message: str) -> None:
        if message.startswith("first part published"):  # what is live at that moment
            reader = SqliteIndexReader(settings.index)
            published["files"] = sorted(s.file for s in reader.sources.values())
            published["generation"] = reader.generation.name
            reader.close()

    staged = staged_ingest(settings, [slice_corpus], embedder=embedder, progress=False, first_part_bytes=BUDGET,
                           notify=notify)
    first, final = staged.first, staged.final
    assert first is not None
    assert published["files"] == smallest_within(slice_corpus, BUDGET)
    all_files = sorted(p.name for p in slice_corpus.iterdir() if p.suffix in (".md", ".txt"))
    assert first.sources == len(published["files"]) < final.sources == len(all_files)
    reader = SqliteIndexReader(settings.index)
    assert sorted(s.file for s in reader.sources.values()) == all_files
    assert reader.generation.name != published["generation"]
    assert reader.passage_count() == final.passages
    reader.close()
    # The first part was embedded once: the final run counts its files as unchanged and embeds only the rest.
    assert first.passages_embedded == first.passages > 0
    assert (final.added, final.unchanged) == (len(all_files) - first.sources, first.sources)
    assert final.passages_embedded == final.passages - first.passages
    assert staged.first_published_s is not None and staged.first_published_s > 0


@pytest.mark.integration
def test_an_existing_index_is_updated_in_one_run_and_rebuild_is_staged(slice_corpus: Path, embedder,
                                                                        tmp_path: Path) -> None:
    settings = Settings(index=tmp_path / "index")
    smallest = smallest_within(slice_corpus, BUDGET)[0]
    Ingestor(settings, embedder=embedder, progress=False).run([slice_corpus / smallest])
    before = IndexLayout(settings.index).current()
    messages: list[str] = []
    staged = staged_ingest(settings, [slice_corpus], embedder=embedder, progress=False, first_part_bytes=BUDGET,
                           notify=messages.append)
    # No first part: a subset run would have taken sources out of the live index.
    assert staged.first is None and messages == []
    assert (staged.final.added, staged.final.unchanged, staged.final.removed) == (3, 1, 0)
    assert IndexLayout(settings.index).current() != before

    rebuilt = staged_ingest(settings, [slice_corpus], embedder=embedder, progress=False, rebuild=True,
                            first_part_bytes=BUDGET, notify=messages.append)
    assert rebuilt.first is not None and rebuilt.first.sources == len(smallest_within(slice_corpus, BUDGET))
    assert rebuilt.final.sources == 4 and rebuilt.final.passages_embedded == rebuilt.final.passages - \
        rebuilt.first.passages
    assert any(m.startswith("first part published") for m in messages)


@pytest.mark.integration
def test_cli_says_what_was_published_early_and_reports_the_final_run(slice_corpus: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    names = smallest_within(slice_corpus, BUDGET)  # two small files keep this quick
    for name in [*names, "MANIFEST.tsv"]:
        shutil.copy(slice_corpus / name, corpus / name)
    index = tmp_path / "index"
    budget = str((slice_corpus / names[0]).stat().st_size)  # the first part is the smallest file alone

    result = run_cli("ingest", str(corpus), "--index", str(index), "--first-part-bytes", budget)
    assert result.returncode == 0, result.stderr
    assert "citewise: first part published after" in result.stderr
    early, summary = result.stdout.strip().splitlines()
    assert early.startswith("first part published after") and "(1 source," in early
    assert summary.startswith("indexed 2 sources") and "(1 added, 0 updated, 0 removed, 1 unchanged;" in summary

    again = run_cli("ingest", str(corpus), "--index", str(index), "--first-part-bytes", budget, "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["sources"], report["unchanged"], report["passages_embedded"]) == (2, 2, 0)
    assert "first part" not in again.stderr
