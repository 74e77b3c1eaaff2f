"""The alarm-system KPI page (/alarm-kpis): the rows builder, and the page in headless Chromium on a real pipeline."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urljoin

import httpx
from dash import dcc, html
from selenium.webdriver.remote.webdriver import WebDriver

from dashboards.pages.alarm_kpis import kpi_rows, top_table
from tests.dashboards.conftest import Stack, wait_js
from tests.dashboards.test_window import critical_alarm, open_window, seed

KPIS = [
    {"key": "alarms_per_hour", "value": 0.25, "unit": "alarms/h", "target": "<= 6", "meets": True,
     "standard": "EEMUA 191"},
    {"key": "priority_high_pct", "value": 100.0, "unit": "%", "target": "<= 5", "meets": False,
     "standard": "EEMUA 191, ISA-18.2"},
    {"key": "ack_p90_s", "value": None, "unit": "s", "target": "<= 600", "meets": True, "standard": "SatuPintu"},
]  # fmt: skip


def _texts(row: html.Tr) -> list[str]:
    return [cell.children for cell in row.children]


def test_kpi_rows_one_per_kpi_with_the_shortfall_marked_in_words() -> None:
    rows = kpi_rows(KPIS, "id")
    assert [r.id for r in rows] == ["akpi-alarms_per_hour", "akpi-priority_high_pct", "akpi-ack_p90_s"]
    assert _texts(rows[0]) == ["Alarm per jam", "0,25", "alarm/jam", "≤ 6", "✓ Memenuhi", "EEMUA 191"]
    assert _texts(rows[1]) == ["Prioritas tinggi", "100", "%", "≤ 5", "✗ Belum memenuhi", "EEMUA 191, ISA-18.2"]
    assert "short" in rows[1].className.split() and "short" not in rows[0].className.split()
    assert rows[1].children[4].className == "bad" and rows[0].children[4].className == ""
    assert _texts(rows[2])[1] == "–"  # nothing acknowledged: no value, and the target counts as met
    assert _texts(kpi_rows(KPIS, "en")[1])[:5] == ["High priority", "100", "%", "≤ 5", "✗ Falls short"]


def test_top_list_shows_integrator_names_as_text() -> None:
    top = [{"rule": "<b>r</b>", "subject": "*s* [x](javascript:1)", "source_id": None, "count": 3, "share_pct": 75.0}]
    table = top_table(top, "en")
    row = table.children[1].children[0]
    assert _texts(row) == ["1", "<b>r</b>", "*s* [x](javascript:1)", "3", "75%"]
    assert not any(isinstance(c, dcc.Markdown) for c in row.children)
    assert top_table([], "en").children == "No alarms in this period."


def test_viewer_sees_the_kpi_rows_the_top_list_and_the_csv_link(
    stack: Stack, browser: Callable[..., WebDriver]
) -> None:
    seed(stack)  # a water level past its critical line: one critical alarm, so the priority split falls short
    critical_alarm(stack)
    d = browser()
    open_window(d, stack, "viewer", path="/alarm-kpis")
    wait_js(d, "return document.querySelectorAll('#akpi-table tr.akpi-row').length === 13", what="the 13 KPI rows")
    high = d.execute_script("return [...document.querySelectorAll('#akpi-priority_high_pct td')].map(c => c.innerText)")
    assert high[1] == "100" and high[4] == "✗ Belum memenuhi"
    assert d.execute_script("return document.getElementById('akpi-priority_high_pct').classList.contains('short')")
    wait_js(d, "return document.querySelectorAll('#akpi-top tr.akpi-top').length >= 1", what="the top-10 list")
    top = d.execute_script("return document.querySelector('#akpi-top tr.akpi-top').innerText")
    assert "awlr-sungai-pilowo" in top
    href = d.execute_script("return document.getElementById('akpi-csv').getAttribute('href')")
    assert href.startswith("/api/v1/alarm-kpis.csv?start=") and "&end=" in href
    r = httpx.get(urljoin(stack.base, href), headers={"Authorization": f"Bearer {stack.tokens['viewer']}"})
    assert r.status_code == 200 and "priority_high_pct,100.0" in r.text
    assert d.execute_script(
        "return [...document.querySelectorAll('#nav a')].some(a => a.getAttribute('href') === '/alarm-kpis')"
    )


CSV_DAYS = """
    var a = document.getElementById('akpi-csv');
    if (!a) { return null; }
    var q = new URL(a.href).searchParams;
    return Math.floor((new Date(q.get('end')) - new Date(q.get('start'))) / 86400000);
"""


def test_the_period_choice_sets_the_csv_links_period(stack: Stack, browser: Callable[..., WebDriver]) -> None:
    d = browser()
    open_window(d, stack, "viewer", path="/alarm-kpis")
    wait_js(d, CSV_DAYS.replace("return Math", "return 30 === Math"), what="the default 30 days")
    d.execute_script("document.querySelector('#akpi-period button').click()")  # the first choice: 7 days
    wait_js(d, CSV_DAYS.replace("return Math", "return 7 === Math"), what="the link for the last 7 days")
    assert (
        d.execute_script("return document.querySelector('#akpi-period button').getAttribute('aria-pressed')") == "true"
    )
