#!/usr/bin/env bash
# Everything the tests need, on a fresh machine: .venv, mosquitto, a compose client, PostgreSQL
# (and Chromium for the browser tests). Then the static checks (scripts/lint.sh) and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_venv
ensure_mosquitto
ensure_compose_client
ensure_postgres
ensure_chromium
ensure_node_examples
say "PostgreSQL for tests: $SATUPINTU_TEST_PG_URL"
say "lint, format, types and import contracts"
bash scripts/lint.sh
say "pytest"
exec .venv/bin/pytest -n "${SATUPINTU_TEST_WORKERS:-2}" --dist loadgroup "$@"
