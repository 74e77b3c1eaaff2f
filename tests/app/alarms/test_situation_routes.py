"""Situation routes on both databases, alarms raised through the ingestor's own write path: a flood in one
district is one situation with a flood; acknowledging it acknowledges its members, each in its own history."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from ingest.committer import WritePath
from ingest.messages import Point, Reading
from ingest.writer import Item
from tests.app.conftest import auth

STORM = [f"awlr-banjir-{i:02d}" for i in range(1, 13)]  # 12 new river gauges, all in Morotai Selatan


def river(writer: WritePath, source: str, cm: float, ts_ms: int, district: str = "morotai-selatan") -> None:
    r = Reading("morotai", source, (Point("water_level_cm", ts_ms, cm),), district, None, None)
    writer.write([Item(f"city/morotai/sensor/{source}", b"{}", ts_ms, r)])


@pytest.fixture
def storm(writer: WritePath) -> list[str]:
    now = int(time.time() * 1000)
    for i, src in enumerate(STORM):  # 12 breaches within a minute: 3 of them Awas (> 250 cm)
        river(writer, src, 260.0 if i < 3 else 200.0, now - 60_000 + i * 5000)
    river(writer, "awlr-rao", 200.0, now, district="pulau-rao")  # another district: an alarm of its own
    return STORM


def test_a_storm_in_one_district_is_one_situation_and_a_flood(client: TestClient, tokens, storm) -> None:
    h = auth(tokens["viewer"])
    body = client.get("/api/v1/situations", headers=h).json()
    (sit,) = body["situations"]  # the lone Pulau Rao alarm is no situation
    assert sit["title"] == "Banjir sungai Morotai Selatan"
    assert (sit["cause"], sit["hazard"], sit["district"], sit["severity"], sit["state"]) == (
        "hazard",
        "river",
        "morotai-selatan",
        "critical",
        "active",
    )
    assert (sit["alarm_count"], sit["open_count"], sit["by_severity"]["critical"], sit["by_severity"]["major"]) == (
        12,
        12,
        3,
        9,
    )
    assert sit["id"] == f"s-{sit['alarm_ids'][0]}" and len(set(sit["alarm_ids"])) == 12
    en = client.get("/api/v1/situations?lang=en", headers=h).json()["situations"][0]
    assert en["title"] == "River flood Morotai Selatan" and en["id"] == sit["id"]
    flood = body["flood"]
    assert flood["active"] and flood["count"] == 13 and flood["threshold"] == 10 and flood["suppress_below"] == "major"
    assert flood["suppressed_ids"] == []  # every alarm is Siaga or Awas: nothing below the floor to hide
    assert body["stale_ids"] == [] and body["chattering"] == [] and body["escalated"] == {}


def test_acknowledging_the_situation_acknowledges_its_members(client: TestClient, tokens, storm) -> None:
    sit = client.get("/api/v1/situations", headers=auth(tokens["viewer"])).json()["situations"][0]
    url = f"/api/v1/situations/{sit['id']}/ack"
    assert client.post(url, json={"comment": "x"}, headers=auth(tokens["viewer"])).status_code == 403
    op = auth(tokens["operator"])
    first = sit["alarm_ids"][0]
    assert client.post(f"/api/v1/alarms/{first}/ack", headers=op).status_code == 200  # one acknowledged already
    r = client.post(url, json={"comment": "Tim BPBD ke Daruba"}, headers=op)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["acknowledged_ids"]) == sorted(sit["alarm_ids"][1:])
    for alarm_id in sit["alarm_ids"][1:]:
        a = client.get(f"/api/v1/alarms/{alarm_id}", headers=op).json()
        assert a["state"] == "acknowledged" and a["acknowledged_by"] == "test-operator"
        assert [(e["action"], e["comment"]) for e in a["history"]] == [
            ("raised", None),
            ("acknowledged", "Tim BPBD ke Daruba"),
        ]
    after = client.get("/api/v1/situations", headers=op).json()["situations"][0]
    assert (after["id"], after["state"], after["open_count"]) == (sit["id"], "acknowledged", 12)
    again = client.post(url, headers=op)
    assert again.status_code == 200 and again.json()["acknowledged_ids"] == []
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()["items"]
    assert any(a["action"] == "situation.ack" and a["target"] == sit["id"] for a in audit)


def test_unknown_and_malformed_situation_ids(client: TestClient, tokens, storm) -> None:
    op = auth(tokens["operator"])
    assert client.post("/api/v1/situations/s-999999/ack", headers=op).status_code == 404
    assert client.post("/api/v1/situations/999/ack", headers=op).status_code == 422
    assert client.get("/api/v1/situations?state=cleared", headers=op).status_code == 422


def test_all_includes_a_cleared_situation(client: TestClient, tokens, writer: WritePath) -> None:
    now = int(time.time() * 1000)
    for i, src in enumerate(STORM[:3]):
        river(writer, src, 200.0, now - 60_000 + i * 1000)
    for i, src in enumerate(STORM[:3]):
        river(writer, src, 100.0, now - 30_000 + i * 1000)
    h = auth(tokens["viewer"])
    assert client.get("/api/v1/situations", headers=h).json()["situations"] == []
    (sit,) = client.get("/api/v1/situations?state=all", headers=h).json()["situations"]
    assert (sit["state"], sit["alarm_count"], sit["open_count"]) == ("cleared", 3, 0)
