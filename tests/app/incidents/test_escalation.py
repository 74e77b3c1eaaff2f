"""Late SOP steps on a controlled clock, both databases: found once, logged, shown late, escalated through the
duty rota and the webhook outbox to a receiver on 127.0.0.1, announced on the live channel; still open later,
escalated once more to the rota's level 2."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from app.live.notices import decode
from app.profile import load_profile
from app.rota import Contact, DutyRota, on_duty
from ingest.alarm_clock import AlarmClock
from tests.app.alarms.test_webhooks import Receiver
from tests.app.conftest import auth

MIN = 60_000


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def test_a_step_past_its_target_is_escalated_once_to_the_contact_on_duty(
    client: TestClient, tokens, settings, receiver: Receiver
) -> None:
    op = auth(tokens["operator"])
    inc = client.post(
        "/api/v1/incidents",
        json={
            "type": "banjir",
            "title": "Banjir Wayabula",
            "severity": "critical",
            "district": "morotai-selatan-barat",
        },
        headers=op,
    ).json()
    iid = inc["id"]
    opened = int(datetime.fromisoformat(inc["opened_at"]).timestamp() * 1000)
    client.post(f"/api/v1/incidents/{iid}/steps/verifikasi", json={"action": "done"}, headers=op)

    rota = DutyRota(
        timezone="Asia/Jayapura",
        default_agency="bpbd",
        contacts=(Contact(id="piket-bpbd", name="Piket Pusdalops", agency="bpbd", address=receiver.url),),
    )
    published: list[tuple[str, bytes]] = []
    clock = AlarmClock(
        client.app.state.engine,
        load_profile("morotai"),
        settings,
        lambda topic, payload: published.append((topic, payload)) or True,
        on_duty=lambda at, agency, level: on_duty(rota, at, agency=agency, level=level),
    )

    clock.tick(now_ms=opened + 11 * MIN)  # verifikasi (10 min) is done; lapor-pusdalops (15 min) is not due yet
    assert receiver.got == []
    late = [s for s in client.get(f"/api/v1/incidents/{iid}", headers=op).json()["steps"] if s["escalated_at"]]
    assert late == []

    clock.tick(now_ms=opened + 16 * MIN)  # the controlled clock: 16 minutes after it was opened
    assert len(receiver.got) == 1, receiver.got
    body = receiver.got[0][1]
    assert (body["kind"], body["incident_id"], body["step"], body["agency"]) == (
        "incident.step_late",
        iid,
        "lapor-pusdalops",
        "bpbd",
    )
    assert body["contact"]["name"] == "Piket Pusdalops" and "Pusdalops" in body["step_text"]
    assert body["due_at"] == datetime.fromtimestamp((opened + 15 * MIN) / 1000, tz=UTC).isoformat(
        timespec="milliseconds"
    ).replace("+00:00", "Z")
    notices = [decode(t, p) for t, p in published if t == "city/morotai/changes"]
    assert any(n and n["incidents"] == [{"incident_id": iid, "state": "open"}] for n in notices)

    now = client.get(f"/api/v1/incidents/{iid}", headers=op).json()
    step = next(s for s in now["steps"] if s["step"] == "lapor-pusdalops")
    assert step["late"] and step["escalated_at"] is not None and step["status"] == "open"
    entry = next(e for e in now["log"] if e["kind"] == "late")
    assert entry["by"] is None and entry["detail"]["step"] == "lapor-pusdalops"
    assert entry["detail"]["escalated_to"] == ["Piket Pusdalops"]

    clock.tick(now_ms=opened + 17 * MIN)  # found once: no second escalation of the same step
    assert len(receiver.got) == 1
    deliveries = client.get("/api/v1/alarm-webhooks", headers=auth(tokens["admin"])).json()["items"]
    assert [(d["incident_id"], d["alarm_id"], d["status"]) for d in deliveries] == [(iid, None, "delivered")]

    # A closed incident's steps are never late.
    for s in now["steps"]:
        if s["status"] == "open":
            body = {"action": "done"} if s["mandatory"] else {"action": "skip", "note": "tidak perlu"}
            client.post(f"/api/v1/incidents/{iid}/steps/{s['step']}", json=body, headers=op)
    assert client.post(f"/api/v1/incidents/{iid}/state", json={"state": "closed"}, headers=op).status_code == 200
    clock.tick(now_ms=opened + 200 * MIN)
    assert len(receiver.got) == 1


def test_a_late_step_still_open_goes_once_to_level_2_and_a_step_done_meanwhile_does_not(
    client: TestClient, tokens, settings, receiver: Receiver
) -> None:
    op, admin = auth(tokens["operator"]), auth(tokens["admin"])
    inc = client.post(
        "/api/v1/incidents",
        json={"type": "banjir", "title": "Banjir Sangowo", "severity": "major", "district": "morotai-timur"},
        headers=op,
    ).json()
    iid = inc["id"]
    opened = int(datetime.fromisoformat(inc["opened_at"]).timestamp() * 1000)
    step = {s["step"]: s for s in inc["steps"]}
    # The flood SOP names no delay of its own: the default, 30 minutes after the step went late.
    assert step["lapor-pusdalops"]["level2_after_min"] == 30 and step["kaji-cepat"]["level2_after_min"] is None
    client.post(f"/api/v1/incidents/{iid}/steps/verifikasi", json={"action": "done"}, headers=op)

    rota = DutyRota(
        timezone="Asia/Jayapura",
        default_agency="bpbd",
        contacts=(
            Contact(id="piket-bpbd", name="Piket Pusdalops", agency="bpbd", address=receiver.url),
            Contact(id="kalak-bpbd", name="Kalak BPBD", agency="bpbd", level=2, address=receiver.url),
        ),
    )
    clock = AlarmClock(
        client.app.state.engine,
        load_profile("morotai"),
        settings,
        lambda _topic, _payload: True,
        on_duty=lambda at, agency, level: on_duty(rota, at, agency=agency, level=level),
    )

    def sent(level: int) -> list[tuple[str, str]]:
        return [(b["step"], b["contact"]["id"]) for _, b in receiver.got if b["level"] == level]

    clock.tick(now_ms=opened + 16 * MIN)  # lapor-pusdalops (15 min) late: level 1
    clock.tick(now_ms=opened + 31 * MIN)  # info-camat (30 min) late: level 1
    assert sent(1) == [("lapor-pusdalops", "piket-bpbd"), ("info-camat", "piket-bpbd")] and sent(2) == []
    client.post(f"/api/v1/incidents/{iid}/steps/info-camat", json={"action": "done"}, headers=op)

    clock.tick(now_ms=opened + 45 * MIN)  # 29 minutes after lapor-pusdalops went late: not yet
    assert sent(2) == []
    clock.tick(now_ms=opened + 46 * MIN)
    assert sent(2) == [("lapor-pusdalops", "kalak-bpbd")]
    body = next(b for _, b in receiver.got if b["level"] == 2)
    assert (body["kind"], body["incident_id"], body["contact"]["name"]) == ("incident.step_late", iid, "Kalak BPBD")

    clock.tick(now_ms=opened + 47 * MIN)  # once only
    clock.tick(now_ms=opened + 200 * MIN)  # info-camat was done: never to level 2; later steps only reach level 1
    assert sent(2) == [("lapor-pusdalops", "kalak-bpbd")]

    now = client.get(f"/api/v1/incidents/{iid}", headers=op).json()
    s = next(s for s in now["steps"] if s["step"] == "lapor-pusdalops")
    assert datetime.fromisoformat(s["escalated_level2_at"]).timestamp() * 1000 == opened + 46 * MIN
    assert all(x["escalated_level2_at"] is None for x in now["steps"] if x["step"] != "lapor-pusdalops")
    level2 = [e for e in now["log"] if e["kind"] == "late" and e["detail"]["level"] == 2]
    assert [(e["by"], e["detail"]["step"], e["detail"]["escalated_to"]) for e in level2] == [
        (None, "lapor-pusdalops", ["Kalak BPBD"])
    ]
    audit = client.get("/api/v1/audit", headers=admin).json()["items"]
    late = [a for a in audit if a["action"] == "incident.step.late" and a["target"] == str(iid)]
    assert sum('"level":2' in a["detail"] for a in late) == 1 and all(a["actor"] == "satupintu" for a in late)
    # Replayed at an instant before it, the step was not escalated to level 2 yet.
    at = datetime.fromtimestamp((opened + 40 * MIN) / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    (past,) = client.get("/api/v1/incidents", params={"at": at}, headers=op).json()["items"]
    s = next(x for x in past["steps"] if x["step"] == "lapor-pusdalops")
    assert s["escalated_at"] is not None and s["escalated_level2_at"] is None
