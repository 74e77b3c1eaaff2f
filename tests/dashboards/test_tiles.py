"""Map tiles when a URL is configured: the window loads the full plotly.js locally and draws a tile map.

A tiny tile server on 127.0.0.1 answers any /{z}/{x}/{y}.png with one PNG and
notes what was asked; the window, with SATUPINTU_MAP_TILE_URL pointing at
it, must request tiles and draw the sources on top. Nothing leaves the
machine: the full bundle comes from the installed plotly package.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.dashboards.conftest import Stack, start_stack, stop_stack, wait_js

pytestmark = pytest.mark.slow
# A 1x1 light-blue PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class TileServer:
    def __init__(self) -> None:
        self.seen: list[str] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not re.fullmatch(r"/\d+/\d+/\d+\.png", self.path):
                    self.send_error(404)
                    return
                seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.send_header("Access-Control-Allow-Origin", "*")  # MapLibre fetches tiles cross-origin
                self.end_headers()
                self.wfile.write(PNG)

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def tiles() -> Iterator[TileServer]:
    t = TileServer()
    yield t
    t.close()


@pytest.fixture(scope="module")
def tiled_stack(tmp_path_factory: pytest.TempPathFactory, tiles: TileServer) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("tiles"), map_tile_url=tiles.url, map_tile_attribution="© Ubin tiles")
    yield s
    stop_stack(s)


def test_tile_map_requests_tiles_and_draws_the_sources(
    tiled_stack: Stack, tiles: TileServer, browser: Callable[..., WebDriver], tmp_path
) -> None:
    s = tiled_stack

    s.publish("city/morotai/sensor/awlr-sungai-wayabula", {"ts": time.time(), "values": {"water_level_cm": 120.0}})
    s.publish("city/morotai/sensor/awlr-sungai-pilowo", {"ts": time.time(), "values": {"water_level_cm": 300.0}})
    d = browser()
    d.get(f"{s.base}/?token={s.tokens['viewer']}")
    wait_js(
        d,
        """var m = document.querySelector('#op-map .js-plotly-plot');
                  return m && m._fullLayout && m._fullLayout.map && m._fullLayout.map._subplot
                      && m._fullLayout.map._subplot.map && m._fullLayout.map._subplot.map.loaded();""",
        timeout=60,
        what="the tile map loaded",
    )
    scripts = d.execute_script("return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert any(u.endswith("/_plotly/plotly.min.js") for u in scripts), "the full bundle, served by the web process"
    assert not any("plotly-basic" in u for u in scripts)
    assert all(u.startswith(s.base) or u.startswith("http://127.0.0.1:") for u in scripts), "nothing from the internet"
    deadline = time.monotonic() + 30
    while not tiles.seen and time.monotonic() < deadline:
        time.sleep(0.2)
    style = d.execute_script(
        "return document.querySelector('#op-map .js-plotly-plot')._fullLayout.map._subplot.map.getStyle()"
    )
    assert tiles.seen, f"no tile requested; the map's style: {str(style)[:1500]}"
    assert all(re.fullmatch(r"/\d+/\d+/\d+\.png", p) for p in tiles.seen)
    # The sources as MapLibre drew them: rendered circle features, coloured by health, with their hover text.
    drawn = wait_js(
        d,
        """var gd = document.querySelector('#op-map .js-plotly-plot'), map = gd._fullLayout.map._subplot.map;
        var circles = map.getStyle().layers.filter(function (l) { return l.type === 'circle'; }).map(function (l) { return l.id; });
        var feats = map.queryRenderedFeatures({layers: circles});
        var src = gd.data.filter(function (t) { return t.name === 'sources'; })[0];
        return feats.length > 0 && src && src.lon.length > 0 && {features: feats.length, markers: src.lon.length,
            colours: src.marker.color, hover: src.hovertext, types: gd.data.map(function (t) { return t.type; })};""",
        timeout=30,
        what="the sources drawn on the tile map",
    )
    assert set(drawn["types"]) == {"scattermap"}
    assert "#ff3b30" in drawn["colours"], "the critical source in the alarm colour"
    assert any("awlr-sungai-pilowo" in h or "Pilowo" in h for h in drawn["hover"])
    attrib = d.execute_script(
        "var a = document.querySelector('#op-map .maplibregl-ctrl-attrib'); return a && a.innerHTML"
    )
    assert attrib and "Ubin tiles" in attrib
    d.save_screenshot(str(tmp_path / "tiles.png"))
