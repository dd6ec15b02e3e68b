"""Files whose shape once stalled an ingest (long runs of white space, deeply nested lists, a heading with a gap),
timed against ordinary prose of the same size; and the peak memory of a whole `citewise ingest` per MB of text.

`citewise bench ingest` reports both; the reliability suite bounds the times relative to the prose (issue 24).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from citewise.core.process import citewise_command
from citewise.core.settings import Settings
from citewise.ingest.chunker import Chunker
from citewise.ingest.readers import read_document

PROSE = "prose.txt"
_WORDS = (
    "river", "orchard", "harbour", "lamp", "keeper", "frost", "blossom", "mill", "wheel", "flour", "light", "valley",
    "weather", "season", "herring", "nets", "dawn", "boats", "swarm", "hive", "queen", "workers", "honey", "wax",
    "rows", "trees", "planted", "rain", "meadow", "bridge", "stone", "road", "market", "bread", "square", "voices",
    "morning", "evening", "winter", "summer", "letter", "journey", "mountain", "village",
)


def prose(size: int, seed: int = 0) -> str:
    """Ordinary prose: sentences of 6 to 24 words in paragraphs, each sentence different."""
    rng = random.Random(seed)
    parts: list[str] = []
    length = 0
    while length < size:
        sentence = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 24))).capitalize() + ". "
        if rng.random() < 0.15:
            sentence += "\n\n"
        parts.append(sentence)
        length += len(sentence)
    return "".join(parts)[:size]


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


def _nested_list(size: int) -> str:
    """Markdown list lines nested up to 500 levels deep and back, as a generated outline can be."""
    lines, length, i = [], 0, 0
    while length < size:
        depth = i % 1000 if i % 1000 < 500 else 1000 - i % 1000
        line = "  " * depth + f"- item {i}\n"
        lines.append(line)
        length, i = length + len(line), i + 1
    return "".join(lines)[:size]


def _deepening_list(size: int) -> str:
    """One list nested a level deeper on every line, for as long as the size allows."""
    lines, length, depth = [], 0, 0
    while length < size:
        line = "  " * depth + "- deeper\n"
        lines.append(line)
        length, depth = length + len(line), depth + 1
    return "".join(lines)[:size]


SHAPES: dict[str, Callable[[int], str]] = {
    PROSE: prose,
    "spaces.txt": _repeat("word" + " " * 1000),
    "newlines.txt": _repeat("word" + "\n" * 300),
    "tabs.txt": _repeat("Word." + "\t" * 500),
    "blank-lines.md": _repeat("word\n" + " \n" * 300),
    "no-break-spaces.txt": _repeat("word" + "\u00a0" * 1000),
    "nested-list.md": _nested_list,
    "deepening-list.md": _deepening_list,
    "heading-gap.md": _repeat("# A heading" + " " * 2000 + "with a gap\n"),
    "image-marks.md": _repeat("![" * 5000 + "\n"),
    "one-sentence.txt": _repeat("# "),
}


def write_shapes(folder: Path, size: int, names: list[str] | None = None) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in names or list(SHAPES):
        path = folder / name
        path.write_text(SHAPES[name](size), encoding="utf-8")
        written[name] = path
    return written


@dataclass(frozen=True)
class ShapeTiming:
    file: str
    chars: int
    passages: int
    seconds: float  # reading and chunking, the best of `repeats`
    ratio: float  # seconds / the prose's seconds


def read_and_chunk_seconds(path: Path, chunker: Chunker, repeats: int = 1) -> tuple[float, int]:
    """The best time of `repeats` runs of reading `path` and chunking its text (the stages that stalled), and the
    passages made."""
    best, passages = float("inf"), 0
    data = path.read_bytes()
    for _ in range(repeats):
        started = time.perf_counter()
        document = read_document(path, data)
        passages = len(chunker.chunk(document.text, document.hidden))
        best = min(best, time.perf_counter() - started)
    return best, passages


def time_shapes(settings: Settings, size: int, repeats: int = 2) -> list[ShapeTiming]:
    chunker = Chunker(settings.chunking)
    with tempfile.TemporaryDirectory(prefix="citewise-bench-shapes-") as tmp:
        paths = write_shapes(Path(tmp), size)
        measured = {name: read_and_chunk_seconds(path, chunker, repeats) for name, path in paths.items()}
    reference = measured[PROSE][0] or 1e-9
    return [ShapeTiming(name, size, passages, round(seconds, 3), round(seconds / reference, 2))
            for name, (seconds, passages) in measured.items()]


@dataclass(frozen=True)
class IngestMemory:
    text_mb: float
    passages: int
    seconds: float
    peak_rss_mb: float  # the child `citewise ingest` process's maximum resident set size


def ingest_memory(sizes_mb: list[float]) -> dict[str, object]:
    """Peak memory of `citewise ingest` on prose of each size, and what each further MB of text costs (the slope
    between the smallest and the largest)."""
    points = [ingest_peak_rss(size) for size in sorted(sizes_mb)]
    first, last = points[0], points[-1]
    slope = (last.peak_rss_mb - first.peak_rss_mb) / (last.text_mb - first.text_mb) if len(points) > 1 else None
    return {"points": [asdict(point) for point in points],
            "mb_per_text_mb": round(slope, 1) if slope is not None else None}


def ingest_peak_rss(text_mb: float, env: dict[str, str] | None = None, block_kb: int = 0) -> IngestMemory:
    """Runs `citewise ingest` on one prose file of `text_mb` MB into a new index, as a child process, and reads its
    peak resident memory from the kernel's accounting of that child (wait4's ru_maxrss, in kB on Linux). With
    `block_kb`, the file repeats one block of prose of that size: its passages repeat too and are embedded once,
    so a large file measures what an ingest holds per MB of text apart from the vectors."""
    size = int(text_mb * 1_000_000)
    text = prose(size, seed=1) if not block_kb else _repeat(prose(block_kb * 1000, seed=1))(size)
    with tempfile.TemporaryDirectory(prefix="citewise-bench-memory-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        (corpus / "prose.txt").write_text(text, encoding="utf-8")
        started = time.perf_counter()
        child = subprocess.Popen(
            citewise_command("ingest", str(corpus), "--index", str(Path(tmp) / "index"), "--json",
                             "--first-part-bytes", "0"),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})}, text=True)
        assert child.stdout is not None
        output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if child.returncode != 0:
            raise RuntimeError(f"citewise ingest exited with {child.returncode}")
    report = json.loads(output)
    return IngestMemory(text_mb, int(report.get("passages", 0)), round(seconds, 1), round(usage.ru_maxrss / 1024, 1))
