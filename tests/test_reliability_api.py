"""The live service under generated and concurrent traffic (issue 15): a bounded schemathesis run finds no 5xx and
no response outside the OpenAPI schema, and 50 concurrent clients (`citewise bench load`) get no error. All traffic
stays on loopback, bounded in requests and time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citewise.bench.load_bench import is_loopback, run_load
from citewise.bench.server_process import ServerProcess
from citewise.core.errors import CitewiseError
from citewise.core.settings import Settings

BIN = Path(sys.executable).parent
API_KEY = "schema-key-0123456789"


@pytest.mark.integration
def test_schemathesis_finds_no_server_error_and_no_response_outside_the_schema(
        slice_settings: Settings, tmp_path: Path) -> None:
    with ServerProcess(slice_settings.index, env={"CITEWISE_SERVER__API_KEY": API_KEY}, inherit_settings=False,
                       log_dir=tmp_path) as server:
        result = subprocess.run(
            [str(BIN / "schemathesis"), "run", f"{server.base_url}/openapi.json",
             "--header", f"Authorization: Bearer {API_KEY}",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                         "response_schema_conformance",
             # A few hundred cases: up to 25 per operation in each phase, and never more than 2.5 minutes.
             "--max-examples", "25", "--max-time", "150", "--seed", "15", "--phases", "examples,coverage,fuzzing",
             "--request-timeout", "60", "--workers", "1", "--no-color"],
            capture_output=True, text=True, timeout=420, cwd=tmp_path,
            env={k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")})
        log = server.log()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout and "Traceback" not in log, log[-3000:]


@pytest.mark.integration
def test_fifty_concurrent_clients_get_no_error(slice_settings: Settings) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITEWISE_")}
    result = subprocess.run(
        [str(BIN / "citewise"), "bench", "load", "--index", str(slice_settings.index), "--clients", "50",
         "--requests", "300", "--seconds", "180", "--json"],
        capture_output=True, text=True, timeout=420, env=clean)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["errors"] == 0, {kind: figures["first_error"] for kind, figures in report["by_kind"].items()}
    assert report["requests"] == 300 and report["clients"] == 50
    assert report["p50_ms"] is not None and report["p95_ms"] >= report["p50_ms"]
    assert all(figures["requests"] > 0 for figures in report["by_kind"].values())


@pytest.mark.unit
@pytest.mark.parametrize("url", ["http://10.0.0.5:8000", "http://example.org", "http://192.168.1.2:8000",
                                 "http://localhost.example.org:8000"])
def test_bench_load_sends_traffic_to_loopback_only(url: str) -> None:
    assert not is_loopback(url)
    with pytest.raises(CitewiseError, match="loopback"):
        run_load(url, clients=1, requests=1, seconds=1)


@pytest.mark.unit
@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:8000",
                                 "http://127.0.0.2"])
def test_loopback_addresses_are_recognised(url: str) -> None:
    assert is_loopback(url)
