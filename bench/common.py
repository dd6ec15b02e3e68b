"""What every benchmark reports beside its numbers: the machine, its load, and latency percentiles."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from citewise.core.paths import demo_corpus, shared_dir

CORPUS = demo_corpus()
SHARED = shared_dir()
QUESTIONS = SHARED / "evals" / "questions.jsonl"
SCIFACT = SHARED / "benchmarks" / "scifact" / "beir"

# Used when the shared question file is absent (e.g. a checkout without /work/shared).
FALLBACK_QUESTIONS = (
    "What makes an experience mystical according to William James?",
    "What are the symptoms of post-traumatic stress disorder?",
    "How were the Eleusinian mysteries celebrated?",
    "What does MDMA do to serotonin?",
    "What is the first step of Alcoholics Anonymous?",
    "How does Freud explain the meaning of dreams?",
    "What is the golden bough?",
    "Why did De Quincey take opium?",
)


def machine() -> dict[str, object]:
    """nproc, CPU model, RAM and the load average when the figure was taken (the CPU is shared)."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1048576, 1)
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "ram_gb": ram_gb,
        "loadavg": [round(x, 2) for x in load], "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def percentile_ms(seconds: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(seconds) * 1000.0, q)), 2) if seconds else None


def load_questions(limit: int | None = None) -> list[str]:
    import json

    questions: list[str] = []
    if QUESTIONS.exists():
        for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line)["question"])
    questions = questions or list(FALLBACK_QUESTIONS)
    return questions[:limit] if limit else questions


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (0 where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
