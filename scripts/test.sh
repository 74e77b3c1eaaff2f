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
# --max-worker-restart=0: a test worker that crashes (a segmentation fault) ends the run at once with a failure that
# names it. Replacing the worker instead hangs the run under --dist loadgroup (pytest-xdist 3.8.0, issues 1323 and
# 1378 upstream): a CI run once waited out its 90 minutes that way. `timeout` bounds whatever else could hang.
limit="${SATUPINTU_TEST_TIMEOUT_S:-2700}"
set +e
timeout --kill-after=30 "$limit" .venv/bin/pytest -n "${SATUPINTU_TEST_WORKERS:-2}" --dist loadgroup \
  --max-worker-restart=0 "$@"
rc=$?
set -e
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "pytest did not finish within ${limit} s (SATUPINTU_TEST_TIMEOUT_S) and was stopped" >&2
fi
exit "$rc"
