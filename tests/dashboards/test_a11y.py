"""Accessibility: axe-core finds nothing on the operator window, the kiosk, the regent view, replay, the alarm
KPIs and sign-in.

axe-core (tests/dashboards/vendor/axe.min.js, MPL-2.0, from the npm package
`axe-core`) is injected into each page through the Selenium driver and run
with its default rules (WCAG 2 A/AA and its best practices), once the page
holds its data: most findings (contrast, names of controls) are in what the
data fills in, not in the empty frame.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.dashboards.conftest import Stack, wait_js
from tests.dashboards.test_window import PANELS_FILLED, critical_alarm, open_window, seed

pytestmark = pytest.mark.slow
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
RUN_AXE = """
var done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(function (r) {
    done(r.violations.map(function (v) {
        return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) {
            return {target: n.target.join(' '), summary: n.failureSummary, html: n.html.slice(0, 160)};
        })};
    }));
}).catch(function (e) { done([{id: 'axe-error', impact: 'error', help: String(e), nodes: []}]); });
"""


def axe_violations(driver: WebDriver) -> list[dict]:
    """axe-core's violations on the page as it is now."""
    driver.set_script_timeout(120)
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    return driver.execute_async_script(RUN_AXE)


def readable(violations: list[dict]) -> str:
    """The violations as a person reads them: rule, impact, help, and the first few elements with why."""
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} element(s)]")
        for n in v["nodes"][:4]:
            lines.append(f"    {n['target']}: {(n['summary'] or '').replace(chr(10), ' ')[:300]}")
    return "\n".join(lines)


def assert_no_violations(driver: WebDriver, page: str, *, lang: str = "id") -> None:
    found = axe_violations(driver)
    assert not found, f"axe-core on {page}: {len(found)} rule(s) violated\n{readable(found)}"
    # axe asks for a valid lang; the page's must also be the language it is shown in (screen readers speak by it).
    assert driver.execute_script("return document.documentElement.lang") == lang, f"<html lang> of {page}"


@pytest.fixture(scope="module", autouse=True)
def _seeded(stack: Stack) -> None:
    seed(stack)
    critical_alarm(stack)


PAGES = {
    "operator-id": ("operator", "/", "lang=id", [PANELS_FILLED]),
    "operator-en": ("operator", "/", "lang=en", [PANELS_FILLED]),
    "kiosk": ("viewer", "/", "kiosk=1", [PANELS_FILLED]),
    "regent": (
        "viewer",
        "/regent",
        "",
        [
            "return document.querySelectorAll('.pillar-row').length === 6",
            "return document.querySelectorAll('#regent-table tbody tr').length >= 2",
            "return document.querySelectorAll('#regent-export a').length === 3",  # with the incident summary
        ],
    ),
    "alarm-kpis": (
        "viewer",
        "/alarm-kpis",
        "",
        [
            "return document.querySelectorAll('#akpi-table tr.akpi-row').length === 13",
            "return document.querySelectorAll('#akpi-top tr.akpi-top').length >= 1",
            "return document.getElementById('akpi-csv') !== null",
        ],
    ),
    # Incidents (issue 13): an operator's page, with the form to open one from the open alarm.
    "incidents": (
        "operator",
        "/incidents",
        "",
        [
            "return document.getElementById('inc-kpi-running') !== null",
            "return document.querySelectorAll('#inc-alarm button').length >= 1",
        ],
    ),
    "replay": (
        "viewer",
        "/replay",
        "",
        [
            "var s = document.getElementById('replay-stamp'); return s && +s.dataset.at > 0",
            "var t = document.querySelector('#replay-trends .js-plotly-plot'); return t && t.data",
        ],
    ),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_page_has_no_violations(stack: Stack, browser: Callable[..., WebDriver], page: str) -> None:
    role, path, query, filled = PAGES[page]
    d = browser()
    open_window(d, stack, role, path=path, query=query)
    for script in filled:  # most findings (contrast, names) are in what the data fills in
        wait_js(d, script, what=f"{page} filled")
    assert_no_violations(d, page, lang="en" if "lang=en" in query else "id")


def test_sign_in_page(stack: Stack, browser: Callable[..., WebDriver]) -> None:
    d = browser()
    d.get(stack.base + "/")
    wait_js(d, "return document.getElementById('login-submit') !== null", what="the sign-in form")
    assert_no_violations(d, "the sign-in page")
