# Shared set-up steps for scripts/run.sh and scripts/test.sh (sourced, not run).
# Each step checks first and installs or starts only what is missing.

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root for: $* (run as root or install sudo)"; fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* with your system's package manager"
  say "installing $* (apt-get)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
    || { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; } \
    || die "apt-get could not install $*"
}

# A virtual environment in .venv with the project installed (editable) and its dev tools.
ensure_venv() {
  local py=${PYTHON:-python3}
  command -v "$py" >/dev/null 2>&1 || die "python3 (3.11+) is required"
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python 3.11 or newer is required"
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$py" -m venv .venv || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  local stamp=.venv/.satupintu-installed want
  want=$(cat pyproject.toml | sha1sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing SatuPintu and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e ".[dev]" || die "pip install failed"
    echo "$want" > "$stamp"
  fi
}

ensure_mosquitto() {
  if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then return; fi
  apt_install mosquitto
  # Debian's package starts a system broker on 1883; the project runs its own where it needs control.
}

# A compose client for tests/deploy/test_compose.py (`docker-compose config` validates
# docker-compose.yml; no Docker engine is needed for that).
ensure_compose_client() {
  if command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1; then return; fi
  apt_install docker-compose
}

# The integrator examples (tests/examples/): mosquitto_pub/mosquitto_rr, and Node with MQTT.js from the
# committed package-lock.json (npm ci; node_modules is not committed).
ensure_node_examples() {
  command -v mosquitto_rr >/dev/null 2>&1 || apt_install mosquitto-clients
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  local lock=examples/node/package-lock.json stamp=examples/node/node_modules/.satupintu-installed want
  want=$(sha1sum "$lock" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing the Node example's dependencies (npm ci)"
    (cd examples/node && npm ci --no-audit --no-fund >/dev/null) || die "npm ci failed in examples/node"
    echo "$want" > "$stamp"
  fi
}

ensure_chromium() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then return; fi
  apt_install chromium chromium-driver
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

# PostgreSQL for the tests: the one at SATUPINTU_TEST_PG_URL (default: trust auth on
# 127.0.0.1:5432) if it answers; else the machine's cluster started; else a private
# cluster under .pgtest/ on port 54329 (installing PostgreSQL when missing).
ensure_postgres() {
  local url=${SATUPINTU_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
  pg_answers() { .venv/bin/python - "$1" <<'PY' >/dev/null 2>&1
import sys, sqlalchemy as sa
sa.create_engine(sys.argv[1], connect_args={"connect_timeout": 3}).connect().close()
PY
  }
  if pg_answers "$url"; then export SATUPINTU_TEST_PG_URL=$url; return; fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && [ -z "${SATUPINTU_TEST_PG_URL:-}" ]; then
    say "starting the machine's PostgreSQL cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start >/dev/null 2>&1 || true
    for _ in $(seq 20); do pg_answers "$url" && { export SATUPINTU_TEST_PG_URL=$url; return; }; sleep 0.5; done
  fi
  [ -n "$(pg_bin)" ] || apt_install postgresql
  local bin dir=$PWD/.pgtest port=54329 runas=()
  bin=$(pg_bin); [ -n "$bin" ] || die "PostgreSQL binaries not found after install"
  if [ "$(id -u)" = 0 ]; then runas=(runuser -u postgres --); fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in .pgtest/ (trust auth, port $port)"
    mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
    "${runas[@]}" "$bin/initdb" -D "$dir" -U postgres -A trust >/dev/null || die "initdb failed"
  fi
  url=postgresql+psycopg://postgres@127.0.0.1:$port/postgres
  if ! pg_answers "$url"; then
    "${runas[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -o "-p $port -k /tmp -c listen_addresses=127.0.0.1" start >/dev/null \
      || die "PostgreSQL did not start: see .pgtest/server.log"
  fi
  pg_answers "$url" || die "PostgreSQL does not answer at $url"
  export SATUPINTU_TEST_PG_URL=$url
}
