"""Citizen services in a real browser: LAPOR! stages late per agency in the regent view, and /publik with no cookie.

The whole pipeline: a ticket event over MQTT and an Open311 POST through the web
process's publisher, stored by the ingestor, read back through the API by the
regent view; the public page opened by a browser that never signed in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from app.auth.tokens import create_token
from app.storage.engine import make_engine
from tests.dashboards.conftest import Stack, start_stack, stop_stack, wait_js
from tests.dashboards.test_window import open_window
from tests.mqtt_helpers import wait_until

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("SATUPINTU_SCREENSHOTS")  # a directory: keep the screenshots (docs/screenshots)


@pytest.fixture(scope="module")
def citizen_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("citizen"), public_page="true", public_page_cache_s="1")
    yield s
    stop_stack(s)


def _shot(d: WebDriver, tmp: Path, name: str) -> None:
    d.save_screenshot(str(tmp / name))
    if SHOTS:
        d.save_screenshot(str(Path(SHOTS) / name))


def test_late_lapor_stages_per_agency_in_the_regent_view(
    citizen_stack: Stack, browser: Callable[..., WebDriver], tmp_path: Path
) -> None:
    s = citizen_stack
    ago = (datetime.now(tz=UTC) - timedelta(days=12)).isoformat()
    # Twelve calendar days in verifikasi (3 working days): late. Entered tindak lanjut just now: not late.
    s.publish(
        "city/morotai/service/dinas-pupr",
        {
            "ticket_id": "LP-1",
            "service": "perbaikan-jalan",
            "status": "open",
            "ts": ago,
            "stage": "verifikasi",
            "district": "morotai-utara",
        },
    )
    s.publish(
        "city/morotai/service/pdam",
        {"ticket_id": "LP-2", "service": "pengaduan-air", "status": "open", "ts": ago, "stage": "verifikasi"},
    )
    s.publish(
        "city/morotai/service/pdam",
        {"ticket_id": "LP-2", "status": "assigned", "stage": "tindak lanjut"},
    )
    wait_until(lambda: len(s.api("/api/v1/services/stages")["agencies"]) == 2, 20, "both tickets stored")
    d = browser()
    open_window(d, s, "viewer", path="/regent")
    # One snapshot of the panel in the page (the panel re-renders as data arrives: elements found one by one can go
    # stale between two reads).
    seen = wait_js(
        d,
        """const pupr = document.getElementById('lapor-dinas-pupr-verifikasi'),
                 pdam = document.getElementById('lapor-pdam-tindak_lanjut'),
                 panel = document.getElementById('panel-lapor'),
                 rows = document.querySelectorAll('#regent-lapor tr.lapor-row');
           if (!(pupr && pdam && panel && rows.length && pupr.classList.contains('bad'))) return null;
           return {pupr: pupr.innerText, pdam: pdam.innerText, pdam_bad: pdam.classList.contains('bad'),
                   panel: panel.innerText.toLowerCase(), first: rows[0].innerText};""",
        what="PUPR late in verifikasi",
    )
    assert isinstance(seen, dict)
    assert seen["pupr"] == "1 dari 1"
    assert seen["pdam"] == "0 dari 1" and not seen["pdam_bad"]
    # the headings are upper case by style
    assert "tahap lapor! terlambat" in seen["panel"] and "target 3 hari kerja" in seen["panel"]
    assert seen["first"].startswith("PUPR"), "the most late agency first"
    _shot(d, tmp_path, "regent-lapor.png")


def test_public_page_with_no_cookie_and_no_personal_data(
    citizen_stack: Stack, browser: Callable[..., WebDriver], tmp_path: Path
) -> None:
    s = citizen_stack
    eng = make_engine(s.db_url)
    with eng.begin() as conn:
        key = create_token(conn=conn, name="Aplikasi Desa Daruba", role="reporter")
    eng.dispose()
    form = {
        "api_key": key,
        "service_code": "pengaduan-air",
        "lat": "2.05",
        "long": "128.31",
        "description": "Air mati tiga hari, mohon dibantu. Hubungi Siti Rahayu",
        "first_name": "Siti",
        "last_name": "Rahayu",
        "phone": "+62 812 4455 6677",
        "email": "siti.rahayu@example.id",
    }
    r = httpx.post(f"{s.base}/open311/v2/requests.json", data=form, timeout=15)
    assert r.status_code == 201, r.text
    token = r.json()[0]["token"]
    wait_until(
        lambda: (
            "service_request_id"
            in httpx.get(f"{s.base}/open311/v2/tokens/{token}.json", params={"api_key": key}).json()[0]
        ),
        20,
        "the request stored",
    )
    d = browser()
    d.get(f"{s.base}/publik")  # never signed in: no cookie
    assert d.get_cookies() == []
    wait_js(d, "return document.getElementById('publik-services') !== null", what="the public page")
    html = d.page_source
    for personal in ("Siti", "Rahayu", "4455", "6677", "siti.rahayu", "Air mati tiga hari"):
        assert personal not in html, personal
    assert "Kinerja Layanan Publik" in d.find_element(By.TAG_NAME, "h1").text
    assert "Pengaduan layanan air minum" in d.find_element(By.ID, "publik-services").text
    # The district the POST's lat/long lies in shows one open complaint on the map.
    assert "Morotai Selatan · 1" in d.find_element(By.ID, "publik-district-morotai-selatan").text
    _shot(d, tmp_path, "publik.png")
    d.find_element(By.LINK_TEXT, "English").click()
    wait_js(d, "return document.documentElement.lang === 'en'", what="the English page")
    assert "Public Service Performance" in d.find_element(By.TAG_NAME, "h1").text
