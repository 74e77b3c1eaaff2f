#!/usr/bin/env bash
# Everything the tests need, on a fresh machine: .venv, mosquitto, a compose client, PostgreSQL
# (and Chromium for the browser tests). Then the architecture contracts and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_venv
ensure_mosquitto
ensure_compose_client
ensure_postgres
ensure_chromium
say "PostgreSQL for tests: $SATUPINTU_TEST_PG_URL"
say "import contracts"
.venv/bin/lint-imports
say "pytest"
exec .venv/bin/pytest -n "${SATUPINTU_TEST_WORKERS:-2}" --dist loadgroup "$@"
