"""`GET /api/v1/quarantine`: refused messages newest first, payload as text and exact bytes, filters, paging."""

from __future__ import annotations

import base64
from datetime import datetime

from fastapi.testclient import TestClient

from app.http.timefmt import from_ms, now_ms
from ingest.messages import Point, Reading, Rejected
from ingest.writer import BatchWriter, Item
from tests.app.conftest import auth

CITY = "morotai"
DAY = 86_400_000


def rejected(
    received_ms: int,
    reason: str,
    payload: bytes,
    *,
    city: str | None = CITY,
    target: str | None = None,
    topic: str | None = None,
) -> Item:
    topic = topic or f"city/{city}/sensor/{target or 'x'}"
    return Item(topic, payload, received_ms, Rejected(reason, f"{reason} detail", city, target))


def test_quarantine_list(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    now = now_ms()
    big = b'{"v": "' + b"a" * 5000 + b'"}'
    partial = Item(
        f"city/{CITY}/sensor/awlr-sungai-pilowo",
        b'[{"n": "rain_mm_h", "v": 1}, {"n": "rain_mm_h", "v": -5}]',
        now - 1000,
        Reading(CITY, "awlr-sungai-pilowo", (Point("rain_mm_h", now - 1000, 1.0),), refused=("rain_mm_h: -5 below 0",)),
    )
    writer.write([rejected(now - 10 * DAY, "bad_json", b"{old", target="awlr-sungai-pilowo")])
    writer.write([rejected(now - 4000, "bad_json", b'{"v": nan}', target="awlr-sungai-pilowo")])
    writer.write([rejected(now - 3000, "out_of_range", b'\xff\xfe{"v": 1}', target="arg-daruba")])
    writer.write([rejected(now - 2000, "too_large", big, target="arg-daruba")])
    writer.write([rejected(now - 2000, "bad_topic", b"hello", city=None, topic="weird/topic")])
    writer.write([partial])

    h = auth(tokens["viewer"])

    def get(**params: object) -> dict:
        r = client.get("/api/v1/quarantine", params=params, headers=h)
        assert r.status_code == 200, r.text
        return r.json()

    body = get()
    items = body["items"]
    assert body["total"] == 5 and (body["limit"], body["offset"]) == (100, 0)
    assert [i["reason"] for i in items] == ["partial", "bad_topic", "too_large", "out_of_range", "bad_json"]
    assert items[1]["id"] > items[2]["id"]  # same time: the later row first
    p = items[0]
    assert (p["city"], p["target"], p["topic"]) == (
        CITY,
        "awlr-sungai-pilowo",
        f"city/{CITY}/sensor/awlr-sungai-pilowo",
    )
    assert p["detail"] == "rain_mm_h: -5 below 0" and p["payload"] == partial.payload.decode()
    assert datetime.fromisoformat(p["received_at"]) == from_ms(now - 1000)
    assert (items[1]["city"], items[1]["target"], items[1]["topic"]) == (None, None, "weird/topic")
    large = items[2]
    assert (large["payload_size"], large["truncated"]) == (len(big), True)
    assert base64.b64decode(large["payload_base64"]) == big[:4096] and large["payload"] == big[:4096].decode()
    odd = items[3]
    assert odd["payload"] == '\ufffd\ufffd{"v": 1}' and odd["truncated"] is False
    assert base64.b64decode(odd["payload_base64"]) == b'\xff\xfe{"v": 1}' and odd["payload_size"] == 10
    assert items[4]["detail"] == "bad_json detail" and items[4]["payload"] == '{"v": nan}'

    assert [i["reason"] for i in get(reason="bad_json")["items"]] == ["bad_json"]
    assert len(get(reason="bad_json", since=from_ms(now - 11 * DAY).isoformat())["items"]) == 2
    assert [i["reason"] for i in get(target="arg-daruba")["items"]] == ["too_large", "out_of_range"]
    assert get(city=CITY)["total"] == 4  # the refusal that named no city is left out
    # Smart Province: ?city= names one of the deployment's cities (GET /api/v1/cities); another is not served here.
    assert client.get("/api/v1/quarantine", params={"city": "ternate"}, headers=h).status_code == 404
    window = get(since=from_ms(now - 3000).isoformat(), until=from_ms(now - 1000).isoformat())
    assert [i["reason"] for i in window["items"]] == ["bad_topic", "too_large", "out_of_range"]
    assert get(until=from_ms(now - 9 * DAY).isoformat())["total"] == 1  # default window: 7 days before until
    page = get(limit=2, offset=1)
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert page["items"] == items[1:3]

    for params in (
        {"since": "2026-01-01T00:00:00"},
        {"until": "2026-01-01T00:00:00"},
        {"reason": "Bad Reason"},
        {"city": "Ternate!"},
        {"target": "a" * 65},
        {"limit": 1001},
        {"offset": -1},
    ):
        r = client.get("/api/v1/quarantine", params=params, headers=h)
        assert r.status_code == 422 and r.json()["detail"][0]["where"] == f"query.{next(iter(params))}", params
    r = client.get(
        "/api/v1/quarantine",
        params={"since": from_ms(now).isoformat(), "until": from_ms(now - 1).isoformat()},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["detail"][0]["problem"] == "since must be before until"
    assert client.get("/api/v1/quarantine").status_code == 401
