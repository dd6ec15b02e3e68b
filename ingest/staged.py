"""The first ingest of a new index in two stages, so that questions can be answered long before it ends.

Stage one indexes a small first part of the corpus (its smallest files) and publishes it: a running
`citewise serve` hot-reloads it and answers from it, and so does `citewise ask`. Stage two then indexes the whole
set. It starts from the first part's generation, so the first part's files count as unchanged there and are
neither chunked nor embedded again; the extra cost of staging is one small FAISS build and one copy of a small
database.

Only a new index (or --rebuild) is staged: an existing one already answers, and is updated in one run. The first
part's run only adds, so `--prune` (removing indexed sources that were not given) belongs to the full run alone.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from citewise.core.embedding import Embedder
from citewise.core.settings import Settings
from citewise.ingest.files import files_under
from citewise.ingest.manifest import MANIFEST_NAME
from citewise.ingest.pipeline import Ingestor, IngestReport
from citewise.ingest.readers import is_supported

# The first part: whole files, smallest first, for as long as their bytes add up to at most this (and always at
# least the smallest file). The aim is roughly 1,000 passages: the demo corpus's text runs ~640 bytes per passage
# (200-token passages overlapping by 40), so 1,000 passages are ~640 kB, which embed in well under a minute on two
# cores, a small share of the whole corpus's ~7 minutes. File bytes rather than passages, because they are known
# before anything is read; PDF bytes overstate their text and EPUB bytes understate it, which a first part that
# only needs to be roughly this size can live with.
FIRST_PART_BYTES = 640_000

Notify = Callable[[str], None]


@dataclass(frozen=True)
class _Candidate:
    root: Path  # the path given by the caller that this file was found under
    path: Path
    rel: str  # the path the full run records for the file: relative to its root folder (or its own folder)
    size: int


@dataclass(frozen=True)
class FirstPart:
    """The files of the first stage, smallest first, out of `total_files` indexable files."""

    files: tuple[_Candidate, ...]
    total_files: int

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def ingest_paths(self, mirror: Path) -> list[Path]:
        """What to hand Ingestor.run so that every file is recorded under the same path as in the full run.

        A file that sits directly in its root folder (or was named itself) is passed as it is: the pipeline
        records a file given by name relative to its own folder, which is what the folder's run records too.
        A file deeper down is linked into `mirror` at its path below the root, beside a link to its folder's
        MANIFEST.tsv, and the mirror folder is passed instead, so it keeps its relative path and manifest row.
        """
        direct: list[Path] = []
        mirrors: dict[Path, Path] = {}
        for item in self.files:
            if item.root.is_file() or "/" not in item.rel:
                direct.append(item.path)
                continue
            base = mirrors.setdefault(item.root, mirror / str(len(mirrors)))
            link = base / item.rel
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(item.path.absolute())
            manifest = item.path.parent / MANIFEST_NAME
            if manifest.is_file() and not (link.parent / MANIFEST_NAME).exists():
                (link.parent / MANIFEST_NAME).symlink_to(manifest.absolute())
        return direct + list(mirrors.values())


@dataclass
class StagedReport:
    """`final` is the report of the run that indexed everything; `first` that of the early publication, if any."""

    final: IngestReport
    first: IngestReport | None = None
    first_files: int = 0
    total_files: int = 0
    first_published_s: float | None = None  # from the start of the ingest to the first part being live


def plan_first_part(paths: Sequence[Path], budget_bytes: int = FIRST_PART_BYTES) -> FirstPart | None:
    """The smallest files under `paths` that fit in `budget_bytes`, or None when staging would not help: a budget
    of 0, nothing to index, or a first part that would already be everything."""
    candidates = _candidates(paths)
    if budget_bytes <= 0 or len({c.rel for c in candidates}) != len(candidates):
        return None  # two files with one recorded path: the full run reports that clash before indexing anything
    # An empty file holds no passage; leaving it to the full run keeps it from taking a place in the first part.
    nonempty = sorted((c for c in candidates if c.size > 0), key=lambda c: (c.size, c.rel))
    chosen: list[_Candidate] = []
    total = 0
    for candidate in nonempty:
        # Sorted by size, so the first file that does not fit means none of the later ones does either.
        if chosen and total + candidate.size > budget_bytes:
            break
        chosen.append(candidate)
        total += candidate.size
    if not chosen or len(chosen) == len(nonempty):
        return None
    return FirstPart(tuple(chosen), total_files=len(nonempty))


def staged_ingest(settings: Settings, paths: Sequence[Path], *, rebuild: bool = False, prune: bool = False,
                  progress: bool = True,
                  embedder: Embedder | None = None, first_part_bytes: int = FIRST_PART_BYTES,
                  notify: Notify | None = None) -> StagedReport:
    """Indexes `paths` into settings.index like `Ingestor.run` (adding and updating; with `prune` also removing
    the sources not given); on a new index (or with `rebuild`) it first publishes a small first part. `notify`
    receives one-line progress messages for the user."""
    started = time.perf_counter()
    say: Notify = notify or (lambda _message: None)
    paths = list(paths)
    ingestor = Ingestor(settings, embedder=embedder, progress=progress)  # one model load serves both stages
    fresh = rebuild or ingestor.store.current_token() is None
    plan = plan_first_part(paths, first_part_bytes) if fresh else None
    if plan is None:
        return StagedReport(final=ingestor.run(paths, rebuild=rebuild, prune=prune))

    rest = plan.total_files - len(plan.files)
    say(f"new index: indexing a first part (the {_count(len(plan.files), 'smallest file')} of {plan.total_files}, "
        f"{plan.bytes / 1e6:.1f} MB) to answer from while the other {rest} are indexed")
    with tempfile.TemporaryDirectory(prefix="citewise-first-part-") as mirror:
        first = ingestor.run(plan.ingest_paths(Path(mirror)), rebuild=rebuild)
    published = time.perf_counter() - started
    say(f"first part published after {published:.0f}s ({_count(first.sources, 'source')}, "
        f"{_count(first.passages, 'passage')}): `citewise serve` and `citewise ask` answer from it now; "
        f"indexing the other {_count(rest, 'file')}")
    try:
        # Never a rebuild here: this run must start from the first part's generation to reuse its work.
        final = ingestor.run(paths, rebuild=False, prune=prune)
    except BaseException:
        say(f"stopped before the end: {settings.index} holds the first part only; run `citewise ingest` on the "
            "same paths again to index the rest (the first part is not embedded again)")
        raise
    return StagedReport(final=final, first=first, first_files=len(plan.files), total_files=plan.total_files,
                        first_published_s=published)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _candidates(paths: Sequence[Path]) -> list[_Candidate]:
    """The files the pipeline would try to index under `paths` (same walk: no hidden parts, no manifest, only
    supported types), each with the path it would be recorded under."""
    found: list[_Candidate] = []
    for root in paths:
        walk = files_under(root)
        for path in walk.files:
            if path.name == MANIFEST_NAME or not is_supported(path):
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue  # the full run reports it
            found.append(_Candidate(root, path, path.relative_to(walk.base).as_posix(), size))
    return found
