"""Incidents opened from a situation (issue 17's alarms of one cause) and situations linked later, on both
databases, the alarms raised through the ingestor's own write path: every member alarm is linked, the type,
district and severity come from the situation, an unknown situation is a 422."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.app.alarms.test_situation_routes import STORM, storm  # noqa: F401 - the storm fixture
from tests.app.conftest import auth


@pytest.fixture
def situation(client: TestClient, tokens: dict[str, str], storm: list[str]) -> dict:  # noqa: F811
    (sit,) = client.get("/api/v1/situations", headers=auth(tokens["viewer"])).json()["situations"]
    assert sit["alarm_count"] == len(STORM)
    return sit


def test_opening_from_a_situation_links_every_alarm_and_takes_its_type_place_and_severity(
    client: TestClient, tokens, situation
) -> None:
    op = auth(tokens["operator"])
    r = client.post(
        "/api/v1/incidents", json={"title": "Hujan lebat Morotai Selatan", "situation_id": situation["id"]}, headers=op
    )
    assert r.status_code == 201, r.text
    inc = r.json()
    # Rain gauges -> the flood SOP; the situation's district and its worst open severity (3 alarms are Awas).
    assert (inc["type"], inc["district"], inc["severity"]) == ("banjir", "morotai-selatan", "critical")
    assert sorted(int(k["ref"]) for k in inc["links"] if k["kind"] == "alarm") == sorted(situation["alarm_ids"])
    links = [e for e in inc["log"] if e["kind"] == "link"]
    assert len(links) == len(STORM) and {e["detail"]["situation"] for e in links} == {situation["id"]}
    # What the operator gives wins over the situation's defaults.
    r = client.post(
        "/api/v1/incidents",
        json={"title": "x", "situation_id": situation["id"], "type": "longsor", "severity": "minor"},
        headers=op,
    )
    assert r.status_code == 201 and (r.json()["type"], r.json()["severity"]) == ("longsor", "minor")
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()["items"]
    assert any(a["action"] == "incident.open" and situation["id"] in a["detail"] for a in audit)


def test_an_unknown_situation_or_nothing_to_take_the_severity_from_is_a_422(
    client: TestClient, tokens, situation
) -> None:
    op = auth(tokens["operator"])
    for bad in ("s-999999", "s-", "12", situation["id"] + "0"):
        r = client.post("/api/v1/incidents", json={"title": "x", "situation_id": bad}, headers=op)
        assert r.status_code == 422, (bad, r.text)
    r = client.post("/api/v1/incidents", json={"title": "x", "type": "banjir"}, headers=op)
    assert r.status_code == 422 and "severity" in r.text
    viewer = auth(tokens["viewer"])
    r = client.post("/api/v1/incidents", json={"title": "x", "situation_id": situation["id"]}, headers=viewer)
    assert r.status_code == 403
    assert client.get("/api/v1/incidents", headers=viewer).json()["total"] == 0


def test_a_situation_linked_to_a_running_incident(client: TestClient, tokens, situation) -> None:
    op = auth(tokens["operator"])
    r = client.post(
        "/api/v1/incidents",
        json={"title": "Telepon warga: air naik", "type": "banjir", "severity": "minor", "note": "Kades Sangowo"},
        headers=op,
    )
    iid = r.json()["id"]
    (first, *rest) = situation["alarm_ids"]
    r = client.post(f"/api/v1/incidents/{iid}/links", json={"alarm_ids": [first]}, headers=op)
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/incidents/{iid}/links", json={"situation_id": situation["id"]}, headers=op)
    assert r.status_code == 200, r.text
    linked = [int(k["ref"]) for k in r.json()["links"] if k["kind"] == "alarm"]
    assert sorted(linked) == sorted(situation["alarm_ids"])  # the one linked before is not doubled
    assert sum(1 for e in r.json()["log"] if e["kind"] == "link" and e["detail"].get("situation")) == len(rest)
    again = client.post(f"/api/v1/incidents/{iid}/links", json={"situation_id": situation["id"]}, headers=op)
    assert len(again.json()["links"]) == len(STORM)
    r = client.post(f"/api/v1/incidents/{iid}/links", json={"situation_id": "s-999999"}, headers=op)
    assert r.status_code == 422 and "s-999999" in r.text
    r = client.post("/api/v1/incidents/999999/links", json={"alarm_ids": [first]}, headers=op)
    assert r.status_code == 404
    viewer = auth(tokens["viewer"])
    r = client.post(f"/api/v1/incidents/{iid}/links", json={"situation_id": situation["id"]}, headers=viewer)
    assert r.status_code == 403
