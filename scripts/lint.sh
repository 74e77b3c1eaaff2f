#!/usr/bin/env bash
# The static checks CI runs before the tests (scripts/test.sh calls this): lint, layout, types, imports.
# Each one runs even when an earlier one fails, so one CI run lists every kind of error; the script fails
# if any did. To fix layout and the mechanical lint errors: scripts/format.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
failed=()
step() {
  printf '\033[1;34m==>\033[0m %s\n' "$*" >&2
  "$@" || failed+=("$1")
}
step "$bin/ruff" check --output-format concise .
step "$bin/ruff" format --check --output-format concise .  # one line a file; scripts/format.sh fixes them
step "$bin/mypy"
step "$bin/lint-imports"
if [ ${#failed[@]} -gt 0 ]; then
  printf '\033[1;31mxx\033[0m failed: %s\n' "${failed[*]##*/}" >&2
  exit 1
fi
