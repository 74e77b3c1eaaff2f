"""The single window in a real headless Chromium, fed by a real pipeline (Mosquitto, ingestor, web, database).

Each test drives the page as a person would: sign in with a token in the
address, watch a published reading and ticket arrive live, acknowledge an
alarm, switch language, look at the wall (kiosk) and replay the past.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.dashboards.conftest import Stack, start_stack, stop_stack, wait_js

pytestmark = pytest.mark.slow
TZ = ZoneInfo("Asia/Jayapura")
PANELS_FILLED = """
    var q = function (s) { return document.querySelector(s); };
    var map = q('#op-map .js-plotly-plot'), trends = q('#trends .js-plotly-plot');
    return document.querySelectorAll('#kpi-tiles .kpi').length === 8  // with the running incidents (issue 13)
        && map && map.data && map.data.some(function (t) { return t.name === 'sumber' || t.name === 'sources'; })
        && document.querySelectorAll('#alarm-list .alarm-row').length > 0
        && document.querySelectorAll('#feed .feed-item').length > 0
        && document.querySelectorAll('#services tbody tr').length === 12
        && trends && trends.data && trends.data.length >= 5;
"""


def _now() -> float:
    return time.time()


def seed(stack: Stack) -> None:
    """Readings for a few sources, two tickets, and a water level past its critical line (an alarm)."""
    now = _now()
    for sid, value in (("awlr-sungai-wayabula", 120.0), ("awlr-sungai-sangowo", 90.0), ("arg-daruba", 3.0)):
        metric = "rain_mm_h" if sid.startswith("arg") else "water_level_cm"
        stack.publish(f"city/morotai/sensor/{sid}", {"ts": now, "values": {metric: value}})
    stack.publish("city/morotai/sensor/awlr-sungai-pilowo", {"ts": now, "values": {"water_level_cm": 300.0}})
    for tid, svc, agency, district in (
        ("112-ui-1", "ambulans", "layanan-112", "morotai-utara"),
        ("BPBD-ui-1", "banjir", "bpbd", "morotai-selatan"),
    ):
        stack.publish(
            f"city/morotai/service/{agency}",
            {
                "ticket_id": tid,
                "service": svc,
                "status": "open",
                "priority": "high",
                "district": district,
                "title": "Banjir di jalan utama" if svc == "banjir" else "Kecelakaan lalu lintas",
                "ts": now,
                "lat": 2.1,
                "lon": 128.35,
            },
        )


def open_window(driver: WebDriver, stack: Stack, role: str, path: str = "/", query: str = "") -> None:
    driver.get(f"{stack.base}{path}?token={stack.tokens[role]}{'&' + query if query else ''}")
    wait_js(driver, "return document.querySelector('#header .brand') !== null", what="the shell")


def acknowledge(driver: WebDriver, row: str, comment: str, *, by: str) -> None:
    """Acknowledge the alarm in `row` with `comment` through its dialog, and wait for the row to say `by` did."""
    driver.find_element(By.CSS_SELECTOR, f"{row} button.ack").click()
    wait_js(driver, "return !document.getElementById('ack-dialog').classList.contains('hidden')", what="the dialog")
    driver.find_element(By.ID, "ack-comment").send_keys(comment)
    driver.find_element(By.ID, "ack-send").click()
    wait_js(
        driver,
        f"var r = document.querySelector('{row}'); return r && r.innerText.indexOf('ditanggapi oleh {by}') >= 0",
        what=f"the row acknowledged by {by}",
    )


def critical_alarm(stack: Stack) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = stack.api("/api/v1/alarms", state="open", severity="critical")["items"]
        mine = [a for a in items if a["source_id"] == "awlr-sungai-pilowo"]
        if mine:
            return mine[0]
        time.sleep(0.3)
    raise AssertionError("the alarm engine raised no critical alarm for awlr-sungai-pilowo")


@pytest.fixture(scope="module", autouse=True)
def _seeded(stack: Stack) -> None:
    seed(stack)
    critical_alarm(stack)


def test_wall_token_becomes_a_cookie_and_leaves_the_address(stack: Stack, browser: Callable[..., WebDriver]) -> None:
    d = browser()
    d.get(f"{stack.base}/?token={stack.tokens['viewer']}&kiosk=1")
    wait_js(d, "return document.querySelector('#header .brand') !== null")
    assert "token" not in d.current_url and d.current_url.endswith("/?kiosk=1")
    cookie = d.get_cookie("satupintu_token")
    assert cookie and cookie["value"] == stack.tokens["viewer"] and cookie["httpOnly"] is True
    d.delete_all_cookies()
    d.get(stack.base + "/")
    assert d.find_element(By.NAME, "token"), "without the cookie: the sign-in form"


def test_operator_window_renders_every_panel_and_updates_live(
    stack: Stack, browser: Callable[..., WebDriver], tmp_path
) -> None:
    d = browser()
    open_window(d, stack, "viewer")
    wait_js(d, PANELS_FILLED, what="every panel filled")
    assert d.execute_script("return document.documentElement.scrollHeight <= window.innerHeight"), (
        "no scrolling at 1920x1080"
    )
    # Plotly draws dates and numbers in the window's language: the vendored 'id' locale is registered and applied.
    wait_js(
        d,
        "var g = document.querySelector('#trends .js-plotly-plot');"
        "return !!(g && g._fullLayout && g._context.locale === 'id' && g._fullLayout.separators === ',.')",
        what="the trends in plotly's Indonesian locale",
    )
    text = d.find_element(By.ID, "kpi-tiles").text
    assert "SUMBER DARING" in text.upper() and "PESAN / MENIT" in text.upper()
    assert "Kecelakaan lalu lintas" in d.find_element(By.ID, "feed").text
    rows = d.find_elements(By.CSS_SELECTOR, "#alarm-list .alarm-row")
    assert any("AWAS" in r.text.upper() and "awlr-sungai-pilowo" in r.text for r in rows)
    # A viewer may watch: every acknowledge button is there, disabled, saying why.
    buttons = d.find_elements(By.CSS_SELECTOR, "#alarm-list button.ack")
    assert buttons and all(not b.is_enabled() for b in buttons)
    assert "operator" in buttons[0].get_attribute("title")
    d.save_screenshot(str(tmp_path / "operator.png"))

    # Live: a new source far from the others, and a new ticket, reach the screen without a reload.
    stack.publish(
        "city/morotai/sensor/awlr-ui-live",
        {"ts": _now(), "values": {"water_level_cm": 1234.5}, "district": "morotai-jaya", "lat": 2.62, "lon": 128.47},
    )
    stack.publish(
        "city/morotai/service/layanan-112",
        {
            "ticket_id": "112-ui-live",
            "service": "ambulans",
            "status": "open",
            "title": "Pasien sesak napas",
            "ts": _now(),
        },
    )
    wait_js(
        d,
        """var m = document.querySelector('#op-map .js-plotly-plot');
                  return m && m.data.some(function (t) { return (t.hovertext || []).some(function (h) {
                      return String(h).indexOf('1.234,5') >= 0; }); });""",
        what="the published reading on the map",
    )
    wait_js(
        d, "return document.getElementById('feed').innerText.indexOf('112-ui-live') >= 0", what="the ticket in the feed"
    )
    assert d.execute_script("return window.spLink && window.spLink.up") is True
    assert "hidden" in d.find_element(By.ID, "conn-banner").get_attribute("class")


def test_only_an_operator_acknowledges(stack: Stack, browser: Callable[..., WebDriver]) -> None:
    alarm = critical_alarm(stack)
    row = f"#alarm-{alarm['id']}"
    # The viewer's browser, forced past the disabled button (the dialog opened by hand): the API refuses.
    v = browser()
    open_window(v, stack, "viewer")
    wait_js(v, f"var b = document.querySelector('{row} button.ack'); return b && b.disabled", what="a disabled button")
    v.execute_script(f"""window.dash_clientside.set_props('ack-target', {{data: {alarm["id"]}}});
                         window.dash_clientside.set_props('ack-dialog', {{className: 'dialog'}});""")
    wait_js(v, "return !document.getElementById('ack-dialog').classList.contains('hidden')", what="the dialog")
    v.find_element(By.ID, "ack-send").click()
    wait_js(
        v,
        "var t = document.getElementById('ack-result'); return t.classList.contains('error') && t.innerText",
        what="the refusal",
    )
    assert "operator" in v.find_element(By.ID, "ack-result").text
    assert stack.api(f"/api/v1/alarms/{alarm['id']}")["state"] == "active"

    o = browser()
    open_window(o, stack, "operator")
    wait_js(o, f"var b = document.querySelector('{row} button.ack'); return b && !b.disabled", what="an enabled button")
    acknowledge(o, row, "Tim BPBD menuju lokasi", by="Operator Sari")
    detail = stack.api(f"/api/v1/alarms/{alarm['id']}")
    assert detail["state"] == "acknowledged" and detail["acknowledged_by"] == "Operator Sari"
    assert any(
        h["action"] == "acknowledged" and h.get("comment") == "Tim BPBD menuju lokasi" for h in detail["history"]
    )
    # The viewer's window follows by itself.
    wait_js(
        v,
        f"var r = document.querySelector('{row}'); return r && r.innerText.indexOf('ditanggapi oleh') >= 0",
        what="the viewer's window showing the acknowledgement",
    )


def test_language_switch(stack: Stack, browser: Callable[..., WebDriver]) -> None:
    d = browser()
    open_window(d, stack, "viewer")
    wait_js(d, "return document.querySelectorAll('#kpi-tiles .kpi').length === 8")
    assert "Bupati" in d.find_element(By.ID, "nav").text and "Sumber daring" in d.find_element(
        By.ID, "kpi-online"
    ).get_attribute("textContent")
    d.find_element(By.ID, "lang-switch").click()
    wait_js(
        d,
        "return document.getElementById('nav') && document.getElementById('nav').innerText.indexOf('Regent') >= 0",
        what="English navigation",
    )
    wait_js(
        d, "var k = document.getElementById('kpi-online'); return k && k.textContent.indexOf('Sources online') >= 0"
    )
    assert "token" not in d.current_url
    d.get(stack.base + "/")  # the choice is kept
    wait_js(
        d, "var k = document.getElementById('kpi-online'); return k && k.textContent.indexOf('Sources online') >= 0"
    )
    d.find_element(By.ID, "lang-switch").click()
    wait_js(d, "var k = document.getElementById('kpi-online'); return k && k.textContent.indexOf('Sumber daring') >= 0")


def test_kiosk_is_dark_large_without_controls_and_rotates(
    stack: Stack, browser: Callable[..., WebDriver], tmp_path
) -> None:
    d = browser()
    open_window(d, stack, "viewer", query="kiosk=1&rotate=2")
    wait_js(d, PANELS_FILLED, what="every panel filled")
    assert "kiosk" in d.find_element(By.ID, "app-root").get_attribute("class")
    assert not d.find_elements(By.ID, "nav") and not d.find_elements(By.ID, "lang-switch")
    assert not [b for b in d.find_elements(By.CSS_SELECTOR, "button.ack") if b.is_displayed()]
    bg = d.execute_script("return getComputedStyle(document.querySelector('.panel')).backgroundColor")
    assert bg == "rgb(13, 17, 23)"
    size = d.execute_script("return parseFloat(getComputedStyle(document.querySelector('.kpi-value')).fontSize)")
    assert size >= 56, "readable from 4 m"
    district = wait_js(
        d,
        "var f = document.getElementById('map-focus'); return f && f.innerText",
        timeout=20,
        what="the map focused on a district",
    )
    assert district in {
        "Morotai Selatan",
        "Morotai Selatan Barat",
        "Morotai Timur",
        "Morotai Utara",
        "Morotai Jaya",
        "Pulau Rao",
    }
    wait_js(
        d,
        """var r = document.querySelector('#op-map .js-plotly-plot')._fullLayout.yaxis.range;
                  return r[1] - r[0] < 0.3;""",
        what="the map zoomed to the district",
    )
    d.save_screenshot(str(tmp_path / "kiosk.png"))


def test_regent_view(stack: Stack, browser: Callable[..., WebDriver]) -> None:
    d = browser()
    open_window(d, stack, "viewer", path="/regent")
    wait_js(d, "return document.querySelectorAll('.pillar-row').length === 6", what="the six pillars")
    wait_js(d, "return document.querySelectorAll('#regent-table tbody tr').length >= 2", what="services with tickets")
    assert "BPBD" in d.find_element(By.ID, "regent-table").text
    csv = d.find_element(By.ID, "export-csv").get_attribute("href")
    report = d.find_element(By.ID, "export-report").get_attribute("href")
    assert "/api/v1/exports/services.csv?start=" in csv and "/api/v1/reports/services?" in report
    d.get(csv.replace(stack.base, stack.base))  # the cookie is enough for the API's export
    d.get(report)
    assert "Laporan Kinerja Layanan Publik" in d.page_source


def test_replay_plays_the_past(stack: Stack, browser: Callable[..., WebDriver], tmp_path) -> None:
    d = browser()
    open_window(d, stack, "viewer", path="/replay")
    box = d.find_element(By.ID, "replay-at")
    start = datetime.fromtimestamp(stack.started, tz=UTC).astimezone(TZ) - timedelta(minutes=2)
    box.clear()
    box.send_keys(start.strftime("%Y-%m-%d %H:%M:%S") + "\n")
    wait_js(d, "return (document.getElementById('conn-banner').innerText || '').indexOf('PUTAR ULANG') >= 0")
    want = int(start.timestamp() * 1000)
    first = wait_js(
        d,
        f"""var s = document.getElementById('replay-stamp');
                          return s && Math.abs(+s.dataset.at - {want}) < 5000 && +s.dataset.at""",
        what="the chosen instant",
    )
    assert "112-ui-1" not in d.find_element(By.ID, "replay-feed").text, "before the ticket was published"
    # 60x: a minute of history per second; the ticket appears once the replay passes its time.
    # The speed is a group of toggle buttons, drawn anew on each choice: click 60x, then wait until it is pressed.
    sixty = "//div[@id='replay-speed']//button[text()='60x']"
    d.execute_script("document.getElementById('replay-speed').scrollIntoView();")
    pressed = (
        f'var b = document.evaluate("{sixty}", document, null, 9, null).singleNodeValue;'
        " return b && b.getAttribute('aria-pressed') === 'true'"
    )
    for _ in range(5):  # a button found just before the group is drawn again goes stale: find it again
        try:
            d.find_element(By.XPATH, sixty).click()
            break
        except StaleElementReferenceException:
            continue
    wait_js(d, pressed, what="the 60x speed chosen")
    d.find_element(By.ID, "replay-play").click()
    wait_js(
        d,
        "return document.getElementById('replay-feed').innerText.indexOf('112-ui-1') >= 0",
        timeout=40,
        what="the ticket replayed",
    )
    later = d.execute_script("return +document.getElementById('replay-stamp').dataset.at")
    assert later > first + 60_000
    d.save_screenshot(str(tmp_path / "replay.png"))


def test_a_lost_connection_shows_a_banner(browser: Callable[..., WebDriver], tmp_path_factory) -> None:
    s = start_stack(tmp_path_factory.mktemp("lost"))
    try:
        d = browser()
        open_window(d, s, "viewer")
        wait_js(d, "return window.spLink && window.spLink.up === true", what="the live channel")
        s.procs[0].terminate()  # the web process goes away; the page stays
        s.procs[0].wait(15)
        banner = wait_js(
            d,
            """var b = document.getElementById('conn-banner');
                               return b.classList.contains('lost') && b.innerText""",
            what="the banner",
        )
        assert "terputus sejak" in banner
    finally:
        stop_stack(s)


def test_a_new_critical_alarm_sounds_once_switched_on(stack: Stack, browser: Callable[..., WebDriver]) -> None:
    d = browser()
    open_window(d, stack, "operator")
    wait_js(d, "return document.querySelectorAll('#alarm-list .alarm-row').length > 0", what="the alarm list")
    assert not d.execute_script("return window.spBeeps"), "alarms already open on load do not sound"
    d.find_element(By.ID, "sound-toggle").click()  # browsers play sound only after a click
    assert d.execute_script("return window.spBeeps") == 1, "the toggle plays once, so the operator hears it works"
    stack.publish("city/morotai/sensor/awlr-sungai-bere-bere", {"ts": _now(), "values": {"water_level_cm": 320.0}})
    wait_js(d, "return window.spBeeps >= 2", what="the new critical alarm's sound")
