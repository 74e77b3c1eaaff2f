#!/usr/bin/env bash
# The tree-wide formatting step, run once (after a merge), then reviewed and committed:
#   1. drop the `# fmt: skip` markers: they guarded hand layout that no formatter read, so `ruff format`
#      owns the layout from now on (none guards an aligned table: all trail a packed literal, call or
#      signature, which the formatter lays out as well);
#   2. `ruff format` first, so that a `noqa` is judged on the line where it ends up;
#   3. `ruff check --fix`: sorted imports, unused `noqa` markers (RUF100), pyupgrade rewrites, and the
#      few "unsafe" fixes listed in SAME that keep behaviour exactly (zip(strict=False) is what zip() did,
#      contextlib.suppress is try/except/pass, [*a, b] is a + [b], an unused name gets a leading _);
#      then format again, until it settles;
#   4. `ruff check` once more: what it lists needs a hand (the script fails while anything does).
# Only files git tracks are touched. `scripts/lint.sh` checks the result.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff=${RUFF:-.venv/bin/ruff}
[ -x "$ruff" ] || ruff=ruff
SAME=B905,SIM105,RUF005,B007,RUF059

git ls-files -z -- '*.py' | xargs -0 sed -i -E 's/[[:space:]]+# fmt: skip$//'
if git grep -n -- '# fmt: skip' -- '*.py'; then echo "fmt: skip markers left (above)" >&2; exit 1; fi

"$ruff" format --quiet .
for _ in 1 2 3; do
  "$ruff" check --fix --unsafe-fixes --select "$SAME" --exit-zero --quiet .
  "$ruff" check --fix --exit-zero --quiet .
  "$ruff" format --quiet . | grep -q . || true
  "$ruff" check --quiet --select RUF100,I001 . >/dev/null && "$ruff" format --check --quiet . && break
done
"$ruff" format --check --output-format concise .
"$ruff" check --output-format concise .
