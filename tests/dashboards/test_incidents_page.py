"""Incidents end to end in headless Chromium on a real pipeline (Mosquitto, the ingestor, the web process):

a river reading past Awas raises an alarm; the operator opens an incident from it on /incidents and the flood
SOP appears; steps are ticked; on a controlled clock one goes late and is escalated through the duty rota to a
local webhook receiver; a 112 ticket in the same district is linked; the incident is closed; the after-action
report shows the timeline; a viewer sees the incident and cannot tick a step.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import ElementNotInteractableException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from app.profile import load_profile
from app.rota import Contact, DutyRota, on_duty
from app.settings import Settings
from app.storage.engine import make_engine
from ingest.alarm_clock import AlarmClock
from tests.app.alarms.test_webhooks import Receiver
from tests.dashboards.conftest import Stack, exact_viewport, start_stack, stop_stack, wait_js
from tests.dashboards.test_window import critical_alarm, open_window

MIN = 60_000
# Set to a folder (docs/screenshots) to keep the incident view's and the report's screenshots there too.
SHOTS = os.environ.get("SATUPINTU_TEST_SCREENSHOTS")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("incidents"), alarm_rules_refresh_s="0")
    yield s
    stop_stack(s)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def shot(d: WebDriver, tmp: Path, name: str) -> None:
    d.save_screenshot(str(tmp / name))
    if SHOTS:
        shutil.copy(tmp / name, Path(SHOTS) / name)


def click(d: WebDriver, css: str) -> None:
    """Click `css`; again when the view was drawn anew (a live tick) between finding and clicking it."""
    for attempt in range(5):
        try:
            el = d.find_element(By.CSS_SELECTOR, css)
            d.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
            el.click()
            return
        except StaleElementReferenceException:
            if attempt == 4:
                raise


def type_into(d: WebDriver, css: str, text: str) -> None:
    """Type into `css`, again when the view was drawn anew meanwhile."""
    for attempt in range(5):
        try:
            el = d.find_element(By.CSS_SELECTOR, css)
            d.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
            el.send_keys(text)
            return
        except (StaleElementReferenceException, ElementNotInteractableException):
            if attempt == 4:
                raise


def choose(d: WebDriver, group: str, starts: str) -> None:
    """Press the button of choice group `group` whose text starts with `starts` (layout/choice.py)."""
    js = (
        f"var b = [...document.querySelectorAll('#{group} button')].find(b => b.textContent.startsWith({starts!r}));"
        "if (b) { b.scrollIntoView({block: 'center'}); b.click(); } return !!b && b.getAttribute('aria-pressed') === 'true';"
    )
    wait_js(d, js, what=f"{starts!r} pressed in {group}")


def step_is(d: WebDriver, step: str, cls: str) -> None:
    wait_js(
        d,
        f"var s = document.getElementById('inc-step-{step}'); return s && s.classList.contains('{cls}')",
        what=f"step {step} {cls}",
    )


def test_from_a_river_alarm_to_a_closed_incident_with_its_report(
    stack: Stack, browser: Callable[..., WebDriver], receiver: Receiver, tmp_path: Path
) -> None:
    now = time.time()
    for minutes_ago, level in ((50, 140), (40, 165), (30, 190), (20, 215), (10, 238), (0, 262)):  # the river rising
        stack.publish(
            "city/morotai/sensor/awlr-sungai-pilowo",
            {"ts": now - minutes_ago * 60, "values": {"water_level_cm": level}},
        )
    alarm = critical_alarm(stack)  # past Awas (250 cm): a critical alarm, raised by the ingestor

    d = browser()
    open_window(d, stack, "operator", path="/incidents")
    choose(d, "inc-alarm", f"#{alarm['id']} ")
    d.find_element(By.ID, "inc-title").send_keys("Banjir Sungai Pilowo, Daruba")
    click(d, "#inc-open")
    wait_js(d, "return document.getElementById('inc-step-lapor-pusdalops') !== null", what="the flood SOP")
    view = d.find_element(By.ID, "inc-view").text
    assert "Verifikasi data AWLR" in view and "Pusdalops" in view and "Banjir Sungai Pilowo" in view
    inc = stack.api("/api/v1/incidents", "operator", state="active")["items"][0]
    assert (inc["type"], inc["district"]) == ("banjir", "morotai-selatan")
    iid = inc["id"]

    # Ticked in the window, with a note.
    type_into(d, "#inc-step-verifikasi input", "AWLR 262 cm, dikonfirmasi kades")
    click(d, "#inc-step-verifikasi button.ack:not(.ghost)")
    step_is(d, "verifikasi", "step-done")

    # The controlled clock: the alarm clock's tick 16 minutes after the incident opened, in this process, with the
    # rota's BPBD desk at the local receiver. The informing step (15 min) is late and escalated; the window hears
    # of it on the live channel.
    opened = int(datetime.fromisoformat(inc["opened_at"]).timestamp() * 1000)
    rota = DutyRota(
        timezone="Asia/Jayapura",
        default_agency="bpbd",
        contacts=(Contact(id="pusdalops", name="Pusdalops BPBD", agency="bpbd", address=receiver.url),),
    )
    engine = make_engine(stack.db_url)
    clock = AlarmClock(
        engine,
        load_profile("morotai"),
        Settings(database_url=stack.db_url),
        lambda topic, payload: stack.pub.publish(topic, payload) or True,
        on_duty=lambda at, agency, level: on_duty(rota, at, agency=agency, level=level),
    )
    clock.tick(now_ms=opened + 16 * MIN)
    engine.dispose()
    assert [b["step"] for _, b in receiver.got] == ["lapor-pusdalops"]
    assert receiver.got[0][1]["incident_id"] == iid and receiver.got[0][1]["contact"]["name"] == "Pusdalops BPBD"
    step_is(d, "lapor-pusdalops", "late")
    wait_js(d, "return document.getElementById('inc-kpi-late').innerText.indexOf('1') === 0", what="1 step late")

    # A 112 ticket in the same district arrives over MQTT and is linked from the window.
    stack.publish(
        "city/morotai/service/layanan-112",
        {"ticket_id": "112-2026-004411", "service": "ambulans", "status": "open", "priority": "critical",
         "district": "morotai-selatan", "title": "Warga terseret arus", "ts": time.time()},
    )  # fmt: skip
    choose(d, "inc-ticket", "112-2026-004411")
    click(d, "#inc-link")
    wait_js(
        d, "return document.getElementById('inc-view').innerText.indexOf('ticket 112-2026-004411') >= 0", what="link"
    )
    shot(d, tmp_path, "incident.png")

    # The operator window counts it (a KPI tile, marked: a step is late) and shows it on the map (a star).
    open_window(d, stack, "operator")
    wait_js(
        d, "var k = document.getElementById('kpi-incidents'); return k && k.innerText.indexOf('1') === 0", what="tile"
    )
    assert d.execute_script("return document.getElementById('kpi-incidents').classList.contains('bad')")
    wait_js(
        d,
        "var g = document.querySelector('#op-map .js-plotly-plot');"
        "return g && g.data && g.data.some(t => t.marker && t.marker.symbol === 'star')",
        what="the incident's star on the map",
    )
    shot(d, tmp_path, "operator-incident.png")
    open_window(d, stack, "operator", path="/incidents")
    click(d, ".inc-row")
    wait_js(d, "return document.getElementById('inc-step-lapor-pusdalops') !== null", what="the incident again")

    # Closing with open mandatory steps is refused, in words.
    choose(d, "inc-state", "Ditutup")
    click(d, "#inc-state-go")
    wait_js(d, "return document.getElementById('inc-msg').innerText.indexOf('mandatory') >= 0", what="the refusal")

    # Every other step: mandatory ones done, the rest skipped with a reason.
    for s in stack.api(f"/api/v1/incidents/{iid}", "operator")["steps"]:
        if s["status"] != "open":
            continue
        if s["mandatory"]:
            click(d, f"#inc-step-{s['step']} button.ack:not(.ghost)")
            step_is(d, s["step"], "step-done")
        else:
            type_into(d, f"#inc-step-{s['step']} input", "tidak diperlukan")
            click(d, f"#inc-step-{s['step']} button.ghost")
            step_is(d, s["step"], "step-skipped")
    choose(d, "inc-state", "Ditutup")
    click(d, "#inc-state-go")
    wait_js(d, "return document.getElementById('inc-state-now').classList.contains('state-closed')", what="closed")
    assert stack.api(f"/api/v1/incidents/{iid}", "viewer")["state"] == "closed"

    # The after-action report: opened from the view's link (the session cookie authorises it).
    href = d.find_element(By.ID, "inc-report").get_attribute("href")
    exact_viewport(d, 1280, 2300)  # the whole report in one picture
    d.get(href)
    page = d.execute_script("return document.body.textContent")  # as written, not as styled (upper case)
    assert "Laporan pasca-kejadian" in page and "Kronologi" in page
    assert "Alarm muncul (Siaga, nilai 190)" in page and "Alarm naik tingkat (Awas)" in page  # the river rising
    assert "Langkah terlambat: Laporkan ke Pusdalops" in page and "Pusdalops BPBD" in page
    assert "Tiket 112-2026-004411" in page and "Status menjadi Ditutup" in page
    assert d.execute_script("return document.querySelectorAll('tr.late').length") >= 1
    shot(d, tmp_path, "incident-report.png")

    # A viewer sees the incident and cannot tick: no buttons in the window, and the API refuses.
    v = browser()
    open_window(v, stack, "viewer", path="/incidents")
    wait_js(v, "return document.querySelector('.inc-row') !== null", what="the incident in the list")
    click(v, ".inc-row")
    wait_js(v, "return document.querySelector('.inc-viewer-only') !== null", what="the viewer's note")
    assert v.find_elements(By.CSS_SELECTOR, "#inc-view button.ack") == []
    assert v.execute_script("return document.getElementById('inc-form').hidden") is True
    r = httpx.post(
        f"{stack.base}/api/v1/incidents/{iid}/steps/verifikasi",
        json={"action": "done"},
        headers={"Authorization": f"Bearer {stack.tokens['viewer']}"},
    )
    assert r.status_code == 403
