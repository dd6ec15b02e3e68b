#!/usr/bin/env bash
# Installs citewise with its test tools into .venv/, then runs the checks CI gates on:
# lint, the citation-faithfulness eval on the demo corpus, the harness's selftest, and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
export HF_HUB_OFFLINE=1
.venv/bin/ruff check .
index=.citewise-ci
.venv/bin/citewise ingest corpus --index "$index"
if .venv/bin/citewise eval --help 2>/dev/null | grep -q answers; then
    .venv/bin/citewise eval answers --questions evals/data/questions.jsonl --index "$index" --out artifacts/eval
    .venv/bin/citewise eval selftest --index "$index"
fi
# The test suite runs last so its summary closes the log; PYTEST_MARKERS="" also runs the slow benchmarks.
.venv/bin/pytest -m "${PYTEST_MARKERS-not slow}" -q
