"""The generations of one index folder, and which one is live.

    CURRENT            names the live generation (replaced atomically when an ingest publishes)
    gen-<id>/index.sqlite, gen-<id>/vectors.faiss
An ingest writes a fresh generation beside the live one and only then swaps CURRENT, so a crash or kill -9 at any
moment leaves the previous index intact and loadable.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from citewise.core.errors import CitewiseError, IndexBrokenError
from citewise.store.sqlite_faiss.schema import DB_NAME, FAISS_NAME

CURRENT = "CURRENT"


class IndexLayout:
    """Where the generations of one index directory live, and which one is live."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def named(self) -> str | None:
        """The generation CURRENT names (None when nothing was ever published), whether or not it is intact."""
        try:
            return (self.root / CURRENT).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def current(self) -> Path | None:
        name = self.named()
        if name is None:
            return None
        path = self.root / name
        return path if (path / DB_NAME).is_file() else None

    def current_token(self) -> str | None:
        """Changes whenever an ingest publishes a new generation (the server polls it to reload). The name in
        CURRENT even when that generation is broken, so that a reader is tried, and says what is wrong."""
        return self.named()

    def broken(self, name: str, what: str) -> IndexBrokenError:
        return IndexBrokenError(
            f"the index at {self.root} is broken: {self.root / CURRENT} names {name}, but {what}; repair it by "
            f"publishing a new generation (`citewise ingest --index {self.root} --rebuild PATH...`), or by writing "
            f"the name of an intact gen-* folder into {self.root / CURRENT}")

    def new_generation(self) -> Path:
        path = self.root / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        path.mkdir(parents=True)
        return path

    def publish(self, generation: Path) -> None:
        for name in (DB_NAME, FAISS_NAME):
            with open(generation / name, "rb") as handle:
                os.fsync(handle.fileno())
        tmp = self.root / f"{CURRENT}.tmp-{os.getpid()}"
        tmp.write_text(generation.name + "\n", encoding="utf-8")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.root / CURRENT)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def prune(self, keep: Iterable[Path]) -> None:
        """Removes generations other than `keep` (abandoned by a crash, or superseded)."""
        keep_names = {path.name for path in keep}
        for path in self.root.glob("gen-*"):
            if path.is_dir() and path.name not in keep_names:
                shutil.rmtree(path, ignore_errors=True)
        for tmp in self.root.glob(f"{CURRENT}.tmp-*"):
            tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CitewiseError(f"another ingest is writing {self.root}; wait for it to finish") from None
            yield


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a generation's SQLite file (the backup API, so a reader of the source never blocks it)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
