"""`GET /api/v1/sources`: fields as written, the health rule at its edges, filters, paging, validation."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from app.http.timefmt import from_ms, now_ms
from app.profile import load_profile
from app.sources.queries import classify, expected_interval_s, health_counts, source_health
from ingest.messages import Point, Reading, SourceStatus
from ingest.writer import BatchWriter, Item
from tests.app.conftest import auth

CITY = "morotai"
PROFILE = load_profile(CITY)
S = 1000
MIN = 60 * S


def reading(source: str, received_ms: int, metric: str = "water_level_cm", district: str | None = None) -> Item:
    return Item(
        f"city/{CITY}/sensor/{source}",
        b"{}",
        received_ms,
        Reading(
            CITY,
            source,
            (Point(metric, received_ms - 500, 1.0),),
            district=district,
            lat=2.1 if district else None,
            lon=128.3 if district else None,
        ),
    )


def status(source: str, online: bool, received_ms: int) -> Item:
    word = b"online" if online else b"offline"
    return Item(f"city/{CITY}/status/{source}", word, received_ms, SourceStatus(CITY, source, online, received_ms))


def test_health_rule_edges() -> None:
    now = 10_000_000
    h = dict(reported=None, reported_ms=None, interval_s=60, now_ms=now)
    assert classify(last_seen_ms=None, **h) == "offline"
    assert classify(last_seen_ms=now - 120 * S, **h) == "online"  # exactly 2x: not yet stale
    assert classify(last_seen_ms=now - 120 * S - 1, **h) == "stale"
    assert classify(last_seen_ms=now - 600 * S, **h) == "stale"  # exactly 10x: not yet offline
    assert classify(last_seen_ms=now - 600 * S - 1, **h) == "offline"
    fresh = now - S
    assert classify(last_seen_ms=fresh, reported="offline", reported_ms=fresh, interval_s=60, now_ms=now) == "offline"
    assert (
        classify(last_seen_ms=fresh, reported="offline", reported_ms=fresh - 1, interval_s=60, now_ms=now) == "online"
    )
    assert classify(last_seen_ms=fresh, reported="online", reported_ms=fresh, interval_s=60, now_ms=now) == "online"
    assert expected_interval_s(interval_s=45, metrics=["pm25_ugm3"], profile=PROFILE) == 45
    assert expected_interval_s(interval_s=None, metrics=["pm25_ugm3", "rain_mm_h", "nope"], profile=PROFILE) == 60
    assert expected_interval_s(interval_s=None, metrics=["nope"], profile=PROFILE) == 300


def _seed(writer: BatchWriter, now: int) -> None:
    writer.write([reading("awlr-sungai-pilowo", now - 30 * S)])  # interval 60: online
    writer.write([reading("awlr-sungai-wayabula", now - 5 * MIN)])  # > 2x60 s: stale
    writer.write([reading("awlr-sungai-sangowo", now - 15 * MIN)])  # > 10x60 s: offline
    writer.write([reading("arg-daruba", now - 10 * S, "rain_mm_h")])
    writer.write([status("arg-daruba", False, now - 5 * S)])  # its last word, after the reading: offline
    writer.write([status("arg-leo-leo", False, now - 100 * S)])
    writer.write([reading("arg-leo-leo", now - 10 * S, "rain_mm_h")])  # heard from after its offline: online
    writer.write([reading("pju-daruba-01", now - 20 * MIN, "streetlight_on")])  # interval 900: online
    # Unregistered sources: the interval comes from the catalogue metrics they report.
    writer.write([reading("x-air", now - 11 * MIN, "pm25_ugm3", district="kampung-baru")])  # 300 s: stale
    writer.write([reading("x-water", now - 3 * MIN, district="morotai-selatan")])  # 60 s: stale
    writer.write([reading("x-odd", now - 1 * MIN, "foo_thing")])  # not catalogued: 300 s, online


def _get(client: TestClient, token: str, **params: object) -> dict:
    r = client.get("/api/v1/sources", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def test_sources_with_health_fields_filters_and_paging(
    client: TestClient, tokens: dict[str, str], writer: BatchWriter
) -> None:
    now = now_ms()
    _seed(writer, now)
    tok = tokens["viewer"]
    body = _get(client, tok, limit=1000)
    by_id = {s["source_id"]: s for s in body["items"]}
    assert body["total"] == len(body["items"]) == len(PROFILE.sources) + 3
    assert [s["source_id"] for s in body["items"]] == sorted(by_id)
    expected = {
        "awlr-sungai-pilowo": "online",
        "awlr-sungai-wayabula": "stale",
        "awlr-sungai-sangowo": "offline",
        "arg-daruba": "offline",
        "arg-leo-leo": "online",
        "pju-daruba-01": "online",
        "x-air": "stale",
        "x-water": "stale",
        "x-odd": "online",
        "pju-pitu-01": "offline",  # registered, never heard from
    }
    assert {k: by_id[k]["status"] for k in expected} == expected

    pilowo = by_id["awlr-sungai-pilowo"]
    src = PROFILE.source("awlr-sungai-pilowo")
    assert pilowo["city"] == CITY and pilowo["district"] == src.district and pilowo["district_registered"] is True
    assert (pilowo["kind"], pilowo["name"], pilowo["lat"], pilowo["lon"]) == (src.kind, src.name, src.lat, src.lon)
    assert pilowo["registered"] is True and pilowo["expected_interval_s"] == 60
    assert datetime.fromisoformat(pilowo["last_seen"]) == from_ms(now - 30 * S)
    assert pilowo["status_reported"] is None and pilowo["status_reported_at"] is None
    assert by_id["arg-daruba"]["status_reported"] == "offline"
    assert datetime.fromisoformat(by_id["arg-daruba"]["status_reported_at"]) == from_ms(now - 5 * S)
    assert by_id["arg-leo-leo"]["status_reported"] == "offline"
    assert by_id["pju-daruba-01"]["expected_interval_s"] == 900
    assert by_id["pju-pitu-01"]["last_seen"] is None
    air = by_id["x-air"]
    assert (air["registered"], air["district"], air["district_registered"]) == (False, "kampung-baru", False)
    assert (air["kind"], air["name"], air["expected_interval_s"]) == (None, None, 300)
    assert by_id["x-water"]["expected_interval_s"] == 60 and by_id["x-odd"]["expected_interval_s"] == 300

    stale = _get(client, tok, status="stale")
    assert sorted(s["source_id"] for s in stale["items"]) == ["awlr-sungai-wayabula", "x-air", "x-water"]
    assert stale["total"] == 3
    assert [s["source_id"] for s in _get(client, tok, district="kampung-baru")["items"]] == ["x-air"]
    assert _get(client, tok, district="nowhere")["items"] == []
    assert sorted(s["source_id"] for s in _get(client, tok, registered="false")["items"]) == [
        "x-air",
        "x-odd",
        "x-water",
    ]
    rain = _get(client, tok, kind="rain_gauge", status="online")
    assert [s["source_id"] for s in rain["items"]] == ["arg-leo-leo"]
    selatan = _get(client, tok, district="morotai-selatan", registered="true")
    assert {s["source_id"] for s in selatan["items"]} == {
        s.id for s in PROFILE.sources if s.district == "morotai-selatan"
    }

    # The overview's counts (a lighter read of the same rule) agree with the list, at this instant and later.
    with client.app.state.engine.connect() as conn:
        for at in (now, now + 3 * MIN, now + 30 * MIN):
            listed = source_health(conn=conn, profile=PROFILE, city=CITY, now_ms=at)
            want = {h: sum(1 for x in listed if x.status == h) for h in ("online", "stale", "offline")}
            assert health_counts(conn=conn, profile=PROFILE, city=CITY, now_ms=at) == {**want, "total": len(listed)}

    page = _get(client, tok, limit=3, offset=2)
    assert (page["total"], page["limit"], page["offset"]) == (body["total"], 3, 2)
    assert [s["source_id"] for s in page["items"]] == [s["source_id"] for s in body["items"][2:5]]


BAD = [
    {"district": "Morotai Selatan"},
    {"status": "sleepy"},
    {"kind": "x" * 65},
    {"limit": 0},
    {"limit": 1001},
    {"offset": -1},
    {"registered": "perhaps"},
]


def test_bad_filters_are_422_and_a_token_is_needed(client: TestClient, tokens: dict[str, str]) -> None:
    for params in BAD:
        r = client.get("/api/v1/sources", params=params, headers=auth(tokens["viewer"]))
        assert r.status_code == 422, params
        assert r.json()["detail"][0]["where"] == f"query.{next(iter(params))}"
    assert client.get("/api/v1/sources").status_code == 401
