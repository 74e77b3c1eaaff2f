"""`GET /api/v1/replay/state`: the city as it was at a past instant, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from app.http.timefmt import now_ms
from ingest.messages import Point, Reading, TicketEvent
from ingest.writer import BatchWriter, Item
from tests.app.conftest import auth

M, H = 60_000, 3_600_000
CITY = "morotai"


def _reading(source: str, ts: int, value: float) -> Item:
    return Item(
        f"city/{CITY}/sensor/{source}", b"{}", ts, Reading(CITY, source, (Point("water_level_cm", ts, value, "cm"),))
    )


def _ticket(tid: str, status: str, ts: int, **kw: object) -> Item:
    agency = "layanan-112"
    return Item(
        f"city/{CITY}/service/{agency}", b"{}", ts, TicketEvent(CITY, agency, tid, status, ts, service="ambulans", **kw)
    )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def test_state_at_a_past_instant(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    now = now_ms() // M * M
    t = now - 3 * H  # the instant we replay
    writer.write(
        [
            # Heard just before T (interval 60 s in the profile): online then, whatever it is now.
            _reading("awlr-sungai-pilowo", t - 30_000, 120.0),
            # Heard 5 min before T: stale then (2x..10x its 60 s interval).
            _reading("awlr-sungai-sopi", t - 5 * M, 80.0),
            # First heard after T: not known at T.
            _reading("awlr-replay-later", t + H, 50.0),
            # Open at T, resolved after T (its status at T: assigned); past its 60 min SLA at T.
            _ticket("R1", "open", t - 2 * H, title="Kecelakaan", district="morotai-selatan", lat=2.05, lon=128.3),
            _ticket("R1", "assigned", t - 90 * M),
            _ticket("R1", "resolved", t + 30 * M),
            # Resolved before T: not open at T, but in the feed's hour.
            _ticket("R2", "open", t - 50 * M),
            _ticket("R2", "resolved", t - 20 * M),
            # Opened after T: not there yet.
            _ticket("R3", "open", t + 10 * M),
        ]
    )
    r = client.get("/api/v1/replay/state", params={"at": _iso(t)}, headers=auth(tokens["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    by_id = {s["source_id"]: s for s in body["source_items"]}
    assert by_id["awlr-sungai-pilowo"]["status"] == "online"
    assert by_id["awlr-sungai-pilowo"]["last_seen"].startswith(_iso(t - 30_000)[:19])
    assert by_id["awlr-sungai-sopi"]["status"] == "stale"
    assert "awlr-replay-later" not in by_id
    # Profile sources never heard by T are listed, offline.
    assert by_id["arg-daruba"]["status"] == "offline"
    assert body["sources"]["online"] == 1 and body["sources"]["stale"] == 1
    assert body["sources"]["total"] == len(body["source_items"])

    tickets = {tk["ticket_id"]: tk for tk in body["tickets"]}
    assert set(tickets) == {"R1"}
    assert tickets["R1"]["status"] == "assigned" and tickets["R1"]["overdue"] is True
    assert body["open_tickets"] == 1 and body["overdue_tickets"] == 1
    feed = [(s["ticket_id"], s["status"]) for s in body["feed"]]
    assert feed == [("R2", "resolved"), ("R2", "open")], "the hour before T, newest first; R1 opened 2 h before"

    # Now: R1 resolved, R3 open; the same route answers for the present too.
    now_body = client.get("/api/v1/replay/state", params={"at": _iso(now_ms())}, headers=auth(tokens["viewer"])).json()
    assert {tk["ticket_id"] for tk in now_body["tickets"]} == {"R3"}


def test_state_needs_a_token_and_a_past_instant(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/v1/replay/state", params={"at": _iso(now_ms())}).status_code == 401
    future = client.get("/api/v1/replay/state", params={"at": _iso(now_ms() + 3 * H)}, headers=auth(tokens["viewer"]))
    assert future.status_code == 422
    naive = client.get("/api/v1/replay/state", params={"at": "2026-01-01T00:00:00"}, headers=auth(tokens["viewer"]))
    assert naive.status_code == 422
