"""Late SOP steps on a controlled clock, both databases: found once, logged, shown late, escalated through the
duty rota and the webhook outbox to a receiver on 127.0.0.1, announced on the live channel."""

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
        on_duty=lambda at, agency: on_duty(rota, at, agency=agency),
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
