#!/usr/bin/env bash
# Run the whole system on the embedded defaults (SQLite, a local mosquitto):
# broker, ingestor and the Morotai demo simulator. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_venv
ensure_mosquitto
exec .venv/bin/satupintu up "$@"
