#!/usr/bin/env bash
# Run the whole system on the embedded defaults (SQLite, a local mosquitto):
# `satupintu up` starts the broker (or uses one already listening), the ingestor,
# the web process (dashboard and API) and the Morotai demo simulator (--no-demo:
# without it), prints the URL and, on the first run, a sign-in link. --secure: broker
# with login and ACL. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_venv
ensure_mosquitto
exec .venv/bin/satupintu up "$@"
