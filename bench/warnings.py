"""Regional warnings benchmark: from a BMKG document appearing on the (local) server to its alarm on screen.

    .venv/bin/python bench/warnings.py [--samples 20] [--poll 5]

Starts a private Mosquitto, the ingestor, the web process and `satupintu feeds`
(SATUPINTU_FEED_POLL_S=--poll) pointed at a local HTTP server standing in for
BMKG's autogempa.json, and opens the operator window in headless Chromium.
Then, --samples times, a new M6.1 earthquake 40 km off Morotai ("berpotensi
tsunami", its region named uniquely) is put on the server at a random moment,
and the page stamps (a MutationObserver on the alarm list) when its alarm
appears. The latency is server-time-of-document -> alarm on screen, so it
includes the wait for the next poll (uniform over the poll interval): the
poll interval bounds it from above, plus the pipeline (convert, publish,
commit, notice, dashboard re-read, render), which is printed on its own too
(from the server sending the document to the feeds process). Prints p50, p95
and max; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import spawn_satupintu, wait_for_log
from tests.dashboards.conftest import exact_viewport, new_driver, start_stack, stop_stack
from tests.docserver import DocServer

QUAKE = """{"Infogempa": {"gempa": {"DateTime": "%s", "Coordinates": "2.45,129.06", "Magnitude": "6.1",
 "Kedalaman": "10 km", "Wilayah": "%s", "Potensi": "Gempa ini berpotensi tsunami", "Dirasakan": "IV Daruba"}}}"""
OBSERVE = """
window.__seen = {};
var list = document.getElementById('alarm-list');
new MutationObserver(function () {
  var m = list.innerText.match(/uji(\\d+)x/g) || [];
  m.forEach(function (k) { if (!(k in window.__seen)) { window.__seen[k] = Date.now(); } });
}).observe(list, {childList: true, subtree: true, characterData: true});
return true;
"""


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--poll", type=float, default=5.0)
    args = ap.parse_args()
    server = DocServer()
    path = "/autogempa.json"
    server.docs[path] = b'{"Infogempa": {"gempa": []}}'
    url = server.base + path
    tmp = Path(tempfile.mkdtemp(prefix="sp-bench-warnings-"))
    stack = start_stack(tmp)
    env = {"database_url": stack.db_url, "mqtt_url": f"mqtt://127.0.0.1:{stack.pub.client.port}"}
    feeds = spawn_satupintu(
        ["feeds"],
        tmp / "feeds.log",
        **env,
        bmkg_quake_urls=f'["{url}"]',
        bmkg_nowcast_url="",
        feed_poll_s=str(args.poll),
    )
    stack.procs.insert(0, feeds)
    d = new_driver()
    try:
        wait_for_log(feeds, tmp / "feeds.log", "polling 1 feeds", timeout=30)
        exact_viewport(d)
        d.get(f"{stack.base}/?token={stack.tokens['viewer']}")
        time.sleep(3)  # the window's first fill
        d.execute_script(OBSERVE)
        lat: list[float] = []
        pipe: list[float] = []
        for i in range(args.samples):
            time.sleep(random.uniform(0, args.poll))  # a document appears at any moment of the poll cycle
            key = f"uji{i}x"
            when = datetime.now(UTC).replace(microsecond=0)
            server.docs[path] = (
                QUAKE % (when.strftime("%Y-%m-%dT%H:%M:%S+00:00"), f"40 km TimurLaut Morotai {key}")
            ).encode()
            t0 = time.time() * 1000
            deadline = time.monotonic() + args.poll * 3 + 30
            while time.monotonic() < deadline:
                seen = d.execute_script(f"return window.__seen['{key}'] || null;")
                if seen:
                    lat.append((seen - t0) / 1000)
                    pipe.append(seen / 1000 - server.served_at[path])  # fetched by the feeds process -> on screen
                    break
                time.sleep(0.05)
            else:
                print(f"sample {i}: not on screen within {args.poll * 3 + 30:.0f} s")
            time.sleep(1.1)  # the next quake gets another second: another identifier
        if lat:
            print(f"document on server -> alarm on screen, poll {args.poll:g} s, {len(lat)} samples:")
            print(f"  p50 {statistics.median(lat):.2f} s   p95 {pct(lat, 95):.2f} s   max {max(lat):.2f} s")
            print(
                f"of which the pipeline (served to the feeds process -> on screen): p50 {statistics.median(pipe):.2f} s"
                f"   p95 {pct(pipe, 95):.2f} s   max {max(pipe):.2f} s"
            )
    finally:
        d.quit()
        stop_stack(stack)
        server.close()


if __name__ == "__main__":
    main()
