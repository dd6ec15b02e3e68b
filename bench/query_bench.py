"""`citewise bench query`: retrieval latency in process, and offline answers over HTTP on loopback."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from citewise.bench.common import load_questions, machine, percentile_ms
from citewise.bench.server_process import ServerProcess
from citewise.core.errors import CitewiseError
from citewise.core.settings import Settings

MAX_CLIENTS = 32


@dataclass
class QueryBench:
    index: str
    passages: int
    requests: int
    clients: int
    retrieve_p50_ms: float | None
    retrieve_p95_ms: float | None
    answer_p50_ms: float | None = None
    answer_p95_ms: float | None = None
    requests_per_s: float | None = None
    concurrent_answer_p50_ms: float | None = None
    concurrent_answer_p95_ms: float | None = None
    concurrent_requests_per_s: float | None = None
    refused: int = 0
    errors: int = 0
    first_error: str | None = None
    machine: dict[str, object] = field(default_factory=dict)


def bench_retrieval(settings: Settings, questions: list[str], requests: int) -> tuple[list[float], int]:
    from citewise.library import Library

    retriever = Library(settings).generation().retriever
    retriever.search(questions[0], k=settings.retrieval.k)  # first call pays lazy loads
    latencies = []
    for i in range(requests):
        started = time.perf_counter()
        retriever.search(questions[i % len(questions)], k=settings.retrieval.k)
        latencies.append(time.perf_counter() - started)
    return latencies, retriever.index.passage_count()


class _Asker:
    def __init__(self, base_url: str, api_key: str | None, timeout_s: float) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s)
        self.errors = 0
        self.refused = 0
        self.first_error: str | None = None

    def ask(self, question: str) -> float | None:
        started = time.perf_counter()
        try:
            response = self.client.post("/v1/ask", json={"question": question})
        except httpx.HTTPError as exc:
            return self._failed(f"{type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            return self._failed(f"HTTP {response.status_code}: {' '.join(response.text.split())[:200]}")
        if response.json().get("refused"):
            self.refused += 1
        return elapsed

    def _failed(self, reason: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or reason

    def close(self) -> None:
        self.client.close()


def _run_clients(base_url: str, api_key: str | None, questions: list[str], requests: int, clients: int,
                 deadline_s: float) -> tuple[list[float], float, int, int, str | None]:
    """`clients` threads share `requests` questions; each stops at the deadline. Returns latencies, wall time."""
    askers = [_Asker(base_url, api_key, timeout_s=deadline_s) for _ in range(clients)]
    stop_at = time.perf_counter() + deadline_s

    def worker(slot: int) -> list[float]:
        done = []
        for i in range(slot, requests, clients):
            if time.perf_counter() > stop_at:
                break
            latency = askers[slot].ask(questions[i % len(questions)])
            if latency is not None:
                done.append(latency)
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        latencies = [x for part in pool.map(worker, range(clients)) for x in part]
    wall = time.perf_counter() - started
    errors, refused = sum(a.errors for a in askers), sum(a.refused for a in askers)
    first_error = next((a.first_error for a in askers if a.first_error), None)
    for asker in askers:
        asker.close()
    return latencies, wall, errors, refused, first_error


def bench_query(settings: Settings, clients: int = 4, requests: int = 40, http: bool = True,
                deadline_s: float = 120.0) -> QueryBench:
    if not 1 <= clients <= MAX_CLIENTS:
        raise CitewiseError(f"--clients must be between 1 and {MAX_CLIENTS}")
    if requests < 1:
        raise CitewiseError("--requests must be at least 1")
    questions = load_questions()
    retrieve, passages = bench_retrieval(settings, questions, requests)
    result = QueryBench(
        index=str(settings.index), passages=passages, requests=requests, clients=clients,
        retrieve_p50_ms=percentile_ms(retrieve, 50), retrieve_p95_ms=percentile_ms(retrieve, 95),
    )
    if http:
        with ServerProcess(Path(settings.index)) as server:
            key = settings.server.api_key
            _run_clients(server.base_url, key, questions, 1, 1, deadline_s)  # warm-up
            sequential, wall, errors, refused, first_error = _run_clients(
                server.base_url, key, questions, requests, 1, deadline_s)
            result.answer_p50_ms, result.answer_p95_ms = percentile_ms(sequential, 50), percentile_ms(sequential, 95)
            result.requests_per_s = round(len(sequential) / wall, 2) if wall and sequential else None
            concurrent, wall_c, errors_c, refused_c, first_error_c = _run_clients(
                server.base_url, key, questions, requests, clients, deadline_s)
            result.concurrent_answer_p50_ms = percentile_ms(concurrent, 50)
            result.concurrent_answer_p95_ms = percentile_ms(concurrent, 95)
            result.concurrent_requests_per_s = round(len(concurrent) / wall_c, 2) if wall_c and concurrent else None
            result.errors, result.refused = errors + errors_c, refused + refused_c
            result.first_error = first_error or first_error_c
    result.machine = machine()
    return result


def as_dict(result: QueryBench) -> dict[str, object]:
    return asdict(result)
