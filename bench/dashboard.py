"""Single-window benchmark in headless Chromium: first paint, live update latency, heap over time, cost per browser.

    .venv/bin/python bench/dashboard.py [--rate 20] [--extra-sources 1500] [--loads 5] [--samples 30]
                                        [--heap-first 5] [--heap-minutes 60] [--browsers 20] [--db-url URL]

Starts a private Mosquitto, the ingestor, the web process (API + dashboard)
and the demo simulator at --rate messages/s (the simulator's default, 20)
with --extra-sources synthetic sources (default 1,500: a map of ~2,000
markers), then, with Chromium at 1920x1080:

1. first paint: --loads fresh browsers open the operator window; per load the
   first contentful paint and the time until every panel holds data
   (navigation start -> KPIs, map, alarms, feed, services and trends filled);
2. live update: --samples times, a ticket is published and the time from the
   publish to its line appearing in the feed is taken in the page (a
   MutationObserver stamps it); the same for a reading reaching the map (its
   value in a marker's hover text); p50, p95 and max;
3. cost per browser: API requests/s, SQL statements/s (the web process's
   satupintu_db_statements_total: what the watchers cost the database) and the
   web process's CPU over 60 s with one browser open, then with --browsers
   open (0 or 1: skipped);
4. heap: the page's JS heap (after a forced garbage collection) at
   --heap-first minutes and at --heap-minutes of live updates, and their
   ratio (the target: within 20% after an hour); --heap-first 0 or
   --heap-minutes 0 skips it.

Prints numbers only; nothing is asserted. The machine has two cores: the
browsers, the simulator, the ingestor and the server share them.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson
import psutil
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.auth.tokens import create_token
from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from satupintu.broker import free_port, start_broker

FILLED = """
    var q = function (s) { return document.querySelector(s); };
    var map = q('#op-map .js-plotly-plot'), trends = q('#trends .js-plotly-plot');
    return document.querySelectorAll('#kpi-tiles .kpi').length === 7 && map && map.data && map.data.length > 2
        && document.querySelectorAll('#alarm-list > div').length > 0 && document.querySelectorAll('#feed li').length > 0
        && document.querySelectorAll('#services tbody tr').length > 0 && trends && trends.data && trends.data.length > 0;
"""
# Stamps, in the page, when every panel first holds data (relative to navigation start).
WATCH_FILLED = (
    "(function w(){ try { if ((function(){" + FILLED + "})()) { window.__filled = performance.now(); return; } }"
    " catch (e) {} setTimeout(w, 20); })();"
)
# --timeline: when each step of the first load happened (ms since navigation start), to see where the time goes.
WATCH_STEPS = """
(function () {
  var steps = window.__steps = {}, plots = window.__plots = [];
  function stamp(k) { if (!(k in steps)) steps[k] = Math.round(performance.now()); }
  var checks = {
    header: function () { return document.querySelector('#header .brand'); },
    kpis: function () { return document.querySelectorAll('#kpi-tiles .kpi').length === 7; },
    feed: function () { return document.querySelectorAll('#feed li').length > 0; },
    map_div: function () { return document.querySelector('#op-map .js-plotly-plot'); },
    map_drawn: function () { var m = document.querySelector('#op-map .js-plotly-plot'); return m && m.data && m.data.length > 2; },
    trends_drawn: function () { var m = document.querySelector('#trends .js-plotly-plot'); return m && m.data && m.data.length > 0; },
    plotly_loaded: function () { return window.Plotly && window.Plotly.react; }
  };
  (function poll() {
    for (var k in checks) { try { if (!(k in steps) && checks[k]()) stamp(k); } catch (e) {} }
    var P = window.Plotly;
    if (P && P.react && !P.__wrapped) {
      P.__wrapped = true;
      ['newPlot', 'react', 'relayout', 'restyle', 'Plots.resize'].forEach(function (name) {
        var obj = name === 'Plots.resize' ? P.Plots : P, fn = name === 'Plots.resize' ? 'resize' : name, orig = obj[fn];
        obj[fn] = function (gd) {
          var t0 = performance.now(), r = orig.apply(this, arguments), id = (gd && gd.id) || (gd && gd.parentNode && gd.parentNode.id) || '?';
          Promise.resolve(r).then(function () { plots.push([name, id, Math.round(t0), Math.round(performance.now() - t0)]); });
          return r;
        };
      });
    }
    if (!('map_drawn' in steps && 'trends_drawn' in steps && 'kpis' in steps) || performance.now() < 8000) setTimeout(poll, 5);
  })();
})();
"""
RESOURCES = """
return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).map(function (e) {
  return [e.name.replace(location.origin, ''), Math.round(e.startTime), Math.round(e.responseEnd), e.transferSize || 0];
});
"""
# Stamps the wall-clock time each watched text first appears in the feed / the map.
WATCH_LIVE = """
window.__seen = window.__seen || {}; window.__want = window.__want || [];
if (!window.__obs) {
  window.__obs = new MutationObserver(function () {
    var feed = document.getElementById('feed'); var ft = feed ? feed.textContent : '';
    window.__want.forEach(function (w) { if (!window.__seen[w] && w.indexOf('bench-t') === 0 && ft.indexOf(w) >= 0) window.__seen[w] = Date.now(); });
  });
  window.__obs.observe(document.body, {childList: true, subtree: true, characterData: true});
  setInterval(function () {
    var m = document.querySelector('#op-map .js-plotly-plot'); if (!m || !m.data) return;
    window.__want.forEach(function (w) {
      if (window.__seen[w] || w.indexOf('bench-t') === 0) return;
      for (var i = 0; i < m.data.length; i++) { var h = m.data[i].hovertext || [];
        for (var j = 0; j < h.length; j++) { if (String(h[j]).indexOf(w) >= 0) { window.__seen[w] = Date.now(); return; } } }
    });
  }, 25);
}
"""


def spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "satupintu", *args], env=env, cwd=REPO, stdout=open(log, "ab"), stderr=subprocess.STDOUT
    )


def driver(wait_load: bool = True) -> webdriver.Chrome:
    o = webdriver.ChromeOptions()
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1920,1080",
        "--enable-precise-memory-info",
        "--js-flags=--expose-gc",
    ):
        o.add_argument(a)
    if not wait_load:
        o.page_load_strategy = "none"  # get() returns at once; the caller waits for the window to fill
    o.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def wait(cond, timeout: float, what: str) -> object:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise SystemExit(f"timed out: {what}")


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]


def heap_mb(d: webdriver.Chrome) -> float:
    d.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
    return d.execute_script("return performance.memory.usedJSHeapSize") / 1e6


SCRAPE_HEADERS: dict[str, str] = {}  # /metrics takes an API token, as Prometheus sends it


def api_requests(base: str) -> tuple[float, float]:
    """(API requests, SQL statements) the web process served and sent so far."""
    text = httpx.get(base + "/metrics", headers=SCRAPE_HEADERS, timeout=60).text
    total = 0.0
    for m in re.finditer(r'^http_requests_total\{handler="(/api/v1/[^"]*)"[^}]*\} ([0-9.e+]+)$', text, re.M):
        if "/live" not in m.group(1):
            total += float(m.group(2))
    sql = re.search(r"^satupintu_db_statements_total ([0-9.e+]+)$", text, re.M)
    return total, float(sql.group(1)) if sql else float("nan")


def cost(base: str, web: psutil.Process, seconds: float) -> tuple[float, float, float]:
    """API requests/s, SQL statements/s and the web process's CPU (% of one core) over `seconds`."""
    (r0, q0), c0 = api_requests(base), sum(web.cpu_times()[:2])
    time.sleep(seconds)
    (r1, q1), c1 = api_requests(base), sum(web.cpu_times()[:2])
    return (r1 - r0) / seconds, (q1 - q0) / seconds, (c1 - c0) / seconds * 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=20.0, help="simulator messages/s (its default: 20)")
    ap.add_argument("--extra-sources", type=int, default=1500)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--browsers", type=int, default=20)
    ap.add_argument(
        "--heap-first", type=float, default=5.0, help="minutes: the first heap sample (0: skip the heap part)"
    )
    ap.add_argument(
        "--heap-minutes", type=float, default=60.0, help="minutes: the last heap sample (0: skip the heap part)"
    )
    ap.add_argument("--db-url", default=None, help="default: a fresh SQLite file")
    ap.add_argument("--timeline", action="store_true", help="print where the time of each first load goes")
    args = ap.parse_args()
    # Stopped with a signal: still end the browsers, the pipeline and the broker (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    tmp = Path(tempfile.mkdtemp(prefix="sp-dashbench-"))
    db_url = args.db_url or f"sqlite:///{tmp / 'satupintu.db'}"
    eng = make_engine(db_url)
    upgrade(eng)
    with eng.begin() as conn:
        token = create_token(conn=conn, name="bench wall", role="viewer")
    SCRAPE_HEADERS["Authorization"] = f"Bearer {token}"
    eng.dispose()
    port, wport = free_port(), free_port()
    procs: list[subprocess.Popen] = [start_broker(port=port, data_dir=tmp / "mosquitto")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATUPINTU_")}
    env.update(SATUPINTU_DATABASE_URL=db_url, SATUPINTU_MQTT_URL=f"mqtt://127.0.0.1:{port}", PYTHONUNBUFFERED="1")
    procs.append(spawn(["ingest"], tmp / "ingest.log", env))
    web = spawn(["web", "--port", str(wport)], tmp / "web.log", env)
    procs.append(web)
    base = f"http://127.0.0.1:{wport}"
    drivers: list[webdriver.Chrome] = []
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:6]}")
    try:
        wait(lambda: _up(base), 90, "the web process")
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        procs.append(
            spawn(
                ["simulate", "--rate", str(args.rate), "--extra-sources", str(args.extra_sources)], tmp / "sim.log", env
            )
        )
        print(f"simulator at {args.rate:g} msg/s with {args.extra_sources} extra sources; warming up 30 s", flush=True)
        time.sleep(30)

        # 1. First paint.
        fcp, full = [], []
        for _ in range(args.loads):
            d = driver()
            try:
                d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_FILLED})
                if args.timeline:
                    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_STEPS})
                d.get(f"{base}/?token={token}")
                wait(lambda d=d: d.execute_script("return window.__filled"), 60, "every panel filled")
                full.append(d.execute_script("return window.__filled") / 1000)
                fcp.append(
                    d.execute_script(
                        "var e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null"
                    )
                    / 1000
                )
                if args.timeline:
                    time.sleep(0.5)
                    _timeline(d)
            finally:
                d.quit()
        print(
            f"first paint over {args.loads} loads (fresh browser, 1920x1080): first contentful paint "
            f"median {statistics.median(fcp):.2f} s; every panel with data median {statistics.median(full):.2f} s, "
            f"max {max(full):.2f} s",
            flush=True,
        )

        # 2. Live update latency.
        d = driver()
        drivers.append(d)
        d.get(f"{base}/?token={token}")
        wait(lambda: d.execute_script(FILLED), 60, "every panel filled")
        d.execute_script(WATCH_LIVE)
        lat_t, lat_r = [], []
        missed = 0
        for i in range(args.samples):
            tid, value = f"bench-t{i}-{uuid.uuid4().hex[:4]}", 1000 + i + 0.5
            shown = f"{1000 + i:,}".replace(",", ".") + ",5"  # the map's Indonesian number format
            d.execute_script("window.__want.push(arguments[0], arguments[1]);", tid, shown)
            t0 = time.time()
            pub.publish(
                "city/morotai/service/layanan-112",
                orjson.dumps({"ticket_id": tid, "service": "ambulans", "status": "open", "title": "bench", "ts": t0}),
                qos=1,
            )
            pub.publish(
                "city/morotai/sensor/awlr-bench",
                orjson.dumps(
                    {"ts": t0, "values": {"water_level_cm": value}, "district": "pulau-rao", "lat": 2.66, "lon": 128.08}
                ),
                qos=1,
            )
            # One source alone in the map's north-west corner (at sea): no cluster hides its hover text.
            end = time.monotonic() + 10
            seen = [None, None]
            while time.monotonic() < end and None in seen:
                seen = d.execute_script(
                    "var s = window.__seen; return [s[arguments[0]] || null, s[arguments[1]] || null]", tid, shown
                )
                time.sleep(0.05)
            missed += sum(1 for x in seen if x is None)
            if seen[0]:
                lat_t.append(seen[0] / 1000 - t0)
            if seen[1]:
                lat_r.append(seen[1] / 1000 - t0)
            time.sleep(1.0)
        for name, xs in (("ticket -> feed", lat_t), ("reading -> map", lat_r)):
            if xs:
                print(
                    f"live update, publish -> on screen ({name}, {len(xs)} samples): p50 {pct(xs, 50):.2f} s, "
                    f"p95 {pct(xs, 95):.2f} s, max {max(xs):.2f} s",
                    flush=True,
                )
        print(f"updates not on screen within 10 s: {missed}", flush=True)

        # 3. Cost per browser.
        wproc = psutil.Process(web.pid)
        if args.browsers > 1:
            one = cost(base, wproc, 60)
            for _ in range(args.browsers - 1):
                extra = driver(wait_load=False)  # opened together; two cores load them all
                drivers.append(extra)
                extra.get(f"{base}/?token={token}")
            # Two cores for them all: each window gets time to fill; one that does not is counted, not fatal.
            filled, deadline = 1, time.monotonic() + 300
            for extra in drivers[1:]:
                extra.set_script_timeout(120)
                while time.monotonic() < deadline:
                    try:
                        if extra.execute_script(FILLED):
                            filled += 1
                            break
                    except WebDriverException:
                        pass  # too busy to answer: ask again
                    time.sleep(1)
            many = cost(base, wproc, 60)
            print(
                f"behind the windows, per second: 1 browser {one[0]:.1f} API requests, {one[1]:.1f} SQL statements "
                f"(web CPU {one[2]:.0f}%); {args.browsers} browsers ({filled} of them filled within 300 s) "
                f"{many[0]:.1f} API requests, {many[1]:.1f} SQL statements (web CPU {many[2]:.0f}%)",
                flush=True,
            )
            for extra in drivers[1:]:
                extra.quit()
            del drivers[1:]

        # 4. Heap.
        if args.heap_minutes > 0 and args.heap_first > 0:
            opened = time.monotonic()
            time.sleep(max(0.0, args.heap_first * 60 - (time.monotonic() - opened)))
            first = heap_mb(d)
            print(f"JS heap after {args.heap_first:g} min of live updates: {first:.1f} MB", flush=True)
            time.sleep(max(0.0, (args.heap_minutes - args.heap_first) * 60))
            last = heap_mb(d)
            print(
                f"JS heap after {args.heap_minutes:g} min: {last:.1f} MB ({(last / first - 1) * 100:+.1f}% vs "
                f"{args.heap_first:g} min); notices seen {d.execute_script('return window.spLastTick && window.spLastTick.seq')}",
                flush=True,
            )
    finally:
        for d in drivers:
            d.quit()
        pub.loop_stop()
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()


def _timeline(d: webdriver.Chrome) -> None:
    """One load's requests (start -> end, ms since navigation), its milestones and plotly's draws."""
    print("  requests (start -> end ms, bytes):", flush=True)
    for name, start, end, size in d.execute_script(RESOURCES):
        print(f"    {start:5d} -> {end:5d}  {size:8d}  {name[:90]}")
    steps = d.execute_script("return window.__steps") or {}
    print("  milestones (ms): " + ", ".join(f"{k} {v}" for k, v in sorted(steps.items(), key=lambda kv: kv[1])))
    plots = d.execute_script("return window.__plots") or []
    print("  plotly calls (name, graph, at ms, took ms): " + "; ".join(f"{n} {g} @{a} {t}" for n, g, a, t in plots))
    print(f"  filled at {d.execute_script('return Math.round(window.__filled)')} ms", flush=True)


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/api/health", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


if __name__ == "__main__":
    main()
