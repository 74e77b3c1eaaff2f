#!/bin/bash
# Lighthouse scores of the operator window: empty database, the web process alone, signed in as an operator.
# usage: bench/lighthouse.sh SRC_DIR LABEL PORT   (SRC_DIR: a checkout of the version to measure, e.g. from git archive)
# needs: LIGHTHOUSE (default `lighthouse`; npm i lighthouse@12) and Debian's chromium. Scores on a busy machine vary
# by +-15 points between runs: run each version several times.
set -e
SRC=$1; LABEL=$2; PORT=$3
PY=${PY:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
LIGHTHOUSE=${LIGHTHOUSE:-lighthouse}
D=$(mktemp -d)
cd "$SRC"
TOKEN=$(PYTHONPATH=$SRC $PY -c "
from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from app.auth.tokens import create_token
e=make_engine('sqlite:///$D/s.db'); upgrade(e)
with e.begin() as c: print(create_token(conn=c, name='lh', role='operator'))
" 2>/dev/null | tail -1)
PYTHONPATH=$SRC SATUPINTU_DATABASE_URL=sqlite:///$D/s.db SATUPINTU_MQTT_URL=mqtt://127.0.0.1:1 \
  $PY -m satupintu web --port "$PORT" > "$D/web.log" 2>&1 &
WEB=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/health" && break; sleep 0.3; done
$LIGHTHOUSE "http://127.0.0.1:$PORT/" --quiet --chrome-path=/usr/bin/chromium \
  --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage" \
  --extra-headers="{\"Cookie\": \"satupintu_token=$TOKEN\"}" --output=json --output-path="$D/lh.json" \
  --only-categories=performance,accessibility,best-practices,seo > "$D/lh.log" 2>&1 || true
kill $WEB; wait $WEB 2>/dev/null || true
$PY -c "
import json; r = json.load(open('$D/lh.json')); a = r['audits']
print('$LABEL', {k: round(v['score'] * 100) if v['score'] is not None else None for k, v in r['categories'].items()},
      'transfer KB', round(a['total-byte-weight'].get('numericValue', 0) / 1024),
      'LCP ms', round(a['largest-contentful-paint'].get('numericValue', 0)))
"
