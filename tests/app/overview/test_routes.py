"""`GET /api/v1/overview`: sources by health, open and overdue tickets, the ingest pulse."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from app.http.timefmt import now_ms, to_ms
from app.profile import load_profile
from ingest.messages import Point, Reading, Rejected, TicketEvent
from ingest.writer import BatchWriter, Item
from tests.app.conftest import auth

CITY = "morotai"
PROFILE = load_profile(CITY)
MIN = 60_000


def reading(source: str, received_ms: int) -> Item:
    return Item(
        f"city/{CITY}/sensor/{source}",
        b"{}",
        received_ms,
        Reading(CITY, source, (Point("rain_mm_h", received_ms, 1.0),)),
    )


def ticket(ticket_id: str, status: str, ts_ms: int, service: str, agency: str = "layanan-112") -> Item:
    return Item(
        f"city/{CITY}/service/{agency}",
        b"{}",
        ts_ms,
        TicketEvent(CITY, agency, ticket_id, status, ts_ms, service=service),
    )


def refused(received_ms: int, city: str | None = CITY) -> Item:
    return Item(f"city/{CITY}/sensor/x", b"{nope", received_ms, Rejected("bad_json", "not JSON", city, "x"))


def test_overview_counts(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    now = now_ms()
    received = []  # (received_ms, stored?) of every message, to count per window below

    def write(items: list[Item]) -> None:
        writer.write(items)
        received.extend((it.received_ms, not isinstance(it.parsed, Rejected)) for it in items)

    write([reading("awlr-sungai-pilowo", now - 1000)])  # online
    write([reading("awlr-sungai-pilowo", now // MIN * MIN - 1)])  # the previous minute: still "last minute"
    write([reading("awlr-sungai-pilowo", now // MIN * MIN - MIN - 1)])  # two minutes back: not
    write([reading("awlr-sungai-wayabula", now - 5 * MIN)])  # stale (interval 60 s)
    write([reading("arg-daruba", now - 30 * MIN)])  # offline
    write([reading("x-new", now - 3 * MIN)])  # unregistered, rain_mm_h: 60 s -> stale
    write(
        [
            ticket("t-overdue", "open", now - 120 * MIN, "ambulans"),  # SLA 60 min: overdue
            ticket("t-fresh", "open", now - 10 * MIN, "ambulans"),
            ticket("t-road", "assigned", now - 3 * 24 * 60 * MIN, "jalan-rusak", "dinas-pupr"),  # SLA 7 days
            ticket("t-done", "open", now - 180 * MIN, "ambulans"),
        ]
    )
    write([ticket("t-done", "resolved", now - 100 * MIN, "ambulans")])
    write([ticket("t-gone", "open", now - 300 * MIN, "ambulans")])
    write([ticket("t-gone", "cancelled", now - 290 * MIN, "ambulans")])
    write([refused(now - 500), refused(now - 20 * MIN), refused(now - 59 * MIN), refused(now - 3 * 60 * MIN)])

    r = client.get("/api/v1/overview", headers=auth(tokens["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    as_of = to_ms(datetime.fromisoformat(body["as_of"]))
    assert now <= as_of <= now_ms()
    assert body["city"] == CITY
    assert body["alarms"] == {"critical": 0, "major": 0, "minor": 0, "warning": 0, "total": 0, "unacknowledged": 0}
    total = len(PROFILE.sources) + 1
    assert body["sources"] == {"online": 1, "stale": 2, "offline": total - 3, "total": total}
    assert (body["open_tickets"], body["overdue_tickets"]) == (3, 1)

    minute = as_of // MIN * MIN
    last_minute = [stored for ms, stored in received if ms >= minute - MIN]
    last_hour_refused = [ms for ms, stored in received if not stored and ms >= minute - 60 * MIN]
    assert body["messages_last_minute"] == len(last_minute)
    assert body["readings_last_minute"] == sum(last_minute)
    if minute == now // MIN * MIN:  # the answer's minute is the test's (on a slow machine it may be the next one)
        assert len(last_minute) >= 3 and sum(last_minute) == len(last_minute) - 1
    assert body["quarantined_last_hour"] == len(last_hour_refused) == 3

    assert client.get("/api/v1/overview", params={"city": CITY}, headers=auth(tokens["viewer"])).json()["city"] == CITY
    r = client.get("/api/v1/overview", params={"city": "ternate"}, headers=auth(tokens["viewer"]))
    assert r.status_code == 404 and "ternate" in r.json()["detail"]
    assert (
        client.get("/api/v1/overview", params={"city": "Ternate!"}, headers=auth(tokens["viewer"])).status_code == 422
    )
    assert client.get("/api/v1/overview").status_code == 401


def test_overview_of_a_city_not_heard_from_yet(client: TestClient, tokens: dict[str, str]) -> None:
    body = client.get("/api/v1/overview", headers=auth(tokens["viewer"])).json()
    # The profile's sources are registered at start and count as offline until they report.
    assert body["sources"] == {"online": 0, "stale": 0, "offline": 31, "total": 31}
    assert [
        body[k]
        for k in (
            "open_tickets",
            "overdue_tickets",
            "messages_last_minute",
            "readings_last_minute",
            "quarantined_last_hour",
        )
    ] == [0, 0, 0, 0, 0]
