"""GET /api/v1/services/status: every figure against hand-computed values; periods and filters; percentiles."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.profile import load_profile
from app.services.queries import percentile
from ingest.writer import BatchWriter
from tests.app.conftest import auth
from tests.app.tickets.test_routes import D, H, M, iso, seed_tickets

FIGURES = (
    "opened",
    "resolved",
    "resolved_with_due",
    "resolved_within_sla",
    "cancelled",
    "open",
    "overdue",
    "sla_pct",
    "median_resolution_min",
    "p90_resolution_min",
)


def fig(*values: float | None) -> dict:
    return dict(zip(FIGURES, values, strict=True))


ZERO = fig(0, 0, 0, 0, 0, 0, 0, None, None, None)
# Ambulans, resolved in the period: A1 30 ok, A2 90 late, A3 45 ok, A4 180 late, A9 90 late, A10 200 ok (own SLA).
# Sorted 30 45 90 90 180 200: median (90+90)/2 = 90; p90 at rank 4.5: 180 + .5 * 20 = 190. Opened: A1-A7, A10.
AMBULANS = fig(8, 6, 6, 3, 1, 2, 1, 50.0, 90.0, 190.0)
BANJIR = fig(2, 1, 1, 1, 0, 1, 1, 100.0, 100.0, 100.0)
AIR_MATI = fig(1, 1, 1, 0, 0, 0, 0, 0.0, 60.0, 60.0)
PDAM_NO_SERVICE = fig(1, 0, 0, 0, 0, 1, 0, None, None, None)
WISATA = fig(1, 1, 0, 0, 0, 0, 0, None, 50.0, 50.0)
# All resolved: 30 45 50 60 90 90 100 180 200: median 90; p90 at rank 7.2: 180 + .2 * 20 = 184.
OVERALL = fig(13, 9, 8, 4, 1, 4, 2, 50.0, 90.0, 184.0)


def _status(client: TestClient, token: str, **params) -> dict:
    r = client.get("/api/v1/services/status", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9) == pytest.approx(91)


def test_every_figure_per_service_agency_and_city(
    client: TestClient, tokens: dict[str, str], writer: BatchWriter
) -> None:
    s = seed_tickets(writer)
    body = _status(client, tokens["viewer"], start=iso(s.start), end=iso(s.end))
    assert body["start"].replace("Z", "+00:00") == iso(s.start) and body["end"].replace("Z", "+00:00") == iso(s.end)
    items = {(i["agency"], i["service"]): i for i in body["items"]}
    got = lambda key: {k: items[key][k] for k in FIGURES}  # noqa: E731
    assert got(("layanan-112", "ambulans")) == AMBULANS
    assert got(("layanan-112", "darurat-umum")) == ZERO
    assert got(("bpbd", "banjir")) == BANJIR
    assert got(("bpbd", "longsor")) == ZERO
    assert got(("pdam", "air-mati")) == AIR_MATI
    assert got(("pdam", None)) == PDAM_NO_SERVICE
    assert got(("dinas-pariwisata", "wisata")) == WISATA
    assert all(got(k) == ZERO for k in items if k[0] not in ("layanan-112", "bpbd", "pdam", "dinas-pariwisata"))
    amb = items[("layanan-112", "ambulans")]
    assert (amb["agency_name"], amb["agency_registered"], amb["service_name"], amb["service_registered"]) == (
        "112",
        True,
        "Ambulans",
        True,
    )
    assert amb["sla_minutes"] == 60
    unknown = items[("dinas-pariwisata", "wisata")]
    assert (unknown["agency_name"], unknown["agency_registered"], unknown["service_registered"]) == (None, False, False)
    assert items[("pdam", None)]["service_registered"] is False
    # Profile order (agencies, then their services), unregistered pairs after their agency's, unknown agencies last.
    keys = list(items)
    assert keys[0] == ("bpbd", "banjir") and keys[-1] == ("dinas-pariwisata", "wisata")
    assert keys.index(("pdam", "air-mati")) < keys.index(("pdam", "pipa-bocor")) < keys.index(("pdam", None))
    assert (
        len(keys) == len(load_profile("morotai").services) + 2
    )  # every profile service, plus the two pairs the profile does not list
    agencies = {a["agency"]: {k: a[k] for k in FIGURES} for a in body["agencies"]}
    assert agencies["layanan-112"] == AMBULANS
    assert agencies["bpbd"] == BANJIR
    assert agencies["pdam"] == fig(2, 1, 1, 0, 0, 1, 0, 0.0, 60.0, 60.0)
    assert agencies["dinas-pariwisata"] == WISATA
    assert body["overall"] == OVERALL


def test_period_bounds_and_agency_filter(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    s = seed_tickets(writer)
    tok = tokens["viewer"]
    # A window holding A1-A3's lives: resolved at 30 (ok), 90 (late), 45 (ok) minutes.
    # Sorted 30 45 90: median 45; p90 at rank 1.8: 45 + .8 * 45 = 81.
    body = _status(client, tok, start=iso(s.t0), end=iso(s.t0 + 3 * H), agency="layanan-112")
    assert [i["service"] for i in body["items"]] == ["ambulans", "darurat-umum"]
    amb = {k: body["items"][0][k] for k in FIGURES}
    # Open now and opened before the end: A6 and A7 were opened later, so none.
    assert amb == fig(3, 3, 3, 2, 0, 0, 0, 66.7, 45.0, 81.0)
    assert [a["agency"] for a in body["agencies"]] == ["layanan-112"]
    # The start is inclusive, the end exclusive: A1 resolved exactly at t0 + 30 min.
    assert (
        _status(client, tok, start=iso(s.t0 + 30 * M), end=iso(s.t0 + H), agency="layanan-112")["overall"]["resolved"]
        == 1
    )
    assert (
        _status(client, tok, start=iso(s.t0), end=iso(s.t0 + 30 * M), agency="layanan-112")["overall"]["resolved"] == 0
    )
    # An unregistered agency from the data may be asked for.
    assert (
        _status(client, tok, agency="dinas-pariwisata", start=iso(s.start), end=iso(s.end))["overall"]["resolved"] == 1
    )
    # Default period: the last 30 days up to now, which holds every ticket (A8, a week old, too).
    default = _status(client, tok)
    assert default["overall"]["resolved"] == 10 and default["overall"]["opened"] == 15
    assert default["overall"]["open"] == 4 and default["overall"]["overdue"] == 2


BAD_PERIODS = [
    ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "query.start", "start must be before end"),
    ({"start": "2026-11-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "query.start", "start must be before end"),
    ({"start": "2025-01-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "query.end", "longer than 400 days"),
    ({"start": "2026-11-01T00:00:00"}, "query.start", "timezone"),
    ({"end": "yesterday"}, "query.end", "datetime"),
    ({"agency": "dinas-rahasia"}, "query.agency", "unknown agency 'dinas-rahasia'"),
]


def test_bad_periods_and_agencies_are_422_and_a_token_comes_first(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/v1/services/status", params=BAD_PERIODS[0][0]).status_code == 401
    for params, where, says in BAD_PERIODS:
        r = client.get("/api/v1/services/status", params=params, headers=auth(tokens["viewer"]))
        assert r.status_code == 422, (params, r.text)
        problems = r.json()["detail"]
        assert any(p["where"] == where and says in p["problem"] for p in problems), (params, problems)


def test_a_long_period_just_inside_the_limit_is_fine(client: TestClient, tokens: dict[str, str]) -> None:
    body = _status(client, tokens["viewer"], start="2025-01-01T00:00:00+09:00", end=iso(1735657200000 + 400 * D))
    assert body["overall"]["opened"] == 0 and body["overall"]["sla_pct"] is None
    assert body["overall"]["median_resolution_min"] is None
