"""CSV exports and the printable service report; the i18n catalogues they draw on."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from app.http.timefmt import now_ms
from app.i18n import CATALOGUES, LANGS, t
from ingest.messages import Point, Reading
from ingest.writer import BatchWriter, Item
from tests.app.conftest import auth
from tests.app.services.test_routes import AMBULANS, FIGURES, OVERALL
from tests.app.tickets.test_routes import ALL, H, M, iso, seed_tickets


def _csv(r) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(r'attachment; filename="morotai-[a-z0-9_.-]+\.csv"', r.headers["content-disposition"])
    return list(csv.DictReader(io.StringIO(r.text)))


def _num(v: str) -> float | int | None:
    if v == "":
        return None
    return float(v) if "." in v else int(v)


def test_catalogues_have_the_same_keys_and_t_formats() -> None:
    assert LANGS == ("id", "en")
    assert set(CATALOGUES["id"]) == set(CATALOGUES["en"])
    assert all(isinstance(v, str) and v for c in CATALOGUES.values() for v in c.values())
    assert t("report.title") == "Laporan Kinerja Layanan Publik"
    assert t("report.title", "en") == "Public Service Performance Report"
    assert t("report.title", "fr") == t("report.title", "id")  # unknown language: the default
    assert t("report.source", "en", city="Morotai") == "Source: SatuPintu, Morotai command center."


def test_tickets_csv_matches_the_list(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    seed_tickets(writer)
    h = auth(tokens["viewer"])
    rows = _csv(client.get("/api/v1/exports/tickets.csv", headers=h))
    assert [r["ticket_id"] for r in rows] == ALL
    listed = {t["ticket_id"]: t for t in client.get("/api/v1/tickets", headers=h).json()["items"]}
    for row in rows:
        item = listed[row["ticket_id"]]
        for name in ("opened", "resolved", "due", "updated"):
            utc, local = row[f"{name}_at"], row[f"{name}_local"]
            if item[f"{name}_at"] is None:
                assert utc == local == ""
                continue
            assert utc.endswith("Z") and local.endswith("+09:00")
            assert utc.replace("Z", "+00:00") == item[f"{name}_at"].replace("Z", "+00:00")
        for key in ("agency", "service", "status", "priority", "district", "title"):
            assert row[key] == (item[key] or "")
        assert row["overdue"] == str(item["overdue"]).lower() and row["breached"] == str(item["breached"]).lower()
        assert _num(row["sla_minutes"]) == item["sla_minutes"]
    a1 = next(r for r in rows if r["ticket_id"] == "A1")
    assert (a1["agency_name"], a1["service_name"], a1["agency_registered"], a1["lat"]) == (
        "112",
        "Ambulans",
        "true",
        "2.05",
    )
    # The list's filters apply; a bad one is a 422 before anything streams.
    active = _csv(
        client.get("/api/v1/exports/tickets.csv", params={"status": "active", "agency": "layanan-112"}, headers=h)
    )
    assert [r["ticket_id"] for r in active] == ["A7", "A6"]
    bad = client.get("/api/v1/exports/tickets.csv", params={"agency": "dinas-rahasia"}, headers=h)
    assert bad.status_code == 422 and "unknown agency 'dinas-rahasia'" in bad.text
    assert client.get("/api/v1/exports/tickets.csv").status_code == 401


def test_services_csv_matches_the_status(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    s = seed_tickets(writer)
    h = auth(tokens["viewer"])
    params = {"start": iso(s.start), "end": iso(s.end)}
    r = client.get("/api/v1/exports/services.csv", params=params, headers=h)
    rows = _csv(r)
    status = client.get("/api/v1/services/status", params=params, headers=h).json()
    assert [(x["agency"], x["service"] or None) for x in rows] == [(i["agency"], i["service"]) for i in status["items"]]
    for row, item in zip(rows, status["items"], strict=True):
        assert {k: _num(row[k]) for k in FIGURES} == {k: item[k] for k in FIGURES}
    amb = next(x for x in rows if x["service"] == "ambulans")
    assert {k: _num(amb[k]) for k in FIGURES} == AMBULANS
    assert (amb["service_name"], amb["service_name_en"], amb["sla_minutes"]) == ("Ambulans", "Ambulance", "60")
    assert amb["period_start_at"].replace("Z", "+00:00") == iso(s.start) and amb["period_start_local"].endswith(
        "+09:00"
    )
    assert sum(_num(x["opened"]) for x in rows) == OVERALL["opened"]
    bad = client.get("/api/v1/exports/services.csv", params={"start": iso(s.end), "end": iso(s.start)}, headers=h)
    assert bad.status_code == 422


def test_series_csv_matches_the_series_api(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    base = now_ms() // H * H - 3 * H
    points = tuple(Point("water_level_cm", base + k * 10 * M, 100.0 + k) for k in range(12))
    reading = Reading("morotai", "awlr-sungai-pilowo", points)
    writer.write([Item("city/morotai/sensor/awlr-sungai-pilowo", b"{}", base, reading)])
    h = auth(tokens["viewer"])
    params = {
        "metric": "water_level_cm",
        "source": "awlr-sungai-pilowo",
        "start": iso(base - H),
        "end": iso(base + 3 * H),
        "bucket": "1h",
        "agg": "avg",
    }
    rows = _csv(client.get("/api/v1/exports/series.csv", params=params, headers=h))
    api = client.get("/api/v1/readings/series", params=params, headers=h).json()["items"]
    assert len(rows) == len(api) == 2
    for row, item in zip(rows, api, strict=True):
        assert row["bucket_start_at"].replace("Z", "+00:00") == item["bucket_start"].replace("Z", "+00:00")
        assert float(row["value"]) == pytest.approx(item["value"]) and int(row["count"]) == item["count"]
        assert (row["metric"], row["unit"], row["source"], row["bucket"], row["agg"]) == (
            "water_level_cm",
            "cm",
            "awlr-sungai-pilowo",
            "1h",
            "avg",
        )
    assert [float(r["value"]) for r in rows] == [102.5, 108.5]
    assert client.get("/api/v1/exports/series.csv", params={**params, "metric": "nope"}, headers=h).status_code == 404
    assert (
        client.get("/api/v1/exports/series.csv", params={**params, "district": "pulau-rao"}, headers=h).status_code
        == 422
    )
    assert client.get("/api/v1/exports/series.csv", params={"metric": "water_level_cm"}).status_code == 401


def test_report_in_indonesian_and_english(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    s = seed_tickets(writer)
    h = auth(tokens["viewer"])
    params = {"start": "2026-11-01T00:00:00+09:00", "end": "2026-12-01T00:00:00+09:00"}
    r = client.get("/api/v1/reports/services", params=params, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="id">' in page and "Laporan Kinerja Layanan Publik" in page and "Kabupaten Pulau Morotai" in page
    assert "1 November 2026 – 30 November 2026" in page  # whole local days: the exclusive end is not shown
    for label in ("BPBD", "Dukcapil", "Badan Penanggulangan Bencana Daerah", "Ambulans", "Penanganan banjir"):
        assert label in page
    assert "@media print" in page and "size: A4" in page
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", page)  # nothing fetched from anywhere
    # The seeded period, in both languages.
    seeded = {"start": iso(s.start), "end": iso(s.end)}
    ind = client.get("/api/v1/reports/services", params=seeded, headers=h).text
    eng = client.get("/api/v1/reports/services", params={**seeded, "lang": "en"}, headers=h).text
    assert '<td class="sla bad">50,0%</td>' in ind and '<td class="sla good">100,0%</td>' in ind
    assert '<td class="sla bad">50.0%</td>' in eng and '<td class="sla good">100.0%</td>' in eng
    assert "1 jam 30 menit" in ind and "1 h 30 min" in eng  # the ambulans median, 90 minutes
    assert "dinas-pariwisata" in ind and "belum terdaftar" in ind and "not registered" in eng
    for key in ("report.title", "report.by_agency", "col.opened", "col.sla_pct", "col.median", "report.city_total"):
        assert t(key, "id") in ind and t(key, "en") in eng
    assert '<html lang="en">' in eng and "Ambulance" in eng and "Flood response" in eng
    assert "Laporan Kinerja" not in eng and "Public Service Performance" not in ind
    one = client.get("/api/v1/reports/services", params={**seeded, "agency": "bpbd"}, headers=h).text
    assert "BPBD" in one and "Ambulans" not in one


def test_report_refuses_bad_input_and_missing_tokens(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["viewer"])
    assert client.get("/api/v1/reports/services").status_code == 401
    r = client.get("/api/v1/reports/services", params={"lang": "fr"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["where"] == "query.lang"
    assert client.get("/api/v1/reports/services", params={"agency": "nope"}, headers=h).status_code == 422
    empty = client.get("/api/v1/reports/services", headers=h)
    assert empty.status_code == 200 and t("report.no_data", "id") in empty.text


def test_working_day_targets_in_the_status_the_csv_and_the_report(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["viewer"])
    items = client.get("/api/v1/services/status", headers=h).json()["items"]
    road = next(i for i in items if i["service"] == "perbaikan-jalan")
    assert (road["sla_minutes"], road["sla_working_days"]) == (None, 10)
    rows = _csv(client.get("/api/v1/exports/services.csv", headers=h))
    line = next(r for r in rows if r["service"] == "perbaikan-jalan")
    assert (line["sla_minutes"], line["sla_working_days"]) == ("", "10.0")
    report = client.get("/api/v1/reports/services", headers=h).text
    assert "10 hari kerja" in report
    assert "10 working days" in client.get("/api/v1/reports/services", params={"lang": "en"}, headers=h).text
