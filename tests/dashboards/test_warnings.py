"""Regional warnings in the window: `satupintu feeds` polls a local BMKG stand-in, and the wall shows the quake.

A made-up M6.1 earthquake 40 km off Morotai, "berpotensi tsunami", served as BMKG's autogempa.json by a local
HTTP server: the real feeds process publishes it, the real ingestor stores it and raises an Awas warning alarm,
and the operator window draws the epicentre with its distance rings, names it in the banner, the alarms and the
feed. The nowcast over Morotai Utara comes in as a BPBD's own CAP document on the alert topic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.app.alerts.capdocs import cap
from tests.conftest import spawn_satupintu, wait_for_log
from tests.dashboards.conftest import Stack, exact_viewport, start_stack, stop_stack, wait_js
from tests.docserver import DocServer

pytestmark = pytest.mark.slow
QUAKE = """{"Infogempa": {"gempa": {"Tanggal": "-", "Jam": "-", "DateTime": "%s", "Coordinates": "2.45,129.06",
 "Magnitude": "6.1", "Kedalaman": "10 km", "Wilayah": "40 km TimurLaut Pulau Morotai",
 "Potensi": "Gempa ini berpotensi tsunami", "Dirasakan": "IV Daruba"}}}"""


@pytest.fixture(scope="module")
def bmkg() -> Iterator[str]:
    """A local stand-in for BMKG's earthquake address, serving one near quake of now."""
    server = DocServer()
    server.docs["/autogempa.json"] = (QUAKE % datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")).encode()
    yield f"{server.base}/autogempa.json"
    server.close()


@pytest.fixture(scope="module")
def warned(tmp_path_factory: pytest.TempPathFactory, bmkg: str) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("warnings")
    stack = start_stack(tmp)
    env = {"database_url": stack.db_url, "mqtt_url": f"mqtt://127.0.0.1:{stack.pub.client.port}"}
    feeds = spawn_satupintu(
        ["feeds"], tmp / "feeds.log", **env, bmkg_quake_urls=f'["{bmkg}"]', bmkg_nowcast_url="", feed_poll_s="2"
    )
    stack.procs.insert(0, feeds)
    try:
        wait_for_log(feeds, tmp / "feeds.log", "polling 1 feeds", timeout=30)
        stack.pub.publish("city/morotai/alert/bpbd-morotai", cap("bpbd-hujan-1", severity="Severe"))
        yield stack
    finally:
        stop_stack(stack)


def test_a_near_tsunami_quake_is_an_awas_warning_drawn_on_the_map(warned: Stack, browser, tmp_path: Path) -> None:
    d = browser()
    exact_viewport(d)
    d.get(f"{warned.base}/?token={warned.tokens['viewer']}")
    wait_js(
        d,
        """var m = document.querySelector('#op-map .js-plotly-plot');
           if (!m || !m.data) return false;
           var names = m.data.map(function (t) { return t.name; });
           return names.indexOf('epicentre') >= 0 && names.indexOf('ring-100') >= 0
               && names.indexOf('warning-area') >= 0;""",
        timeout=60,
        what="the epicentre, its rings and the nowcast's area on the map",
    )
    banner = d.find_element("id", "warning-banner").text
    assert "AWAS" in banner.upper() and "Gempa Mag:6.1" in banner
    alarms = d.find_element("id", "alarm-list").text
    assert "Gempa M6,1" in alarms and "berpotensi tsunami" in alarms
    assert "Morotai Utara" in alarms  # the nowcast's alarm names its district
    feed = d.find_element("id", "feed").text
    assert "Peringatan Awas" in feed
    api = warned.api("/api/v1/alarms", state="active")["items"]
    quake = next(a for a in api if a["kind"] == "warning" and a["value"] == 6.1)
    assert quake["severity"] == "critical" and quake["source_id"].startswith("alert:")
    d.save_screenshot(str(tmp_path / "warnings-quake.png"))  # docs/screenshots/warnings-quake.png was made so


def test_the_wall_shows_the_banner_of_the_worst_warning(warned: Stack, browser, tmp_path: Path) -> None:
    d = browser()
    exact_viewport(d)
    d.get(f"{warned.base}/?token={warned.tokens['viewer']}&kiosk=1")
    wait_js(
        d,
        "var b = document.querySelector('#warning-banner .warning-banner-inner.sev-critical');"
        " return b && b.innerText.indexOf('Gempa Mag:6.1') >= 0;",
        timeout=60,
        what="the kiosk's Awas banner",
    )
    size = d.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('.warning-banner-inner')).fontSize);"
    )
    assert size >= 24  # readable from across the room
    d.save_screenshot(str(tmp_path / "warnings-kiosk.png"))  # docs/screenshots/warnings-kiosk.png was made so
