"""`citewise bench load`: many concurrent clients against the service on loopback, bounded in requests and time.

Each client is a thread with its own HTTP connection that sends, in turn, an offline answer (/v1/ask), a search
(/v1/search), a streamed OpenAI-style completion (/v1/chat/completions, read to its end) and a source listing
(/v1/sources), until the shared request budget or the time limit runs out. Any status but 200, or a transport
error, is an error; the first of each kind is kept to show. Traffic never leaves this machine: the service is
started on 127.0.0.1, or given with --url, which must be a loopback address.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from citewise.bench.common import load_questions, machine, percentile_ms
from citewise.bench.server_process import ServerProcess
from citewise.core.errors import CitewiseError
from citewise.core.settings import Settings

MAX_CLIENTS = 200
MAX_REQUESTS = 20_000
MAX_SECONDS = 600.0
KINDS = ("ask", "search", "chat_stream", "sources")


@dataclass
class KindFigures:
    requests: int = 0
    errors: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    first_error: str | None = None


@dataclass
class LoadBench:
    url: str
    clients: int
    requests_budget: int
    seconds_limit: float
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    requests_per_s: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    refused: int = 0
    by_kind: dict[str, KindFigures] = field(default_factory=dict)
    server_rss_mb: float | None = None
    machine: dict[str, object] = field(default_factory=dict)


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Recorder:
    """Latencies and errors per kind of request, shared by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.errors: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.first_error: dict[str, str] = {}
        self.refused = 0

    def record(self, kind: str, seconds: float, error: str | None, refused: bool = False) -> None:
        with self.lock:
            if error is None:
                self.latencies[kind].append(seconds)
                self.refused += refused
            else:
                self.errors[kind] += 1
                self.first_error.setdefault(kind, error)


def _requests(client: httpx.Client, question: str) -> dict[str, Callable[[], tuple[httpx.Response, bool]]]:
    def ask() -> tuple[httpx.Response, bool]:
        response = client.post("/v1/ask", json={"question": question})
        return response, response.status_code == 200 and bool(response.json().get("refused"))

    def search() -> tuple[httpx.Response, bool]:
        return client.get("/v1/search", params={"q": question, "k": 8}), False

    def chat_stream() -> tuple[httpx.Response, bool]:
        body = {"stream": True, "messages": [{"role": "user", "content": question}]}
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            text = response.read().decode("utf-8", errors="replace")
        if response.status_code == 200 and not text.rstrip().endswith("data: [DONE]"):
            raise httpx.ReadError("the stream ended before [DONE]")
        return response, False

    def sources() -> tuple[httpx.Response, bool]:
        return client.get("/v1/sources"), False

    return {"ask": ask, "search": search, "chat_stream": chat_stream, "sources": sources}


def _client_loop(base_url: str, headers: dict[str, str], questions: list[str], budget: itertools.count,
                 limit: int, stop_at: float, recorder: _Recorder, slot: int) -> None:
    with httpx.Client(base_url=base_url, headers=headers, timeout=max(1.0, stop_at - time.perf_counter())) as client:
        while time.perf_counter() < stop_at:
            n = next(budget)
            if n >= limit:
                return
            kind = KINDS[(n + slot) % len(KINDS)]
            question = questions[n % len(questions)]
            started = time.perf_counter()
            try:
                response, refused = _requests(client, question)[kind]()
            except httpx.HTTPError as exc:
                recorder.record(kind, 0.0, f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                recorder.record(kind, elapsed, f"HTTP {response.status_code}: {' '.join(response.text.split())[:200]}")
            else:
                recorder.record(kind, elapsed, None, refused)


def run_load(base_url: str, clients: int, requests: int, seconds: float, api_key: str | None = None) -> LoadBench:
    """`clients` threads share `requests` requests against base_url and stop after `seconds` at the latest."""
    if not is_loopback(base_url):
        raise CitewiseError(f"{base_url}: bench load only sends traffic to a loopback address (127.0.0.1, ::1)")
    if not 1 <= clients <= MAX_CLIENTS:
        raise CitewiseError(f"--clients must be between 1 and {MAX_CLIENTS}")
    if not 1 <= requests <= MAX_REQUESTS or not 0 < seconds <= MAX_SECONDS:
        raise CitewiseError(f"--requests must be 1..{MAX_REQUESTS} and --seconds 1..{MAX_SECONDS:.0f}")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    questions = load_questions()
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as warm:  # the first answer pays lazy loads
        warm.post("/v1/ask", json={"question": questions[0]})
    recorder = _Recorder()
    budget = itertools.count()
    started = time.perf_counter()
    stop_at = started + seconds
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(_client_loop, base_url, headers, questions, budget, requests, stop_at, recorder, slot)
                   for slot in range(clients)]
        for future in futures:
            future.result()
    wall = time.perf_counter() - started
    result = LoadBench(url=base_url, clients=clients, requests_budget=requests, seconds_limit=seconds,
                       seconds=round(wall, 1), refused=recorder.refused)
    everything: list[float] = []
    for kind in KINDS:
        latencies = recorder.latencies[kind]
        everything += latencies
        result.by_kind[kind] = KindFigures(
            requests=len(latencies) + recorder.errors[kind], errors=recorder.errors[kind],
            p50_ms=percentile_ms(latencies, 50), p95_ms=percentile_ms(latencies, 95),
            max_ms=percentile_ms(latencies, 100), first_error=recorder.first_error.get(kind))
    result.requests = sum(figures.requests for figures in result.by_kind.values())
    result.errors = sum(recorder.errors.values())
    result.requests_per_s = round(result.requests / wall, 1) if wall else None
    result.p50_ms, result.p95_ms = percentile_ms(everything, 50), percentile_ms(everything, 95)
    result.machine = machine()
    return result


def bench_load(settings: Settings, clients: int, requests: int, seconds: float, url: str | None = None) -> LoadBench:
    """Against `url`, or against `citewise serve` started here on settings.index."""
    if url is not None:
        return run_load(url.rstrip("/"), clients, requests, seconds, settings.server.api_key)
    with ServerProcess(Path(settings.index)) as server:
        result = run_load(server.base_url, clients, requests, seconds, settings.server.api_key)
        result.server_rss_mb = _rss_mb(server.process.pid) if server.process else None
    return result


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def as_dict(result: LoadBench) -> dict[str, object]:
    return asdict(result)
