"""`GET /api/v1/readings/latest` and `/readings/series`: values, units, buckets and aggregates by hand, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from fastapi.testclient import TestClient
from sqlalchemy import update

from app.http.timefmt import from_ms, now_ms
from app.profile import load_profile
from app.readings.queries import plan_buckets
from app.storage.models import MetricRow
from ingest.messages import Point, Reading
from ingest.writer import BatchWriter, Item
from tests.app.conftest import auth

CITY = "morotai"
PROFILE = load_profile(CITY)
PILOWO, WAYABULA, DARUBA = "awlr-sungai-pilowo", "awlr-sungai-wayabula", "arg-daruba"  # selatan, selatan-barat, selatan


def _local_midnight_two_days_ago() -> int:
    """Epoch seconds of a local (UTC+9) midnight, inside raw retention."""
    day = (
        (datetime.now(tz=UTC) - timedelta(days=2))
        .astimezone(PROFILE.tz)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    return int(day.timestamp())


T = _local_midnight_two_days_ago()  # 15:00 UTC: aligned to 1m, 5m and 1h; the start of a local day


def item(source: str, points: list[tuple[str, int, float]], *, unit: str | None = None) -> Item:
    last = max(ts for _, ts, _ in points)
    return Item(
        f"city/{CITY}/sensor/{source}",
        b"{}",
        last,
        Reading(CITY, source, tuple(Point(m, ts, v, unit) for m, ts, v in points)),
    )


def seed(writer: BatchWriter) -> int:
    ms = T * 1000
    now = now_ms()
    writer.write(
        [
            item(PILOWO, [("water_level_cm", ms - 1800_000, 6.0)]),  # 23:30 local, the day before
            item(PILOWO, [("water_level_cm", ms + 0, 10.0), ("water_level_cm", ms + 30_000, 20.0)]),
            item(PILOWO, [("water_level_cm", ms + 70_000, 30.0), ("rain_mm_h", ms + 70_000, 1.5)]),
            item(PILOWO, [("water_level_cm", ms + 250_000, 40.0)]),
            item(PILOWO, [("water_level_cm", ms + 310_000, 50.0)]),
            item(WAYABULA, [("water_level_cm", ms + 10_000, 100.0)]),
            item(WAYABULA, [("water_level_cm", ms + 320_000, 200.0)]),
            item(WAYABULA, [("water_level_cm", now - 60_000, 123.0)]),  # recent: in the default 24 h
            item(DARUBA, [("rain_mm_h", ms + 5_000, 2.5)]),
            item("x-odd", [("foo_thing", ms + 5_000, 7.0)], unit="zz"),
        ]
    )
    return now


def iso(s: int) -> str:
    return from_ms(s * 1000).isoformat()


def _series(client: TestClient, token: str, **params: object) -> dict:
    r = client.get("/api/v1/readings/series", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def _points(body: dict) -> list[tuple[datetime, float, int]]:
    return [(datetime.fromisoformat(p["bucket_start"]), p["value"], p["count"]) for p in body["items"]]


def at(s: int) -> datetime:
    return from_ms(s * 1000)


def test_latest_values_units_filters_and_paging(
    client: TestClient, tokens: dict[str, str], writer: BatchWriter
) -> None:
    now = seed(writer)
    tok = tokens["viewer"]
    with client.app.state.engine.begin() as conn:  # the catalogue's unit wins over the metrics table's
        conn.execute(update(MetricRow).where(MetricRow.metric == "water_level_cm").values(unit="mm"))
    r = client.get("/api/v1/readings/latest", headers=auth(tok))
    assert r.status_code == 200, r.text
    body = r.json()
    got = {(i["source_id"], i["metric"]): i for i in body["items"]}
    assert list(got) == sorted(got) and body["total"] == 5
    assert set(got) == {
        (PILOWO, "water_level_cm"),
        (PILOWO, "rain_mm_h"),
        (WAYABULA, "water_level_cm"),
        (DARUBA, "rain_mm_h"),
        ("x-odd", "foo_thing"),
    }
    wl = got[(PILOWO, "water_level_cm")]
    assert (wl["value"], wl["unit"], wl["district"]) == (50.0, "cm", "morotai-selatan")
    assert datetime.fromisoformat(wl["ts"]) == at(T + 310)
    assert got[(WAYABULA, "water_level_cm")]["value"] == 123.0
    assert datetime.fromisoformat(got[(WAYABULA, "water_level_cm")]["ts"]) == from_ms(now - 60_000)
    assert got[(PILOWO, "rain_mm_h")]["unit"] == "mm/h"
    assert (got[("x-odd", "foo_thing")]["unit"], got[("x-odd", "foo_thing")]["district"]) == ("zz", None)

    def latest(**params: object) -> dict:
        r = client.get("/api/v1/readings/latest", params=params, headers=auth(tok))
        assert r.status_code == 200, r.text
        return r.json()

    assert [(i["source_id"], i["metric"]) for i in latest(metric="rain_mm_h")["items"]] == [
        (DARUBA, "rain_mm_h"),
        (PILOWO, "rain_mm_h"),
    ]
    assert [i["metric"] for i in latest(source=PILOWO)["items"]] == ["rain_mm_h", "water_level_cm"]
    sel = latest(district="morotai-selatan")
    assert {i["source_id"] for i in sel["items"]} == {PILOWO, DARUBA} and sel["total"] == 3
    assert latest(district="kampung-baru") == {"items": [], "total": 0, "limit": 100, "offset": 0}
    page = latest(limit=2, offset=2)
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    assert page["items"] == body["items"][2:4]

    assert client.get("/api/v1/readings/latest", params={"source": "nope"}, headers=auth(tok)).status_code == 404
    r = client.get("/api/v1/readings/latest", params={"metric": "nope"}, headers=auth(tok))
    assert r.status_code == 404 and "unknown metric" in r.json()["detail"]
    assert client.get("/api/v1/readings/latest", params={"source": "Bad Id"}, headers=auth(tok)).status_code == 422
    assert client.get("/api/v1/readings/latest", params={"limit": 1001}, headers=auth(tok)).status_code == 422
    assert client.get("/api/v1/readings/latest").status_code == 401


def test_series_buckets_and_aggregates(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    seed(writer)
    tok = tokens["viewer"]
    rng = {"metric": "water_level_cm", "start": iso(T), "end": iso(T + 600)}

    body = _series(client, tok, source=PILOWO, bucket="1m", agg="avg", **rng)
    assert (body["metric"], body["bucket"], body["agg"], body["unit"]) == ("water_level_cm", "1m", "avg", "cm")
    assert (body["source"], body["district"]) == (PILOWO, None)
    assert _points(body) == [(at(T), 15.0, 2), (at(T + 60), 30.0, 1), (at(T + 240), 40.0, 1), (at(T + 300), 50.0, 1)]

    # 5m: the minute rollups regrouped.
    assert _points(_series(client, tok, source=PILOWO, bucket="5m", **rng)) == [
        (at(T), 25.0, 4),
        (at(T + 300), 50.0, 1),
    ]
    city = {a: _points(_series(client, tok, bucket="5m", agg=a, **rng)) for a in ("avg", "sum", "min", "max", "count")}
    assert city["sum"] == [(at(T), 200.0, 5), (at(T + 300), 250.0, 2)]
    assert city["avg"] == [(at(T), 40.0, 5), (at(T + 300), 125.0, 2)]  # mean of readings, not of series
    assert city["min"] == [(at(T), 10.0, 5), (at(T + 300), 50.0, 2)]
    assert city["max"] == [(at(T), 100.0, 5), (at(T + 300), 200.0, 2)]
    assert city["count"] == [(at(T), 5.0, 5), (at(T + 300), 2.0, 2)]
    district = _series(client, tok, district="morotai-selatan", bucket="5m", **rng)
    assert _points(district) == [(at(T), 25.0, 4), (at(T + 300), 50.0, 1)]
    assert _series(client, tok, district="kampung-baru", **rng)["items"] == []

    # An unaligned start is aligned down: the bucket it falls in is returned whole.
    unaligned = _series(client, tok, source=PILOWO, bucket="1m", **{**rng, "start": iso(T + 30)})
    assert datetime.fromisoformat(unaligned["start"]) == at(T) and _points(unaligned)[0] == (at(T), 15.0, 2)

    day = {"metric": "water_level_cm", "source": PILOWO, "start": iso(T - 86400), "end": iso(T + 86400)}
    assert _points(_series(client, tok, bucket="1h", agg="max", **day)) == [(at(T - 3600), 6.0, 1), (at(T), 50.0, 5)]
    # 1d buckets start at local midnight (UTC+9): 23:30 local falls in the day before.
    days = _points(_series(client, tok, bucket="1d", agg="avg", **day))
    assert days == [(at(T - 86400), 6.0, 1), (at(T), 30.0, 5)]
    assert days[1][0].hour == 15 and days[1][0].astimezone(PROFILE.tz).hour == 0
    # Asked in another offset, the day buckets stay on the city's midnight.
    other = at(T - 86400 + 3600).astimezone(timezone(timedelta(hours=7))).isoformat()  # 01:00 local, as +07:00
    shifted = _series(client, tok, bucket="1d", **{**day, "start": other})
    assert [p[0] for p in _points(shifted)] == [at(T - 86400), at(T)]

    rain = _series(client, tok, metric="rain_mm_h", bucket="1h", agg="sum", start=iso(T), end=iso(T + 3600))
    assert rain["unit"] == "mm/h" and _points(rain) == [(at(T), 4.0, 2)]
    odd = _series(client, tok, metric="foo_thing", start=iso(T), end=iso(T + 600))
    assert odd["unit"] == "zz" and _points(odd) == [(at(T), 7.0, 1)]

    # Defaults: the last 24 h, 5m buckets, avg.
    recent = _series(client, tok, metric="water_level_cm", source=WAYABULA)
    assert (recent["bucket"], recent["agg"]) == ("5m", "avg") and [p[1:] for p in _points(recent)] == [(123.0, 1)]
    span = datetime.fromisoformat(recent["end"]) - datetime.fromisoformat(recent["start"])
    assert timedelta(hours=24) <= span <= timedelta(hours=24, minutes=10)


def _problem(r: object) -> str:
    return " ".join(p["problem"] for p in r.json()["detail"])


def test_series_refuses_what_it_cannot_answer(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    seed(writer)
    h = auth(tokens["viewer"])

    def get(**params: object):
        return client.get("/api/v1/readings/series", params={"metric": "water_level_cm", **params}, headers=h)

    r = get(bucket="1m", start=iso(T), end=iso(T + 7 * 86400))  # 10,080 points
    assert r.status_code == 422 and "10080 buckets" in _problem(r) and "at most 10000" in _problem(r)
    assert get(bucket="1m", start=iso(T), end=iso(T + 10_000 * 60)).status_code == 200
    assert get(bucket="1h", start=iso(T), end=iso(T + 7 * 86400)).status_code == 200
    r = get(start=iso(T + 600), end=iso(T))
    assert r.status_code == 422 and _problem(r) == "start must be before end"
    assert get(start=iso(T), end=iso(T)).status_code == 422
    r = get(start="2025-01-01T00:00:00", end=iso(T))
    assert r.status_code == 422 and r.json()["detail"][0]["where"] == "query.start" and "timezone" in _problem(r)
    assert get(end="2025-01-01T00:00:00").status_code == 422
    assert get(start="yesterday").status_code == 422
    r = get(metric="no_such_metric")
    assert r.status_code == 404 and "unknown metric 'no_such_metric'" in r.json()["detail"]
    r = client.get("/api/v1/readings/series", headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["where"] == "query.metric"
    r = get(source="no-such-source")
    assert r.status_code == 404 and "no-such-source" in r.json()["detail"]
    assert get(source="Bad Id").status_code == 422
    assert get(district="morotai selatan").status_code == 422
    assert get(source=PILOWO, district="morotai-selatan").status_code == 422
    assert get(bucket="2m").status_code == 422
    assert get(agg="median").status_code == 422
    assert client.get("/api/v1/readings/series", params={"metric": "water_level_cm"}).status_code == 401


def test_bucket_plan_covers_whole_buckets() -> None:
    tz = PROFILE.tz
    p = plan_buckets(start_ms=T * 1000 + 1, end_ms=T * 1000 + 61_000, bucket="1m", tz=tz)
    assert (p.first_s, p.stop_s, p.points, p.rollup) == (T, T + 120, 2, "1m")
    p = plan_buckets(start_ms=T * 1000, end_ms=(T + 86400) * 1000, bucket="1d", tz=tz)
    assert (p.first_s, p.stop_s, p.points, p.shift_s, p.rollup) == (T, T + 86400, 1, 9 * 3600, "1h")
