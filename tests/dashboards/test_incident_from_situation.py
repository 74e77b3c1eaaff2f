"""An incident opened from a situation in the window, on a real pipeline (Mosquitto, the ingestor, the web process)
in headless Chromium: a rain storm in one district is one situation; on /incidents the operator picks it (offered
before the single alarms) and opens the incident; every alarm of the storm is linked, the flood SOP appears."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.dashboards.conftest import Stack, exact_viewport, start_stack, stop_stack, wait_js
from tests.dashboards.test_incidents_page import choose, click, shot
from tests.dashboards.test_storm import wait_api
from tests.dashboards.test_window import open_window

STORM = [
    f"arg-badai-{i:02d}" for i in range(1, 7)
]  # 6 new rain gauges in Morotai Selatan, 2 of them Siaga (rain is never Awas: issue 17)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("incident-situation"))
    yield s
    stop_stack(s)


def test_an_incident_opened_from_a_situation_links_all_its_alarms(
    stack: Stack, browser: Callable[..., WebDriver], tmp_path: Path
) -> None:
    now = time.time()
    for i, src in enumerate(STORM):
        stack.publish(
            f"city/morotai/sensor/{src}",
            {"ts": now - 30 + i * 3, "values": {"rain_mm_h": 130.0 if i < 2 else 65.0}, "district": "morotai-selatan"},
        )

    def situations() -> list[dict]:
        return stack.api("/api/v1/situations", "operator")["situations"]

    wait_api(stack, "the storm as one situation", lambda: any(s["alarm_count"] == len(STORM) for s in situations()))
    (sit,) = situations()

    d = browser()
    exact_viewport(d)
    open_window(d, stack, "operator", path="/incidents")
    first = "var b = document.querySelector('#inc-alarm button');"
    wait_js(
        d, first + "return !!b && b.textContent.includes('Hujan lebat Morotai Selatan')", what="the situation first"
    )
    choose(d, "inc-alarm", "Siaga · Hujan lebat Morotai Selatan")
    d.find_element(By.ID, "inc-title").send_keys("Hujan lebat Morotai Selatan")
    shot(d, tmp_path, "incident-from-situation.png")
    click(d, "#inc-open")
    wait_js(d, "return document.getElementById('inc-step-lapor-pusdalops') !== null", what="the flood SOP")

    (inc,) = stack.api("/api/v1/incidents", "operator", state="active")["items"]
    detail = stack.api(f"/api/v1/incidents/{inc['id']}", "operator")
    assert (detail["type"], detail["district"]) == ("banjir", "morotai-selatan")
    assert sorted(int(k["ref"]) for k in detail["links"]) == sorted(sit["alarm_ids"])
    assert {e["detail"].get("situation") for e in detail["log"] if e["kind"] == "link"} == {sit["id"]}
