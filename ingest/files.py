"""Which files an ingest looks at: one walk of the given paths, naming everything it cannot read as a file.

Symbolic links are followed (a link to a folder included), a link that leads back to a folder being walked is a
loop and is named, and so is a dangling link, a FIFO, a socket or a device: reading a FIFO would block the
ingest, and a loop would never end. Hidden files and folders (a name starting with '.') are left out.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from citewise.core.errors import CitewiseError
from citewise.core.types import SourceMeta
from citewise.ingest.manifest import MANIFEST_NAME, load_manifest
from citewise.ingest.readers import is_supported


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    rel: str  # the path recorded in the index: relative to the folder that was ingested
    meta: SourceMeta | None


@dataclass
class Walk:
    """The regular files under one given path, the folder their recorded paths are relative to, and
    (path, reason) for every entry that is not a readable regular file."""

    files: list[Path]
    base: Path
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _not_a_file(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a regular file"
    if stat.S_ISBLK(mode) or stat.S_ISCHR(mode):
        return "a device, not a regular file"
    return "not a regular file"


def _stat_problem(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if isinstance(exc, FileNotFoundError) and path.is_symlink():
        return f"dangling symbolic link (to {os.readlink(path)}, which does not exist)"
    return exc.strerror or str(exc)


def files_under(root: Path) -> Walk:
    """The files an ingest of `root` looks at, sorted; a missing root is an error, anything else odd is named."""
    try:
        mode = root.stat().st_mode
    except FileNotFoundError:
        if root.is_symlink():
            return Walk([], root.parent, [(str(root), _stat_problem(root, FileNotFoundError()))])
        raise CitewiseError(f"{root}: no such file or folder") from None
    except OSError as exc:
        return Walk([], root.parent, [(str(root), _stat_problem(root, exc))])
    if stat.S_ISREG(mode):
        return Walk([root], root.parent)
    if not stat.S_ISDIR(mode):
        return Walk([], root.parent, [(str(root), _not_a_file(mode))])
    walk = Walk([], root)
    _walk(root, {_identity(root)}, walk)
    walk.files.sort()
    return walk


def _identity(folder: Path) -> tuple[int, int]:
    info = folder.stat()
    return info.st_dev, info.st_ino


def _walk(folder: Path, ancestors: set[tuple[int, int]], walk: Walk) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        walk.skipped.append((str(folder), f"folder could not be read ({exc.strerror or exc})"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            info = os.stat(path)  # follows links
        except OSError as exc:
            walk.skipped.append((str(path), _stat_problem(path, exc)))
            continue
        if stat.S_ISDIR(info.st_mode):
            identity = (info.st_dev, info.st_ino)
            if identity in ancestors:
                walk.skipped.append((str(path), "symbolic link loop (it leads back to a folder that contains it)"))
                continue
            _walk(path, ancestors | {identity}, walk)
        elif stat.S_ISREG(info.st_mode):
            walk.files.append(path)
        else:
            walk.skipped.append((str(path), _not_a_file(info.st_mode)))


def collect_files(paths: list[Path]) -> tuple[list[CorpusFile], list[tuple[str, str]]]:
    """Every readable-looking file under `paths`, with its manifest row; plus (path, reason) for the rest."""
    files: list[CorpusFile] = []
    ignored: list[tuple[str, str]] = []
    for root in paths:
        walk = files_under(root)
        ignored.extend(walk.skipped)
        manifests: dict[Path, dict[str, SourceMeta]] = {}
        for path in walk.files:
            if path.name == MANIFEST_NAME:
                continue
            rel = path.relative_to(walk.base).as_posix()
            if not is_supported(path):
                ignored.append((str(path), f"unsupported file type {path.suffix or '(none)'}"))
                continue
            if path.parent not in manifests:
                manifests[path.parent] = load_manifest(path.parent)
            files.append(CorpusFile(path, rel, manifests[path.parent].get(path.name)))
    seen: dict[str, Path] = {}
    for f in files:
        if f.rel in seen:
            raise CitewiseError(f"{f.path} and {seen[f.rel]} would both be indexed as {f.rel}; ingest one of them")
        seen[f.rel] = f.path
    return files, ignored
