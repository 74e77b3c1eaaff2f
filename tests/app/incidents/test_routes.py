"""Incidents over HTTP on both databases: open from an alarm and a ticket, work the SOP, refuse to close with an
open mandatory step, close; roles; links, handover, log, audit; the replay at a past instant; the summary."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ingest.messages import TicketEvent
from ingest.writer import BatchWriter, Item
from tests.app.alarms.evaluation import NOW, level
from tests.app.conftest import auth


@pytest.fixture
def alarm_id(writer: BatchWriter, client: TestClient, tokens: dict[str, str]) -> int:
    level(writer, 260, NOW - 60_000)  # past Awas (critical above 250 cm)
    body = client.get("/api/v1/alarms?state=open", headers=auth(tokens["viewer"])).json()
    assert body["total"] == 1, body
    return body["items"][0]["id"]


def ticket(writer: BatchWriter, tid: str, district: str = "morotai-selatan") -> None:
    ev = TicketEvent("morotai", "layanan-112", tid, "open", NOW - 30_000, service="ambulans", district=district)
    writer.write([Item("city/morotai/service/layanan-112", b"{}", NOW, ev)])


def test_the_flood_lifecycle_from_an_alarm_to_closed(client: TestClient, tokens, alarm_id: int, writer) -> None:
    op, viewer = auth(tokens["operator"]), auth(tokens["viewer"])
    r = client.post(
        "/api/v1/incidents",
        json={"title": "Banjir Sungai Pilowo", "severity": "critical", "alarm_ids": [alarm_id]},
        headers=op,
    )
    assert r.status_code == 201, r.text
    inc = r.json()
    # The type comes from the alarm's metric (water level -> banjir), the place from the alarm's source.
    assert (inc["type"], inc["state"], inc["district"], inc["owner"]) == (
        "banjir",
        "open",
        "morotai-selatan",
        "test-operator",
    )
    assert inc["lat"] is not None and "bpbd" in inc["agencies"]
    steps = {s["step"]: s for s in inc["steps"]}
    assert list(steps)[:3] == ["verifikasi", "lapor-pusdalops", "info-camat"]
    assert steps["lapor-pusdalops"]["within_min"] == 15 and steps["lapor-pusdalops"]["mandatory"]
    assert "Pusdalops" in steps["lapor-pusdalops"]["text"]
    assert [(k["kind"], k["ref"]) for k in inc["links"]] == [("alarm", str(alarm_id))]
    iid = inc["id"]

    # A viewer sees it and cannot tick.
    assert client.get(f"/api/v1/incidents/{iid}", headers=viewer).status_code == 200
    r = client.post(f"/api/v1/incidents/{iid}/steps/verifikasi", json={"action": "done"}, headers=viewer)
    assert r.status_code == 403

    r = client.post(
        f"/api/v1/incidents/{iid}/steps/verifikasi", json={"action": "done", "note": "AWLR 260 cm"}, headers=op
    )
    assert r.status_code == 200, r.text
    done = next(s for s in r.json()["steps"] if s["step"] == "verifikasi")
    assert (done["status"], done["done_by"], done["note"], done["late"]) == (
        "done",
        "test-operator",
        "AWLR 260 cm",
        False,
    )
    assert r.json()["first_action_at"] is not None
    again = client.post(f"/api/v1/incidents/{iid}/steps/verifikasi", json={"action": "done"}, headers=op)
    assert again.status_code == 409
    no_reason = client.post(f"/api/v1/incidents/{iid}/steps/evakuasi", json={"action": "skip"}, headers=op)
    assert no_reason.status_code == 422
    assert client.post(f"/api/v1/incidents/{iid}/steps/nope", json={"action": "done"}, headers=op).status_code == 404

    assert client.post(f"/api/v1/incidents/{iid}/state", json={"state": "responding"}, headers=op).status_code == 200
    # Closing with open mandatory steps is refused, and says which.
    r = client.post(f"/api/v1/incidents/{iid}/state", json={"state": "closed"}, headers=op)
    assert r.status_code == 409 and "lapor-pusdalops" in r.json()["detail"]
    assert client.get(f"/api/v1/incidents/{iid}", headers=viewer).json()["state"] == "responding"

    ticket(writer, "112-2026-000777")
    r = client.post(f"/api/v1/incidents/{iid}/links", json={"ticket_ids": ["112-2026-000777"]}, headers=op)
    assert r.status_code == 200 and ("ticket", "112-2026-000777") in [(k["kind"], k["ref"]) for k in r.json()["links"]]
    bad = client.post(f"/api/v1/incidents/{iid}/links", json={"ticket_ids": ["112-nope"]}, headers=op)
    assert bad.status_code == 422

    for s in inc["steps"]:
        if s["step"] == "verifikasi":
            continue
        body = {"action": "done"} if s["mandatory"] else {"action": "skip", "note": "tidak diperlukan"}
        assert client.post(f"/api/v1/incidents/{iid}/steps/{s['step']}", json=body, headers=op).status_code == 200
    r = client.post(
        f"/api/v1/incidents/{iid}/owner", json={"to": "operator-malam", "note": "serah terima shift"}, headers=op
    )
    assert r.status_code == 200 and r.json()["owner"] == "operator-malam"
    assert client.post(f"/api/v1/incidents/{iid}/log", json={"text": "air mulai surut"}, headers=op).status_code == 200
    r = client.post(f"/api/v1/incidents/{iid}/state", json={"state": "closed", "note": "selesai"}, headers=op)
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["state"] == "closed" and closed["closed_at"] is not None and closed["steps_open_mandatory"] == 0
    kinds = [e["kind"] for e in closed["log"]]
    assert kinds[:2] == ["opened", "link"] and kinds[-1] == "state" and "handover" in kinds and "note" in kinds
    # Closed is final.
    assert client.post(f"/api/v1/incidents/{iid}/state", json={"state": "responding"}, headers=op).status_code == 409
    assert (
        client.post(f"/api/v1/incidents/{iid}/steps/evakuasi", json={"action": "done"}, headers=op).status_code == 409
    )

    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()["items"]
    actions = {a["action"] for a in audit if a["target"] == str(iid)}
    assert {
        "incident.open",
        "incident.step.done",
        "incident.step.skip",
        "incident.state.closed",
        "incident.link",
    } <= actions

    summary = client.get("/api/v1/incidents/summary", headers=viewer).json()
    assert summary["total"] == 1 and summary["by_type"] == {"banjir": 1}
    assert summary["by_district"] == {"morotai-selatan": 1} and summary["close_median_min"] is not None


def test_opening_from_a_ticket_or_from_nothing_and_bad_input(client: TestClient, tokens, writer) -> None:
    op = auth(tokens["operator"])
    ticket(writer, "112-2026-000001", district="morotai-utara")
    r = client.post(
        "/api/v1/incidents",
        json={"title": "Tabrakan di Bere-Bere", "severity": "major", "ticket_ids": ["112-2026-000001"]},
        headers=op,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["type"], r.json()["district"]) == ("kecelakaan", "morotai-utara")
    phone = client.post(
        "/api/v1/incidents",
        json={
            "type": "kebakaran",
            "title": "Rumah terbakar, Daruba",
            "severity": "major",
            "district": "morotai-selatan",
            "note": "telepon warga",
        },
        headers=op,
    )
    assert phone.status_code == 201 and phone.json()["steps"][0]["step"] == "damkar"
    for body in (
        {"title": "x", "severity": "major"},  # no type and nothing to take one from
        {"type": "unknown-type", "title": "x", "severity": "major"},
        {"type": "banjir", "title": "x", "severity": "awas"},
        {"type": "banjir", "title": "  ", "severity": "major"},
        {"type": "banjir", "title": "x", "severity": "major", "district": "atlantis"},
        {"type": "banjir", "title": "x", "severity": "major", "alarm_ids": [999999]},
        {"type": "banjir", "title": "x\x00", "severity": "major"},
    ):
        assert client.post("/api/v1/incidents", json=body, headers=op).status_code == 422, body
    assert (
        client.post(
            "/api/v1/incidents",
            json={"type": "banjir", "title": "x", "severity": "major"},
            headers=auth(tokens["viewer"]),
        ).status_code
        == 403
    )
    # A cancel needs a reason.
    iid = phone.json()["id"]
    assert client.post(f"/api/v1/incidents/{iid}/state", json={"state": "cancelled"}, headers=op).status_code == 422
    r = client.post(f"/api/v1/incidents/{iid}/state", json={"state": "cancelled", "note": "laporan palsu"}, headers=op)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    active = client.get("/api/v1/incidents?state=active", headers=op).json()
    assert [i["type"] for i in active["items"]] == ["kecelakaan"]


def test_the_incidents_open_at_a_past_instant_as_they_were(client: TestClient, tokens) -> None:
    op = auth(tokens["operator"])
    iid = client.post(
        "/api/v1/incidents", json={"type": "gempa", "title": "Gempa M5,6", "severity": "major"}, headers=op
    ).json()["id"]
    before = client.get(f"/api/v1/incidents/{iid}", headers=op).json()["opened_at"]
    client.post(f"/api/v1/incidents/{iid}/steps/info-bmkg", json={"action": "done"}, headers=op)
    client.post(f"/api/v1/incidents/{iid}/state", json={"state": "responding"}, headers=op)
    past = client.get("/api/v1/incidents", params={"at": before}, headers=op).json()
    assert past["total"] == 1
    then = past["items"][0]
    assert then["state"] == "open" and next(s for s in then["steps"] if s["step"] == "info-bmkg")["status"] == "open"
    assert client.get("/api/v1/incidents", params={"at": "2020-01-01T00:00:00Z"}, headers=op).json()["total"] == 0


def test_admins_edit_sops_versioned_in_the_audit_log(client: TestClient, tokens) -> None:
    admin, op = auth(tokens["admin"]), auth(tokens["operator"])
    sops = {s["id"]: s for s in client.get("/api/v1/incident-sops", headers=op).json()}
    assert {"banjir", "longsor", "gempa", "tsunami", "kebakaran", "kecelakaan", "gangguan-sumber"} <= set(sops)
    body = sops["kebakaran"]["body"]
    body["steps"].append(
        {
            "id": "pmi",
            "agency": "dinas-kesehatan",
            "mandatory": False,
            "text": {"id": "Hubungi PMI untuk bantuan darurat", "en": "Call the Red Cross (PMI)"},
        }
    )
    assert client.put("/api/v1/incident-sops/kebakaran", json=body, headers=op).status_code == 403
    r = client.put("/api/v1/incident-sops/kebakaran", json=body, headers=admin)
    assert r.status_code == 200 and (r.json()["version"], r.json()["origin"]) == (2, "admin")
    bad = dict(body, steps=[{"id": "x", "agency": "nasa", "text": {"id": "a", "en": "b"}}])
    assert client.put("/api/v1/incident-sops/kebakaran", json=bad, headers=admin).status_code == 422
    assert client.put("/api/v1/incident-sops/kebakaran", json={"name": {"id": "a"}}, headers=admin).status_code == 422
    audit = client.get("/api/v1/audit", headers=admin).json()["items"]
    assert any(
        a["action"] == "incident_sop.put" and a["target"] == "kebakaran@v2" and "PMI" in a["detail"] for a in audit
    )
    inc = client.post(
        "/api/v1/incidents", json={"type": "kebakaran", "title": "x", "severity": "minor"}, headers=op
    ).json()
    assert inc["sop_version"] == 2 and inc["steps"][-1]["step"] == "pmi"
