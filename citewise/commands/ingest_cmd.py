"""`citewise ingest` and `citewise sources`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from citewise.commands.common import IndexOption, JsonOption
from citewise.core.controls import printable
from citewise.core.errors import CitewiseError
from citewise.core.settings import load_settings

EXIT_SKIPPED = 3


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("sources")(sources)
    app.command("copy-index")(copy_index)
    app.command("remove")(remove)


def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders to index [default: corpus/]",
                                                       show_default=False)] = None,
    index: IndexOption = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="re-embed everything, e.g. after a model change")] = False,
    prune: Annotated[bool, typer.Option(
        "--prune", help="also remove indexed sources that are not under PATHS (never all of them)")] = False,
    json_out: JsonOption = False,
    first_part_bytes: Annotated[int | None, typer.Option(
        "--first-part-bytes", min=0, hidden=True,
        help="size of the first part published early on a new index (0: none); for tests")] = None,
    distributed: Annotated[bool, typer.Option(
        "--distributed", help="read, chunk and embed on Ray (RAY_ADDRESS, else a local cluster); needs the extra "
        "citewise[distributed]")] = False,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="with --distributed: embedding actors [default: one per CPU of the cluster]",
        show_default=False)] = None,
) -> None:
    """Add or update source texts (txt, md, html, pdf, epub) in the index. Re-running embeds only new or changed
    files. Sources indexed before and not under PATHS are kept: --prune removes them, `citewise remove` removes
    sources by name.

    A new index (or --rebuild) is published twice: first its smallest files, which can be queried at once, then
    everything.

    With --distributed the same work runs on Ray and the index is published once, at the end.

    Exit status: 0 all indexed, 3 some files were skipped (each named with the reason), 1 error.
    """
    from citewise.ingest.staged import FIRST_PART_BYTES, StagedReport, staged_ingest

    settings = load_settings(index=index)
    if workers is not None and not distributed:
        raise CitewiseError("--workers is taken with --distributed only")
    notify = None if json_out else (lambda message: typer.echo(f"citewise: {message}", err=True))
    if distributed:
        from citewise.ingest.distributed import distributed_ingest

        staged = StagedReport(final=distributed_ingest(settings, paths or [Path("corpus")], rebuild=rebuild,
                                                       prune=prune, progress=not json_out, workers=workers))
    else:
        staged = staged_ingest(settings, paths or [Path("corpus")], rebuild=rebuild, prune=prune,
                               progress=not json_out, notify=notify,
                               first_part_bytes=FIRST_PART_BYTES if first_part_bytes is None else first_part_bytes)
    report = staged.final
    for file, reason in report.skipped:
        typer.echo(f"skipped {printable(file)}: {printable(' '.join(reason.split()))}", err=True)
    if json_out:
        typer.echo(json.dumps(asdict(report), indent=2))
    else:
        if staged.first is not None:
            # The summary below is the final run's, in which the first part's files were already indexed.
            first = staged.first
            typer.echo(f"first part published after {staged.first_published_s:.1f}s ({first.sources} "
                       f"source{'' if first.sources == 1 else 's'}, {first.passages} passages) and queryable while "
                       "the rest was indexed; its files count as unchanged below")
        rate = report.passages_embedded / report.embed_seconds if report.embed_seconds else 0.0
        typer.echo(
            f"indexed {report.sources} sources, {report.passages} passages in {report.index_dir} "
            f"({report.added} added, {report.updated} updated, {report.removed} removed, "
            f"{report.unchanged} unchanged; {report.passages_embedded} passages embedded"
            + (f" at {rate:.1f}/s" if rate else "")
            + f", {report.tokens} tokens; {report.seconds:.1f}s; {len(report.skipped)} skipped)"
        )
    if report.not_given:
        given = report.sources - report.not_given
        more = f", more than the {given} given" if report.not_given > given else ""
        typer.echo(f"citewise: kept {report.not_given} indexed source{'' if report.not_given == 1 else 's'} that "
                   f"{'was' if report.not_given == 1 else 'were'} not among the paths given{more}; to remove them, "
                   "run again with --prune (or `citewise remove SOURCE...`)", err=True)
    if report.skipped:
        # sys.exit, not typer.Exit: cli.main runs click with standalone_mode=False, where typer.Exit's code is
        # returned instead of becoming the process's exit status.
        sys.exit(EXIT_SKIPPED)


def sources(index: IndexOption = None, json_out: JsonOption = False) -> None:
    """List the indexed sources."""

    settings = load_settings(index=index)
    from citewise.store import open_index

    reader = open_index(settings)
    rows = [
        {"id": s.id, "title": s.title, "author": s.author, "year": s.year, "kind": s.kind,
         "aliases": list(s.aliases), "licence": s.licence, "file": s.file, "passages": s.passages}
        for s in sorted(reader.sources.values(), key=lambda s: s.file)
    ]
    if json_out:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        label = f"{row['year'] or 'n.d.'}" + (f", {row['kind']}" if row["kind"] else "")
        typer.echo(printable(f"{row['id']}  {row['author'] or '?'} ({label}), {row['title']} "
                             f"[{row['file']}, {row['passages']} passages]"))


def remove(
    names: Annotated[list[str], typer.Argument(help="source ids or files, as `citewise sources` lists them",
                                               show_default=False)],
    index: IndexOption = None,
) -> None:
    """Remove sources from the index (the rest stays, nothing is embedded again)."""
    from citewise.ingest.remove import remove_sources
    from citewise.store import open_store

    report = remove_sources(open_store(load_settings(index=index)), names)
    for source in report.removed:
        typer.echo(printable(f"removed {source.id}  {source.file}"))
    typer.echo(f"{report.sources} sources, {report.passages} passages left in {printable(report.index_dir)}")


def copy_index(
    source: Annotated[Path, typer.Argument(help="an embedded index folder (such as .citewise)", show_default=False)],
    json_out: JsonOption = False,
) -> None:
    """Copy an embedded index into the configured store (CITEWISE_STORE__URL) without embedding anything again.

    The store's previous content is replaced in one transaction; readers see the old index until the copy ends.
    """
    from tqdm import tqdm

    from citewise.store import open_store
    from citewise.store.copy import copy_index as copy_into

    settings = load_settings()
    store = open_store(settings)
    if not settings.store.url:
        raise CitewiseError("copy-index writes into the store CITEWISE_STORE__URL names; it is not set")
    with tqdm(desc="copying", unit="passage", disable=json_out) as bar:
        facts = copy_into(source, store, progress=bar.update)
    if json_out:
        typer.echo(json.dumps({"location": store.location, **facts}, indent=2))
    else:
        typer.echo(f"copied {facts['passages']} passages from {source} into {store.location}")
