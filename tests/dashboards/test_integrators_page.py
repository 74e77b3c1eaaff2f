"""The integrator health page (/integrators) in headless Chromium, on a real pipeline with an ACL of two integrators."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from dashboards.pages.integrators import sparkline
from tests.dashboards.conftest import Stack, start_stack, stop_stack, wait_js
from tests.mqtt_helpers import wait_until

ACL = """\
user bpbd-awlr
topic write city/morotai/sensor/awlr-sungai-pilowo
topic write city/morotai/sensor/awlr-sungai-sopi
user rsud-app
topic write city/morotai/service/rsud
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("integrators")
    (tmp / "auth").mkdir()
    (tmp / "auth" / "acl").write_text(ACL)
    s = start_stack(tmp, mqtt_auth_dir=str(tmp / "auth"), ingest_batch_max_age_ms="20")
    yield s
    stop_stack(s)


def open_page(driver: WebDriver, stack: Stack, role: str) -> None:
    driver.get(f"{stack.base}/integrators?token={stack.tokens[role]}")
    wait_js(driver, "return document.querySelector('#header .brand') !== null", what="the shell")


def test_sparkline() -> None:
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([0, 1, 4, 8]) == "▁▂▅█"  # the highest full, any message above the floor


def test_operator_sees_each_integrators_traffic_refusals_and_warnings(
    stack: Stack, browser: Callable[..., WebDriver]
) -> None:
    stack.publish("city/morotai/sensor/awlr-sungai-pilowo", {"values": {"water_level_cm": 120}})
    stack.publish("city/morotai/sensor/awlr-sungai-pilowo", {"values": {"waterlevel": 121}})
    stack.publish("city/morotai/sensor/awlr-sungai-pilowo", {"values": {"water_level_cm": 99999}})
    stack.publish("city/morotai/service/rsud", "<b>not json</b>")
    stack.pub.wait_all(4)

    def counted() -> bool:
        by = {t["id"]: t for t in stack.api("/api/v1/integrators/health", role="operator")["targets"]}
        p = by.get("awlr-sungai-pilowo", {})
        return p.get("messages_1h") == 3 and p.get("warnings_24h") == 1 and by.get("rsud", {}).get("refused_24h")

    wait_until(counted, 30, "the ingestor's counts")
    d = browser()
    open_page(d, stack, "operator")
    row = "#target-awlr-sungai-pilowo"
    wait_js(
        d,
        f"var r = document.querySelector('{row}'); return r && r.innerText.indexOf('out_of_range') >= 0",
        what="the source's row with its refusal",
    )
    cells = d.execute_script(f"return [...document.querySelectorAll('{row} td')].map(c => c.innerText)")
    assert cells[0] == "bpbd-awlr" and cells[1] == "awlr-sungai-pilowo" and cells[3] == "3"
    assert cells[6] == "1"  # one warning (the waterlevel typo)
    assert cells[7][-1] == "█" and len(cells[7]) == 24  # the sparkline: this hour is the busiest
    assert "99999" in cells[8]
    silent = d.execute_script("return document.querySelector('#target-awlr-sungai-sopi').innerText")
    assert "awlr-sungai-sopi" in silent
    card = d.execute_script("return document.querySelector('#integrator-bpbd-awlr').textContent")
    assert "awlr-sungai-sopi" in card  # silent for the last hour
    rsud = d.execute_script("return document.querySelector('#target-rsud').innerText")
    assert "bad_json" in rsud and "<b>" not in d.execute_script(
        "return document.querySelector('#target-rsud').innerHTML"
    )
    assert d.execute_script(
        "return [...document.querySelectorAll('#nav a')].some(a => a.getAttribute('href') === '/integrators')"
    )


def test_a_viewer_gets_no_link_and_no_data(stack: Stack, browser: Callable[..., WebDriver]) -> None:
    d = browser()
    open_page(d, stack, "viewer")
    wait_js(
        d,
        "var p = document.querySelector('.integrators'); return p && p.innerText.indexOf('operator') >= 0",
        what="the page saying it is for operators",
    )
    assert d.execute_script("return document.querySelectorAll('.integrators-table').length") == 0
    assert not d.execute_script(
        "return [...document.querySelectorAll('#nav a')].some(a => a.getAttribute('href') === '/integrators')"
    )
