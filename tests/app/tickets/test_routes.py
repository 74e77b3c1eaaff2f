"""GET /api/v1/tickets and /tickets/{id}: filters, paging, SLA verdicts, lifecycle events; and the shared seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from fastapi.testclient import TestClient

from app.http.timefmt import from_ms, now_ms
from app.tickets import queries, routes
from ingest.messages import TICKET_PRIORITIES, TicketEvent
from ingest.writer import BatchWriter, Item
from tests.app.conftest import auth

M = 60_000
H = 60 * M
D = 24 * H


@dataclass(frozen=True)
class Seed:
    """The seeded world: `now` (minute-aligned, just past), the report period [start, end) and t0 = start + 1 h."""

    now: int
    start: int
    end: int
    t0: int


def _ev(tid: str, status: str, ts: int, agency: str = "layanan-112", service: str | None = "ambulans", **kw) -> Item:
    return Item(
        f"city/morotai/service/{agency}",
        b"{}",
        ts,
        TicketEvent("morotai", agency, tid, status, ts, service=service, **kw),
    )


def seed_tickets(writer: BatchWriter) -> Seed:
    """Fifteen tickets with hand-checked histories (see the comments; SLA: ambulans 60 min, banjir 240, air-mati 720).

    Period [start, end): start = now - 5 d, end = now + 1 min, t0 = start + 1 h.
    """
    now = now_ms() // M * M
    start, end, t0 = now - 5 * D, now + M, now - 5 * D + H
    items = [
        # A1: within SLA (30 min); 'open' and 'assigned' share a time stamp; sent out of order on purpose.
        _ev("A1", "resolved", t0 + 30 * M),
        _ev("A1", "assigned", t0),
        _ev(
            "A1",
            "open",
            t0,
            title="Kecelakaan lalu lintas",
            priority="high",
            district="morotai-selatan",
            lat=2.05,
            lon=128.3,
        ),
        # A2: late (90 min).
        _ev("A2", "open", t0 + H),
        _ev("A2", "assigned", t0 + H + 10 * M),
        _ev("A2", "resolved", t0 + H + 90 * M),
        # A3: resolved at 45 min, closed later: counts from the resolution (within SLA).
        _ev("A3", "open", t0 + 2 * H),
        _ev("A3", "resolved", t0 + 2 * H + 45 * M),
        _ev("A3", "closed", t0 + 4 * H),
        # A4: resolved, reopened, resolved again at 180 min: late.
        _ev("A4", "open", t0 + 3 * H),
        _ev("A4", "resolved", t0 + 3 * H + 20 * M),
        _ev("A4", "open", t0 + 5 * H),
        _ev("A4", "resolved", t0 + 3 * H + 180 * M),
        # A5: cancelled: out of resolved and the SLA.
        _ev("A5", "open", t0 + 4 * H),
        _ev("A5", "cancelled", t0 + 4 * H + 5 * M),
        # A6: open past due (opened 3 h ago): overdue.
        _ev("A6", "open", now - 3 * H),
        _ev("A6", "in_progress", now - 2 * H - 30 * M),
        # A7: open, not yet due.
        _ev("A7", "open", now - 10 * M),
        _ev("A7", "assigned", now - 5 * M),
        # A8: resolved before the period.
        _ev("A8", "open", start - 2 * D),
        _ev("A8", "resolved", start - 2 * D + 30 * M),
        # A9: opened before the period, resolved in it at 90 min: late.
        _ev("A9", "open", start - H),
        _ev("A9", "resolved", start + 30 * M),
        # A10: its own SLA of 240 min: resolved at 200 min is within.
        _ev("A10", "open", t0 + 5 * H, sla_minutes=240),
        _ev("A10", "resolved", t0 + 5 * H + 200 * M),
        # B1, B2: BPBD floods. B1 within (100 min); B2 critical, open 10 h: overdue.
        _ev("B1", "open", t0 + 6 * H, agency="bpbd", service="banjir"),
        _ev("B1", "resolved", t0 + 6 * H + 100 * M, agency="bpbd", service="banjir"),
        _ev("B2", "open", now - 10 * H, agency="bpbd", service="banjir", priority="critical", district="morotai-utara"),
        # U1: an agency and service the profile does not know: no SLA.
        _ev("U1", "open", t0 + 7 * H, agency="dinas-pariwisata", service="wisata"),
        _ev("U1", "resolved", t0 + 7 * H + 50 * M, agency="dinas-pariwisata", service="wisata"),
        # P1: no service named: open, no due time.
        _ev("P1", "open", t0 + 8 * H, agency="pdam", service=None),
        # P2: an explicit due time (30 min) beats the service's 720 min: resolved at 60 min is late.
        _ev("P2", "open", t0 + 9 * H, agency="pdam", service="air-mati", due_ms=t0 + 9 * H + 30 * M),
        _ev("P2", "resolved", t0 + 9 * H + 60 * M, agency="pdam", service="air-mati"),
    ]
    writer.write(items)
    return Seed(now=now, start=start, end=end, t0=t0)


ALL = ["A7", "A6", "B2", "P2", "P1", "U1", "B1", "A10", "A5", "A4", "A3", "A2", "A1", "A9", "A8"]  # newest first


def iso(ms: int) -> str:
    return from_ms(ms).isoformat()


def ids(client: TestClient, token: str, **params) -> list[str]:
    r = client.get("/api/v1/tickets", params={"limit": 1000, **params}, headers=auth(token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["items"])
    return [t["ticket_id"] for t in body["items"]]


def test_priorities_match_the_ingestor() -> None:
    assert queries.PRIORITIES == get_args(routes.Priority) == TICKET_PRIORITIES


def test_list_is_newest_first_with_fields_and_sla_verdicts(
    client: TestClient, tokens: dict[str, str], writer: BatchWriter
) -> None:
    s = seed_tickets(writer)
    r = client.get("/api/v1/tickets", headers=auth(tokens["viewer"]))
    assert r.status_code == 200
    body = r.json()
    assert (body["total"], body["limit"], body["offset"]) == (15, 100, 0)
    assert [t["ticket_id"] for t in body["items"]] == ALL
    by = {t["ticket_id"]: t for t in body["items"]}
    a1 = by["A1"]
    assert a1 == {
        "ticket_id": "A1",
        "city": "morotai",
        "agency": "layanan-112",
        "agency_name": "112",
        "agency_registered": True,
        "service": "ambulans",
        "service_name": "Ambulans",
        "status": "resolved",
        "priority": "high",
        "district": "morotai-selatan",
        "title": "Kecelakaan lalu lintas",
        "opened_at": a1["opened_at"],
        "resolved_at": a1["resolved_at"],
        "due_at": a1["due_at"],
        "overdue": False,
        "breached": False,
        "sla_minutes": 60,
        "lat": 2.05,
        "lon": 128.3,
        "updated_at": a1["updated_at"],
        "sla_working_days": None,
        "stage": None,
        "stage_since": None,
        "stage_due_at": None,
        "stage_late": False,
    }
    assert from_ms(s.t0).isoformat() == a1["opened_at"].replace("Z", "+00:00")
    assert a1["resolved_at"].replace("Z", "+00:00") == iso(s.t0 + 30 * M)
    assert a1["due_at"].replace("Z", "+00:00") == iso(s.t0 + 60 * M)
    # Reopened: resolved at the second resolution, after due: breached, not overdue.
    a4 = by["A4"]
    assert a4["resolved_at"].replace("Z", "+00:00") == iso(s.t0 + 3 * H + 180 * M)
    assert (a4["status"], a4["overdue"], a4["breached"]) == ("resolved", False, True)
    assert (by["A6"]["overdue"], by["A6"]["breached"]) == (True, True)
    assert (by["A7"]["overdue"], by["A7"]["breached"], by["A7"]["resolved_at"]) == (False, False, None)
    assert (by["A5"]["status"], by["A5"]["breached"]) == ("cancelled", False)
    assert by["A10"]["sla_minutes"] == 240 and by["A10"]["breached"] is False
    assert by["P2"]["due_at"].replace("Z", "+00:00") == iso(s.t0 + 9 * H + 30 * M) and by["P2"]["breached"] is True
    u1 = by["U1"]
    assert (u1["agency_registered"], u1["agency_name"], u1["service_name"], u1["sla_minutes"], u1["due_at"]) == (
        False,
        None,
        None,
        None,
        None,
    )
    assert by["P1"]["service"] is None and by["P1"]["due_at"] is None and by["P1"]["overdue"] is False
    assert by["B1"]["priority"] == "normal"


def test_list_filters(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    s = seed_tickets(writer)
    tok = tokens["viewer"]
    assert ids(client, tok, status="active") == ["A7", "A6", "B2", "P1"]
    assert ids(client, tok, status="open,in_progress") == ["A6", "B2", "P1"]
    assert ids(client, tok, status=["open", "assigned"]) == ["A7", "B2", "P1"]
    assert ids(client, tok, status="terminal") == [i for i in ALL if i not in ("A7", "A6", "B2", "P1")]
    assert ids(client, tok, status="cancelled") == ["A5"]
    assert ids(client, tok, overdue="true") == ["A6", "B2"]
    assert ids(client, tok, overdue="false") == [i for i in ALL if i not in ("A6", "B2")]
    assert ids(client, tok, breached="true") == ["A6", "B2", "P2", "A4", "A2", "A9"]
    assert len(ids(client, tok, breached="false")) == 9
    assert ids(client, tok, agency="bpbd") == ["B2", "B1"]
    assert ids(client, tok, agency="dinas-pariwisata") == ["U1"]  # unregistered, but in the data
    assert ids(client, tok, agency="dinas-kesehatan") == []  # registered, no tickets
    assert ids(client, tok, service="banjir") == ["B2", "B1"]
    assert ids(client, tok, service="wisata") == ["U1"]
    assert ids(client, tok, district="morotai-utara") == ["B2"]
    assert ids(client, tok, priority="critical") == ["B2"]
    assert ids(client, tok, agency="layanan-112", status="active", overdue="true") == ["A6"]
    assert ids(client, tok, opened_from=iso(s.t0), opened_to=iso(s.t0 + 3 * H)) == ["A3", "A2", "A1"]
    assert ids(client, tok, opened_to=iso(s.start)) == ["A9", "A8"]
    assert ids(client, tok, city="morotai", agency="pdam") == ["P2", "P1"]


def test_paging_covers_every_ticket_once(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    seed_tickets(writer)
    seen = []
    for offset in (0, 4, 8, 12, 16):
        r = client.get("/api/v1/tickets", params={"limit": 4, "offset": offset}, headers=auth(tokens["viewer"]))
        body = r.json()
        assert (body["total"], body["limit"], body["offset"]) == (15, 4, offset)
        seen += [t["ticket_id"] for t in body["items"]]
    assert seen == ALL


BAD_FILTERS = [
    ({"agency": "dinas-rahasia"}, "query.agency", "unknown agency 'dinas-rahasia'"),
    ({"service": "teleportasi"}, "query.service", "unknown service 'teleportasi'"),
    ({"district": "atlantis"}, "query.district", "unknown district 'atlantis'"),
    ({"status": "open,lost"}, "query.status", "unknown status 'lost'"),
    ({"priority": "urgent"}, "query.priority", "Input should be"),
    ({"overdue": "maybe"}, "query.overdue", "boolean"),
    ({"opened_from": "2026-11-01T00:00:00"}, "query.opened_from", "timezone"),
    ({"opened_from": "2026-11-02T00:00:00Z", "opened_to": "2026-11-01T00:00:00Z"}, "query.opened_to", "after"),
    ({"limit": 0}, "query.limit", "greater than"),
    ({"limit": 1001}, "query.limit", "less than"),
    ({"offset": -1}, "query.offset", "greater than"),
]


def test_bad_filters_are_422_with_a_reason(client: TestClient, tokens: dict[str, str]) -> None:
    for params, where, says in BAD_FILTERS:
        r = client.get("/api/v1/tickets", params=params, headers=auth(tokens["viewer"]))
        assert r.status_code == 422, (params, r.text)
        problems = r.json()["detail"]
        assert any(p["where"] == where and says in p["problem"] for p in problems), (params, problems)
    # Smart Province: `?city=` names a city this deployment serves (GET /api/v1/cities); another is not found here.
    r = client.get("/api/v1/tickets", params={"city": "ternate"}, headers=auth(tokens["viewer"]))
    assert r.status_code == 404 and "not served here" in r.json()["detail"]


def test_detail_has_events_in_lifecycle_order(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    s = seed_tickets(writer)
    r = client.get("/api/v1/tickets/A1", headers=auth(tokens["viewer"]))
    assert r.status_code == 200
    body = r.json()
    assert body["ticket_id"] == "A1" and body["status"] == "resolved" and body["description"] is None
    assert [(e["status"], e["at"].replace("Z", "+00:00")) for e in body["events"]] == [
        ("open", iso(s.t0)),
        ("assigned", iso(s.t0)),
        ("resolved", iso(s.t0 + 30 * M)),
    ]
    first = body["events"][0]
    assert (first["title"], first["priority"], first["district"], first["lat"]) == (
        "Kecelakaan lalu lintas",
        "high",
        "morotai-selatan",
        2.05,
    )
    assert body["events"][1]["title"] is None and first["received_at"]
    reopened = client.get("/api/v1/tickets/A4", params={"city": "morotai"}, headers=auth(tokens["viewer"])).json()
    assert [e["status"] for e in reopened["events"]] == ["open", "resolved", "open", "resolved"]
    p2 = client.get("/api/v1/tickets/P2", headers=auth(tokens["viewer"])).json()
    assert p2["events"][0]["due_at"].replace("Z", "+00:00") == iso(s.t0 + 9 * H + 30 * M)
    assert p2["events"][1]["due_at"] is None


def test_detail_404_and_401(client: TestClient, tokens: dict[str, str], writer: BatchWriter) -> None:
    seed_tickets(writer)
    r = client.get("/api/v1/tickets/NOPE", headers=auth(tokens["viewer"]))
    assert r.status_code == 404 and "NOPE" in r.json()["detail"]
    assert (
        client.get("/api/v1/tickets/A1", params={"city": "ternate"}, headers=auth(tokens["viewer"])).status_code == 404
    )
    assert client.get("/api/v1/tickets/A1").status_code == 401
    assert client.get("/api/v1/tickets").status_code == 401
    assert client.get("/api/v1/tickets", params={"agency": "nope"}).status_code == 401  # auth before validation


def test_lapor_stage_late_is_shown_and_filtered(
    client: TestClient, tokens: dict[str, str], writer: BatchWriter
) -> None:
    now = now_ms() // M * M
    writer.write(
        [
            # 30 calendar days in verifikasi (3 working days): late whatever the holidays.
            _ev("L1", "open", now - 30 * D, agency="dinas-pupr", service="perbaikan-jalan", stage="verifikasi"),
            # Just entered tindak lanjut: not late.
            _ev("L2", "open", now - 30 * D, agency="dinas-pupr", service="perbaikan-jalan", stage="verifikasi"),
            _ev("L2", "assigned", now - M, agency="dinas-pupr", stage="tindak_lanjut"),
            # Late in its stage but resolved: a closed ticket is late in nothing.
            _ev("L3", "open", now - 30 * D, agency="dinas-pupr", service="perbaikan-jalan", stage="verifikasi"),
            _ev("L3", "resolved", now - 20 * D, agency="dinas-pupr"),
        ]
    )
    tok = tokens["viewer"]
    by = {t["ticket_id"]: t for t in client.get("/api/v1/tickets", headers=auth(tok)).json()["items"]}
    assert (by["L1"]["stage"], by["L1"]["stage_late"]) == ("verifikasi", True)
    assert (by["L2"]["stage"], by["L2"]["stage_late"]) == ("tindak_lanjut", False)
    assert by["L2"]["stage_since"].replace("Z", "+00:00") == from_ms(now - M).isoformat()
    assert by["L1"]["sla_working_days"] == 10
    assert (by["L3"]["stage"], by["L3"]["stage_late"]) == ("verifikasi", False)
    assert ids(client, tok, stage_late="true") == ["L1"]
    assert set(ids(client, tok, stage_late="false")) == {"L2", "L3"}
    # Per agency, for the regent view: in each stage, and late in it.
    stages = client.get("/api/v1/services/stages", headers=auth(tok)).json()
    assert stages["targets"] == {"verifikasi": 3, "tindak_lanjut": 5, "selesai": 10}
    (pupr,) = stages["agencies"]
    assert (pupr["agency"], pupr["agency_name"], pupr["late"]) == ("dinas-pupr", "PUPR", 1)
    assert pupr["stages"] == {
        "verifikasi": {"open": 1, "late": 1},
        "tindak_lanjut": {"open": 1, "late": 0},
        "selesai": {"open": 0, "late": 0},
    }
