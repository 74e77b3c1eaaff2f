"""Alarm rule routes on both databases: listed, edited by an admin only, versioned and audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.app.conftest import auth


def test_rules_are_listed_edited_by_an_admin_only_versioned_and_audited(client: TestClient, tokens) -> None:
    rules = client.get("/api/v1/alarm-rules", headers=auth(tokens["viewer"])).json()
    assert {r["rule_id"] for r in rules} >= {"threshold.water_level_cm", "silence.sources", "sla.overdue"}
    body = {
        "kind": "threshold",
        "metric": "water_level_cm",
        "op": "above",
        "hysteresis": 5,
        "duration_s": 30,
        "levels": [{"severity": "major", "value": 150}, {"severity": "critical", "value": 220}],
    }
    assert (
        client.put(
            "/api/v1/alarm-rules/threshold.water_level_cm", json=body, headers=auth(tokens["operator"])
        ).status_code
        == 403
    )
    r = client.put("/api/v1/alarm-rules/threshold.water_level_cm", json=body, headers=auth(tokens["admin"]))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["params"]["levels"][0]["value"] == 150
    bad = dict(body, levels=[{"severity": "critical", "value": 100}, {"severity": "major", "value": 200}])
    r = client.put("/api/v1/alarm-rules/threshold.water_level_cm", json=bad, headers=auth(tokens["admin"]))
    assert r.status_code == 422 and "higher" in r.text
    r = client.put(
        "/api/v1/alarm-rules/rate.x", json={"kind": "rate", "metric": "nope", "delta": 3}, headers=auth(tokens["admin"])
    )
    assert r.status_code == 422 and "unknown metric" in r.text
    assert client.delete("/api/v1/alarm-rules/sla.overdue", headers=auth(tokens["admin"])).status_code == 204
    assert client.delete("/api/v1/alarm-rules/sla.overdue", headers=auth(tokens["admin"])).status_code == 404
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()["items"]
    put = next(a for a in audit if a["action"] == "alarm_rule.put")
    assert '"version":2' in put["detail"] and '"value":150' in put["detail"]
