#!/usr/bin/env bash
# A bare clone passes its tests: clone the committed repository into a temporary folder with nothing
# beside it (no ../shared) and collect every test there, with the project's .venv but the clone's code.
# Collection fails when a test module reads a file outside the repository at import time; the tests
# that read the kept vectors are run too.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
py=$PWD/.venv/bin/python
[ -x "$py" ] || die "no .venv: run scripts/test.sh (or .ci/run) first"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
clone=$tmp/satupintu
say "bare clone: $(git rev-parse --short HEAD) into $clone"
git clone -q --no-hardlinks "$PWD" "$clone"
[ ! -e "$tmp/shared" ] || die "$tmp/shared exists: not a bare clone"
cd "$clone"
# The .venv's editable install points at the original checkout; the clone must come first on the path.
export PYTHONPATH=$clone PYTHONDONTWRITEBYTECODE=1
"$py" - "$clone" <<'PY' || die "imports do not resolve to the clone"
import sys, importlib
clone = sys.argv[1]
for name in ("app", "ingest", "dashboards", "satupintu", "tests"):
    where = importlib.import_module(name).__file__
    assert where.startswith(clone + "/"), f"{name} imported from {where}"
PY
out=$("$py" -m pytest --collect-only -q -p no:cacheprovider 2>&1) || { printf '%s\n' "$out" | tail -40 >&2; die "a bare clone does not collect its tests"; }
summary=$(printf '%s\n' "$out" | tail -1)
case "$summary" in
  *skipped*|*error*) printf '%s\n' "$out" | tail -40 >&2; die "a bare clone collects with skips or errors: $summary" ;;
esac
say "bare clone collects: $summary"
# Collection catches reads at import time; the tests of the kept vectors (named *vector*) also run here.
mapfile -t readers < <(grep -rl --include='test_*.py' 'vectors' tests || true)
if [ "${#readers[@]}" -gt 0 ]; then
  "$py" -m pytest -q -p no:cacheprovider -k "vector" "${readers[@]}" >"$tmp/readers.log" 2>&1 \
    || { tail -40 "$tmp/readers.log" >&2; die "in a bare clone these tests fail: ${readers[*]}"; }
  say "bare clone runs the tests that read tests/vectors: $(tail -1 "$tmp/readers.log")"
fi
