"""Alarm routes on both databases: list, as-of, detail with history, ack/clear/comment by role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ingest.writer import BatchWriter
from tests.app.alarms.evaluation import NOW, RIVER, level
from tests.app.conftest import auth


@pytest.fixture
def alarm_id(writer: BatchWriter, client: TestClient, tokens: dict[str, str]) -> int:
    level(writer, 200, NOW - 120_000)
    level(writer, 205, NOW - 60_000)  # same level: no new alarm, no rate alarm (rise 5 cm)
    body = client.get("/api/v1/alarms?state=open", headers=auth(tokens["viewer"])).json()
    assert body["total"] == 1, body
    return body["items"][0]["id"]


def test_an_alarm_is_listed_with_its_message_in_both_languages(client: TestClient, tokens, alarm_id: int) -> None:
    h = auth(tokens["viewer"])
    a = client.get("/api/v1/alarms", headers=h).json()["items"][0]
    assert (a["rule"], a["severity"], a["state"], a["source_id"], a["district"]) == (
        "threshold.water_level_cm",
        "major",
        "active",
        RIVER,
        "morotai-selatan",
    )
    assert "Tinggi muka air" in a["message"] and "AWLR Sungai Pilowo" in a["message"]
    en = client.get("/api/v1/alarms?lang=en", headers=h).json()["items"][0]
    assert en["message"].startswith("Water level")
    ov = client.get("/api/v1/overview", headers=h).json()
    assert ov["alarms"] == {"critical": 0, "major": 1, "minor": 0, "warning": 0, "total": 1, "unacknowledged": 1}


def test_a_viewer_cannot_acknowledge_an_operator_can_and_the_history_says_who(
    client: TestClient, tokens, alarm_id: int
) -> None:
    r = client.post(f"/api/v1/alarms/{alarm_id}/ack", json={"comment": "x"}, headers=auth(tokens["viewer"]))
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/alarms/{alarm_id}/ack", json={"comment": "tim BPBD berangkat"}, headers=auth(tokens["operator"])
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "acknowledged" and body["acknowledged_by"] == "test-operator"
    assert [(e["action"], e["by"], e["comment"]) for e in body["history"]] == [
        ("raised", None, None),
        ("acknowledged", "test-operator", "tim BPBD berangkat"),
    ]
    again = client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=auth(tokens["operator"]))
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()
    assert any(r["action"] == "alarm.ack" and r["target"] == str(alarm_id) for r in audit["items"])


def test_comment_and_clear_by_hand_then_a_cleared_alarm_cannot_be_acknowledged(
    client: TestClient, tokens, alarm_id: int
) -> None:
    op = auth(tokens["operator"])
    assert client.post(f"/api/v1/alarms/{alarm_id}/comment", json={"comment": ""}, headers=op).status_code == 422
    assert (
        client.post(f"/api/v1/alarms/{alarm_id}/comment", json={"comment": "sensor dicek"}, headers=op).status_code
        == 200
    )
    r = client.post(f"/api/v1/alarms/{alarm_id}/clear", json={"comment": "false alarm"}, headers=op)
    assert r.status_code == 200 and r.json()["state"] == "cleared" and r.json()["cleared_by"] == "test-operator"
    assert client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=op).status_code == 409
    assert client.post("/api/v1/alarms/999999/ack", headers=op).status_code == 404


def test_the_alarms_open_at_a_past_instant_in_the_state_they_had(
    client: TestClient, tokens, alarm_id: int, writer
) -> None:
    op = auth(tokens["operator"])
    client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=op)
    level(writer, 100, NOW)  # clears it
    assert client.get("/api/v1/alarms?state=open", headers=op).json()["total"] == 0
    raised = client.get(f"/api/v1/alarms/{alarm_id}", headers=op).json()["raised_at"]
    at = client.get("/api/v1/alarms", params={"at": raised}, headers=op).json()
    assert [(a["id"], a["state"]) for a in at["items"]] == [(alarm_id, "active")]  # acknowledged only later
    before = client.get("/api/v1/alarms", params={"at": "2020-01-01T00:00:00Z"}, headers=op).json()
    assert before["total"] == 0
    bad = client.get("/api/v1/alarms", params={"at": "2020-01-01T00:00:00"}, headers=op)
    assert bad.status_code == 422  # an instant needs its offset
