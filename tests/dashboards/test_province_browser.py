"""Smart Province in a real headless Chromium (issue 15): the province view and one window per city.

One web process, one ingestor and one broker serve the `maluku-utara` profile
(Pulau Morotai, Kota Ternate, Halmahera Utara). A province user sees the three
regencies on /province and drills into one, whose window then shows that
city's name and data and follows it live; a Ternate-scoped operator gets
Ternate's window and cannot open Morotai's.

`SATUPINTU_SCREENSHOTS=docs/screenshots` keeps the pictures for the docs (province.png, ternate.png).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from app.auth.tokens import create_token
from app.profile import load_deployment
from app.storage.engine import make_engine
from tests.dashboards.conftest import Stack, exact_viewport, start_stack, stop_stack, wait_js
from tests.dashboards.test_a11y import assert_no_violations

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("SATUPINTU_SCREENSHOTS")
CITIES = {
    "morotai": "Kabupaten Pulau Morotai",
    "ternate": "Kota Ternate",
    "halmahera-utara": "Kabupaten Halmahera Utara",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("province"), profile="maluku-utara")
    eng = make_engine(s.db_url)
    with eng.begin() as conn:
        s.tokens["ternate"] = create_token(conn=conn, name="Operator Ternate", role="operator", city="ternate")
    eng.dispose()
    try:
        seed(s)
    except BaseException:
        stop_stack(s)
        raise
    yield s
    stop_stack(s)


NORMAL = {
    "water_level_cm": 90.0,
    "rain_mm_h": 2.0,
    "tide_cm": 120.0,
    "air_temp_c": 29.0,
    "pm25_ugm3": 18.0,
    "bin_fill_pct": 40.0,
    "bed_occupancy_pct": 62.0,
    "vehicle_count": 30.0,
    "streetlight_on": 1.0,
    "water_pressure_bar": 2.5,
}


def seed(stack: Stack) -> None:
    """A normal reading from most sources of every regency; a flood level past Ternate's critical line (Awas) and
    one past Halmahera Utara's major line (Siaga); tickets open, resolved on time and late in each."""
    now = time.time()
    for profile in load_deployment("maluku-utara").cities:
        for i, src in enumerate(profile.sources):
            metric = src.metrics[0]
            if metric in NORMAL and i % 7 != 6:  # a few stay silent: not every source is online
                for k in range(12, -1, -1):  # three hours of history, every 15 minutes: the trend charts
                    value = NORMAL[metric] * (1 + 0.08 * math.sin(k / 2 + i))
                    stack.publish(
                        f"city/{profile.city.id}/sensor/{src.id}", {"ts": now - k * 900, "values": {metric: value}}
                    )
    stack.publish("city/ternate/sensor/awlr-kali-toboko", {"ts": now, "values": {"water_level_cm": 300.0}})
    stack.publish("city/halmahera-utara/sensor/awlr-sungai-kao", {"ts": now, "values": {"water_level_cm": 200.0}})
    h = 3600.0
    tickets = (  # city, id, service, agency, district, title, opened (h ago), resolved (h ago; None: open)
        ("ternate", "BPBD-tte-1", "banjir", "bpbd", "ternate-selatan", "Banjir Kali Toboko", 0.2, None),
        ("ternate", "BPBD-tte-2", "banjir", "bpbd", "ternate-utara", "Genangan di Dufa-Dufa", 5, 3),
        ("ternate", "112-tte-1", "ambulans", "layanan-112", "ternate-tengah", "Pasien sesak napas", 4, 2),
        ("morotai", "112-mtr-1", "ambulans", "layanan-112", "morotai-selatan", "Kecelakaan di Daruba", 0.3, None),
        ("morotai", "112-mtr-2", "ambulans", "layanan-112", "morotai-selatan", "Jatuh dari motor", 3, 2.5),
        ("morotai", "BPBD-mtr-1", "banjir", "bpbd", "morotai-selatan", "Luapan Sungai Wayabula", 6, 5),
        ("halmahera-utara", "BPBD-hlu-1", "banjir", "bpbd", "kao", "Banjir Sungai Kao", 8, 1),
        ("halmahera-utara", "112-hlu-1", "ambulans", "layanan-112", "tobelo", "Kecelakaan di Tobelo", 2, 1.5),
    )
    for city, tid, svc, agency, district, title, opened, resolved in tickets:
        base = {"ticket_id": tid, "service": svc, "priority": "high", "district": district, "title": title}
        stack.publish(f"city/{city}/service/{agency}", {**base, "status": "open", "ts": now - opened * h})
        if resolved is not None:
            stack.publish(f"city/{city}/service/{agency}", {**base, "status": "resolved", "ts": now - resolved * h})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = stack.api("/api/v1/province")
        by = {c["id"]: c for c in body["cities"]}
        if by["ternate"]["state"] == "critical" and all(by[c]["last_received"] for c in by):
            return
        time.sleep(0.5)
    raise AssertionError(f"the province never showed Ternate critical with data everywhere: {body}")


def sign_in(driver: WebDriver, stack: Stack, role: str, path: str) -> None:
    sep = "&" if "?" in path else "?"
    driver.get(f"{stack.base}{path}{sep}token={stack.tokens[role]}")
    wait_js(driver, "return document.querySelector('#header .brand') !== null", what="the shell")


def click(driver: WebDriver, css: str) -> None:
    """Click `css`, again if a live refresh redrew it under the pointer (the table is re-rendered on each tick)."""
    for _ in range(20):
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.2)
    raise AssertionError(f"{css} kept being redrawn")


def text_of(driver: WebDriver, element_id: str) -> str:
    """An element's text read in one script, so a live redraw between finding and reading cannot make it stale."""
    return str(
        driver.execute_script("var e = document.getElementById(arguments[0]); return e ? e.innerText : ''", element_id)
    )


def header_city(driver: WebDriver) -> str:
    return str(driver.execute_script("var c = document.querySelector('#header .city'); return c && c.textContent"))


def test_province_view_shows_every_regency_and_drills_into_one(
    stack: Stack, browser: Callable[..., WebDriver], tmp_path: Path
) -> None:
    d = browser()
    exact_viewport(d)
    sign_in(d, stack, "viewer", "/province")  # a province-wide token: every city, read-only
    wait_js(d, "return document.querySelectorAll('#prov-table .prov-row').length === 3", what="three regencies")
    # Read in one script: a live refresh may redraw the table between two WebDriver calls (stale elements).
    rows = d.execute_script(
        "return Array.from(document.querySelectorAll('#prov-table .prov-row')).map(function (r) {"
        " return r.getAttribute('data-city'); })"
    )
    assert rows == list(CITIES)
    assert "Provinsi Maluku Utara" in header_city(d)
    ternate = text_of(d, "prov-row-ternate")
    assert "Kota Ternate" in ternate and "Awas" in ternate  # its worst state: the critical flood level
    # The map: every regency's outline, Ternate's filled in the critical colour; the names on it.
    wait_js(
        d,
        """var g = document.querySelector('#prov-map .js-plotly-plot');
           if (!g || !g.data) return false;
           var metas = g.data.map(function (t) { return t.meta; });
           return ['morotai', 'ternate', 'halmahera-utara'].every(function (c) { return metas.indexOf(c) >= 0; })
               && g.data.some(function (t) { return t.meta === 'ternate' && t.fillcolor === '#ff3b30'; });""",
        what="the province map",
    )
    wait_js(d, "return document.querySelectorAll('#prov-pillars tbody tr').length === 3", what="the pillars")
    wait_js(d, "return document.querySelectorAll('#prov-league tbody tr').length > 0", what="the league")
    assert d.find_element(By.ID, "prov-csv").get_attribute("href").endswith("/api/v1/province.csv")
    assert d.execute_script("return document.documentElement.scrollHeight <= window.innerHeight"), "no scrolling"
    time.sleep(1.0)  # plotly's last paint
    d.save_screenshot(str(Path(SHOTS or tmp_path) / "province.png"))
    assert_no_violations(d, "the province view")

    # Drill-down from the map: a click on Halmahera Utara (as plotly reports it) opens its window.
    d.execute_script(
        """var g = document.querySelector('#prov-map .js-plotly-plot');
           var i = g.data.findIndex(function (t) { return t.meta === 'halmahera-utara'; });
           g.emit('plotly_click', {points: [{curveNumber: i, pointNumber: 0, customdata: 'halmahera-utara',
                                             data: g.data[i]}]});"""
    )
    wait_js(d, "return location.search === '?city=halmahera-utara'", what="Halmahera Utara's window")
    wait_js(d, "var c = document.querySelector('#header .city'); return c && c.textContent.indexOf('Halmahera') >= 0")
    d.back()

    # Drill-down from a row: Ternate's own window, with Ternate's data, and live.
    wait_js(d, "return document.getElementById('prov-row-ternate') !== null", what="the table again")
    click(d, "#prov-row-ternate td:nth-child(3)")  # not the name's link: the row itself
    wait_js(d, "return location.pathname === '/' && location.search === '?city=ternate'", what="Ternate's window")
    wait_js(d, "var c = document.querySelector('#header .city'); return c && c.textContent === 'Kota Ternate'")
    wait_js(
        d,
        "var l = document.getElementById('alarm-list'), f = document.getElementById('feed');"
        "return l && f && l.innerText.indexOf('Ternate Selatan') >= 0 && f.innerText.indexOf('AWLR Kali Toboko') >= 0",
        what="Ternate's alarm in Ternate's window",
    )
    assert "Kecelakaan di Daruba" not in text_of(d, "feed")  # Morotai's ticket is not here
    # A province user switches city from the header, and the navigation keeps the city.
    assert d.find_element(By.ID, "city-link-morotai").get_attribute("href").endswith("/?city=morotai")
    regent = d.find_element(By.CSS_SELECTOR, "#nav a[href='/regent?city=ternate']")
    assert regent is not None
    assert_no_violations(d, "Ternate's window with the city switcher")
    # Live: the callbacks of this window are about Ternate (X-SatuPintu-City), not the province user's home city.
    stack.publish(
        "city/ternate/service/dinas-pupr",
        {
            "ticket_id": "PUPR-tte-live",
            "service": "jalan-rusak",
            "status": "open",
            "priority": "normal",
            "district": "ternate-utara",
            "title": "Jalan berlubang di Dufa-Dufa",
            "ts": time.time(),
        },
    )
    wait_js(
        d,
        "var f = document.getElementById('feed'); return f && f.innerText.indexOf('Dufa-Dufa') >= 0",
        timeout=45,
        what="a new Ternate ticket arriving live in Ternate's window",
    )


def test_a_ternate_user_gets_ternates_window_and_cannot_open_morotais(
    stack: Stack, browser: Callable[..., WebDriver], tmp_path: Path
) -> None:
    d = browser()
    exact_viewport(d)
    sign_in(d, stack, "ternate", "/")
    wait_js(d, "var c = document.querySelector('#header .city'); return c && c.textContent === 'Kota Ternate'")
    wait_js(
        d,
        """var m = document.querySelector('#op-map .js-plotly-plot');
           var l = document.getElementById('alarm-list');
           return l && l.innerText.indexOf('Ternate Selatan') >= 0
               && document.querySelectorAll('#feed .feed-item').length > 0 && m && m.data && m.data.length > 2;""",
        what="Ternate's window filled",
    )
    assert "AWLR Kali Toboko" in text_of(d, "feed")
    assert not d.find_elements(By.ID, "city-switch")  # one city: no switcher, no province view in the navigation
    assert not d.find_elements(By.CSS_SELECTOR, "#nav a[href='/province']")
    # Ternate's own operator may acknowledge Ternate's alarm (not read-only like a province user).
    assert d.execute_script(
        "return Array.from(document.querySelectorAll('#alarm-list button')).some(function (b) { return !b.disabled; })"
    )
    time.sleep(1.0)
    d.save_screenshot(str(Path(SHOTS or tmp_path) / "ternate.png"))

    d.get(f"{stack.base}/?city=morotai")
    refused = d.find_element(By.ID, "city-refused").text
    assert "Kabupaten Pulau Morotai" in refused and "tidak berwenang" in refused
    assert d.find_element(By.ID, "city-own").get_attribute("href").endswith("/?city=ternate")
    d.get(f"{stack.base}/regent?city=morotai")
    assert d.find_elements(By.ID, "city-refused")
