"""GET /publik: opt-in, no sign-in, no personal data or citizens' text; figures in working days; cached, rate-limited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.http.timefmt import now_ms
from app.profile import load_profile
from app.settings import Settings
from app.storage.models import Open311RequestRow
from ingest.committer import WritePath
from ingest.writer import BatchWriter
from tests.app.tickets.test_routes import _ev

P = load_profile("morotai")
M = 60_000
D = 86_400_000


@pytest.fixture
def public(db_url: str) -> Iterator[TestClient]:
    s = Settings(
        database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=0, public_page=True, public_page_rate_per_min=5
    )
    with TestClient(create_app(s)) as c:
        yield c


def _monday_9(now: int) -> int:
    """Monday 09:00 WIT of the week two weeks back: inside the 30 days, its tickets resolved by now."""
    d = datetime.fromtimestamp((now - 14 * D) / 1000, P.tz).replace(hour=9, minute=0, second=0, microsecond=0)
    return int((d - timedelta(days=d.weekday())).timestamp() * 1000)


def test_the_page_shows_the_month_in_working_days_and_nothing_personal(public: TestClient, db_url: str) -> None:
    now = now_ms()
    mon = _monday_9(now)
    cal = P.calendar(P.service("pengaduan-air"))
    w = WritePath(BatchWriter(public.app.state.engine, P, public.app.state.settings))
    try:
        w.write(
            [
                # pengaduan-air (3 working days, Mon-Sat): resolved in 1 working day, and one past due.
                _ev(
                    "A1",
                    "open",
                    mon,
                    "pdam",
                    "pengaduan-air",
                    district="pulau-rao",
                    description="Siti Rahayu, 0812-4455-6677: air mati sejak kemarin",
                ),
                _ev("A1", "resolved", mon + D, "pdam", None),
                _ev("A2", "open", mon, "pdam", "pengaduan-air", district="pulau-rao"),
                _ev("A2", "resolved", mon + 7 * D, "pdam", None),
                # Open, in a district of their own.
                _ev("B1", "open", now - D, "dinas-pupr", "perbaikan-jalan", district="morotai-utara"),
                _ev("B2", "open", now - D, "dinas-pupr", "perbaikan-jalan", district="morotai-utara"),
                # The emergency line is not a citizens' complaint channel: not on the page.
                _ev("E1", "open", now - D, "layanan-112", "ambulans", district="morotai-utara"),
            ]
        )
    finally:
        w.close()
    with public.app.state.engine.begin() as conn:
        conn.execute(
            Open311RequestRow.__table__.insert().values(
                token="tok",
                city="morotai",
                ticket_id="A1",
                agency="pdam",
                created_ms=mon,
                first_name="Siti",
                last_name="Rahayu",
                email="siti.rahayu@example.id",
                phone="0812-4455-6677",
                address="Desa Rao",
            )
        )
    r = public.get("/publik")  # no cookie, no token
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    for personal in ("Siti", "Rahayu", "0812", "4455", "siti.rahayu", "air mati", "Desa Rao", "A1", "E1"):
        assert personal not in html, personal
    assert "Kinerja Layanan Publik Kabupaten Pulau Morotai" in html
    row = re.search(r"<tr class=\"service\"><td>Pengaduan layanan air minum</td>(.*?)</tr>", html)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    # The median of the two times to resolve, in working days of the service's calendar (Mon-Sat, holidays off).
    median = f"{(cal.elapsed(mon, mon + D) + cal.elapsed(mon, mon + 7 * D)) / 2:.1f}".replace(".", ",")
    assert cells == ["3 hari kerja", "2", "2", "50,0%", median]
    assert "Ambulans" not in html
    assert re.search(r'id="publik-district-morotai-utara".*?Morotai Utara · 2<', html)
    assert "<script>" in html and "window.print()" in html
    en = public.get("/publik", params={"lang": "en"}).text
    assert "Public Service Performance, Kabupaten Pulau Morotai" in en and "Water service complaint" in en


def test_off_by_default_cached_and_rate_limited(db_url: str, public: TestClient) -> None:
    with TestClient(create_app(Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1"))) as off:
        assert off.get("/publik").status_code == 404
    first = public.get("/publik")
    assert first.headers["cache-control"] == "public, max-age=300"
    assert "content-security-policy" in first.headers
    w = WritePath(BatchWriter(public.app.state.engine, P, public.app.state.settings))
    try:
        w.write([_ev("C1", "open", now_ms() - M, "pdam", "pengaduan-air", district="pulau-rao")])
    finally:
        w.close()
    assert public.get("/publik").text == first.text  # computed once per cache period
    for _ in range(3):
        assert public.get("/publik").status_code == 200
    busy = public.get("/publik")  # the sixth in the minute, over 5
    assert busy.status_code == 429 and busy.headers["retry-after"] == "60"
