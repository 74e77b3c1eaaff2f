"""Alarm routes on both databases: list, as-of, detail with history, ack/clear/comment by role, rules, shelves."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from ingest.messages import Point, Reading
from ingest.writer import BatchWriter, Item
from tests.app.conftest import auth

NOW = int(time.time() * 1000)
RIVER = "awlr-sungai-pilowo"


def level(writer: BatchWriter, value: float, ts: int) -> None:
    r = Reading("morotai", RIVER, (Point("water_level_cm", ts, value),))
    writer.write([Item(f"city/morotai/sensor/{RIVER}", b"{}", NOW, r)])


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
        "threshold.water_level_cm", "major", "active", RIVER, "morotai-selatan",
    )  # fmt: skip
    assert "Tinggi muka air" in a["message"] and "AWLR Sungai Pilowo" in a["message"]
    en = client.get("/api/v1/alarms?lang=en", headers=h).json()["items"][0]
    assert en["message"].startswith("Water level")
    ov = client.get("/api/v1/overview", headers=h).json()
    assert ov["alarms"] == {"critical": 0, "major": 1, "minor": 0, "warning": 0, "total": 1, "unacknowledged": 1}


def test_a_viewer_cannot_acknowledge_an_operator_can_and_the_history_says_who(client: TestClient, tokens, alarm_id: int) -> None:
    r = client.post(f"/api/v1/alarms/{alarm_id}/ack", json={"comment": "x"}, headers=auth(tokens["viewer"]))
    assert r.status_code == 403
    r = client.post(f"/api/v1/alarms/{alarm_id}/ack", json={"comment": "tim BPBD berangkat"}, headers=auth(tokens["operator"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "acknowledged" and body["acknowledged_by"] == "test-operator"
    assert [(e["action"], e["by"], e["comment"]) for e in body["history"]] == [
        ("raised", None, None), ("acknowledged", "test-operator", "tim BPBD berangkat"),
    ]  # fmt: skip
    again = client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=auth(tokens["operator"]))
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()
    assert any(r["action"] == "alarm.ack" and r["target"] == str(alarm_id) for r in audit["items"])


def test_comment_and_clear_by_hand_then_a_cleared_alarm_cannot_be_acknowledged(client: TestClient, tokens, alarm_id: int) -> None:
    op = auth(tokens["operator"])
    assert client.post(f"/api/v1/alarms/{alarm_id}/comment", json={"comment": ""}, headers=op).status_code == 422
    assert client.post(f"/api/v1/alarms/{alarm_id}/comment", json={"comment": "sensor dicek"}, headers=op).status_code == 200
    r = client.post(f"/api/v1/alarms/{alarm_id}/clear", json={"comment": "false alarm"}, headers=op)
    assert r.status_code == 200 and r.json()["state"] == "cleared" and r.json()["cleared_by"] == "test-operator"
    assert client.post(f"/api/v1/alarms/{alarm_id}/ack", headers=op).status_code == 409
    assert client.post("/api/v1/alarms/999999/ack", headers=op).status_code == 404


def test_the_alarms_open_at_a_past_instant_in_the_state_they_had(client: TestClient, tokens, alarm_id: int, writer) -> None:  # noqa: ANN001
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


def test_rules_are_listed_edited_by_an_admin_only_versioned_and_audited(client: TestClient, tokens) -> None:
    rules = client.get("/api/v1/alarm-rules", headers=auth(tokens["viewer"])).json()
    assert {r["rule_id"] for r in rules} >= {"threshold.water_level_cm", "silence.sources", "sla.overdue"}
    body = {"kind": "threshold", "metric": "water_level_cm", "op": "above", "hysteresis": 5, "duration_s": 30,
            "levels": [{"severity": "major", "value": 150}, {"severity": "critical", "value": 220}]}  # fmt: skip
    assert client.put("/api/v1/alarm-rules/threshold.water_level_cm", json=body, headers=auth(tokens["operator"])).status_code == 403
    r = client.put("/api/v1/alarm-rules/threshold.water_level_cm", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["params"]["levels"][0]["value"] == 150
    bad = dict(body, levels=[{"severity": "critical", "value": 100}, {"severity": "major", "value": 200}])
    r = client.put("/api/v1/alarm-rules/threshold.water_level_cm", json=bad, headers=auth(tokens["admin"]))
    assert r.status_code == 422 and "higher" in r.text
    r = client.put("/api/v1/alarm-rules/rate.x", json={"kind": "rate", "metric": "nope", "delta": 3}, headers=auth(tokens["admin"]))
    assert r.status_code == 422 and "unknown metric" in r.text
    assert client.delete("/api/v1/alarm-rules/sla.overdue", headers=auth(tokens["admin"])).status_code == 204
    assert client.delete("/api/v1/alarm-rules/sla.overdue", headers=auth(tokens["admin"])).status_code == 404
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()["items"]
    put = next(a for a in audit if a["action"] == "alarm_rule.put")
    assert '"version":2' in put["detail"] and '"value":150' in put["detail"]


def test_shelving_a_source_needs_an_admin_and_a_reason_and_stops_new_alarms(client: TestClient, tokens, writer) -> None:  # noqa: ANN001
    shelf = {"source_id": RIVER, "minutes": 60, "reason": "kalibrasi sensor"}
    assert client.post("/api/v1/alarm-shelves", json=shelf, headers=auth(tokens["operator"])).status_code == 403
    assert client.post("/api/v1/alarm-shelves", json={"minutes": 5, "reason": "xyz"}, headers=auth(tokens["admin"])).status_code == 422
    r = client.post("/api/v1/alarm-shelves", json=shelf, headers=auth(tokens["admin"]))
    assert r.status_code == 201 and r.json()["by"] == "test-admin"
    level(writer, 300, NOW)
    assert client.get("/api/v1/alarms", headers=auth(tokens["viewer"])).json()["total"] == 0
    listed = client.get("/api/v1/alarm-shelves", headers=auth(tokens["viewer"])).json()
    assert [s["reason"] for s in listed] == ["kalibrasi sensor"]
    assert client.delete(f"/api/v1/alarm-shelves/{listed[0]['id']}", headers=auth(tokens["admin"])).status_code == 204
    assert client.get("/api/v1/alarm-shelves", headers=auth(tokens["viewer"])).json() == []


def test_dead_letters_are_listed_for_admins_and_can_be_sent_again(client: TestClient, tokens) -> None:
    engine = client.app.state.engine
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO webhook_deliveries (alarm_id, url, payload, status, attempts, next_ms, claimed_until_ms, "
                 "last_error, created_ms, done_ms) VALUES (1, 'http://127.0.0.1:9/x', '{}', 'dead', 8, 0, 0, 'refused', 0, 1)")
        )  # fmt: skip
    assert client.get("/api/v1/alarm-webhooks", headers=auth(tokens["operator"])).status_code == 403
    dead = client.get("/api/v1/alarm-webhooks?status=dead", headers=auth(tokens["admin"])).json()
    assert dead["total"] == 1 and dead["items"][0]["last_error"] == "refused"
    d = dead["items"][0]["id"]
    assert client.post(f"/api/v1/alarm-webhooks/{d}/retry", headers=auth(tokens["admin"])).status_code == 204
    assert client.get("/api/v1/alarm-webhooks?status=pending", headers=auth(tokens["admin"])).json()["total"] == 1
    assert client.post(f"/api/v1/alarm-webhooks/{d}/retry", headers=auth(tokens["admin"])).status_code == 404
