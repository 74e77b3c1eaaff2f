"""GET /api/v1/alerts and our alarms out as CAP 1.2: every document validates against the OASIS XSD (xmlschema)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import xmlschema
from defusedxml.ElementTree import fromstring
from fastapi.testclient import TestClient

from app.profile import load_profile
from app.settings import Settings
from ingest.committer import WritePath
from ingest.parser import ParseRules, parse
from ingest.writer import Item
from tests.app.alerts.capdocs import BMKG, cap, quake
from tests.app.conftest import auth

PROFILE = load_profile("morotai")
XSD = Path(__file__).parents[2] / "vectors" / "cap" / "CAP-v1.2.xsd"
VECTORS = Path(__file__).parents[2] / "vectors" / "bmkg"
ATOM = "{http://www.w3.org/2005/Atom}"


@cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def publish(writer: WritePath, *docs: bytes) -> None:
    rules = ParseRules.from_profile(PROFILE, Settings())
    now = int(time.time() * 1000)
    topic = "city/morotai/alert/bmkg"
    writer.write([Item(topic, d, now, parse(topic, d, now, rules)) for d in docs])


def test_alerts_list_with_relevance_and_areas(client: TestClient, tokens, writer: WritePath) -> None:
    publish(writer, (VECTORS / "nowcast_cap_banten.xml").read_bytes(), cap("n-1"), quake("q-1"))
    h = auth(tokens["viewer"])
    every = client.get("/api/v1/alerts?state=all", headers=h).json()
    assert every["total"] == 3
    ours = client.get("/api/v1/alerts?state=all&relevant=true", headers=h).json()["items"]
    assert {a["identifier"] for a in ours} == {"n-1", "q-1"}
    n1 = next(a for a in ours if a["identifier"] == "n-1")
    assert n1["districts"] == ["morotai-utara"] and n1["distance_km"] == 0
    assert n1["areas"]["features"][0]["geometry"]["type"] == "Polygon"
    for key in (
        "identifier",
        "sender",
        "event",
        "category",
        "severity",
        "urgency",
        "certainty",
        "headline",
        "description",
        "effective",
        "expires",
        "relevant",
        "distance_km",
        "districts",
        "areas",
    ):
        assert key in n1
    q1 = next(a for a in ours if a["identifier"] == "q-1")
    assert q1["parameters"]["magnitude"] == "6.1" and q1["alarm_severity"] == "critical"
    far = client.get("/api/v1/alerts?state=all&relevant=false", headers=h).json()["items"]
    assert [a["sender"] for a in far] == ["cuaca.ekstrem@bmkg.go.id"]
    # The Banten sample expired in February: not active now.
    assert client.get("/api/v1/alerts", headers=h).json()["total"] == 2
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.get("/api/v1/alerts?state=soon", headers=h).status_code == 422


def test_our_alarms_out_as_cap_validate_against_the_oasis_schema(client: TestClient, tokens, writer: WritePath) -> None:
    publish(writer, cap("n-1", severity="Moderate", headline="Hujan &lt;lebat&gt; &amp; petir"), quake("q-1"))
    h = auth(tokens["viewer"])
    feed = client.get("/api/v1/cap/alerts.atom", headers=h)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    root = fromstring(feed.content)
    links = [e.find(f"{ATOM}link").get("href") for e in root.iter(f"{ATOM}entry")]
    assert len(links) == 2
    docs = {}
    for href in links:
        r = client.get(href.replace("http://testserver", ""), headers=h)
        assert r.headers["content-type"] == "application/cap+xml"
        schema().validate(r.content)  # raises when invalid
        docs[href] = r.content
    assert any(b"<msgType>Alert</msgType>" in d for d in docs.values())
    assert any(b"&lt;lebat&gt; &amp;" in d for d in docs.values())  # free text escaped, never markup

    # An Update escalates the nowcast's alarm: its document becomes an Update referencing the first; a Cancel, a Cancel.
    publish(writer, cap("n-1b", severity="Extreme", msg_type="Update", references=f"{BMKG},n-1,x"))
    alarm_id = client.get("/api/v1/alarms?state=active", headers=h).json()
    nowcast = next(a for a in alarm_id["items"] if a["value"] is None)["id"]
    upd = client.get(f"/api/v1/cap/alerts/{nowcast}.xml", headers=h).content
    schema().validate(upd)
    assert b"<msgType>Update</msgType>" in upd and b"<severity>Extreme</severity>" in upd and b"<references>" in upd
    publish(writer, cap("n-1c", msg_type="Cancel", references=f"{BMKG},n-1b,x"))
    gone = client.get(f"/api/v1/cap/alerts/{nowcast}.xml", headers=h).content
    schema().validate(gone)
    assert b"<msgType>Cancel</msgType>" in gone and b"<urgency>Past</urgency>" in gone
    assert client.get("/api/v1/cap/alerts/999999.xml", headers=h).status_code == 404


def test_cap_out_needs_a_token_unless_severities_are_public(settings: Settings, tokens, writer: WritePath) -> None:
    from app.api.main import create_app

    publish(writer, cap("n-1", severity="Moderate"), quake("q-1"))
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/v1/cap/alerts.atom").status_code == 401
    public = settings.model_copy(update={"cap_out_public_severities": ["critical"]})
    with TestClient(create_app(public)) as c:
        feed = fromstring(c.get("/api/v1/cap/alerts.atom").content)
        entries = list(feed.iter(f"{ATOM}entry"))
        assert len(entries) == 1  # the quake (Awas) only
        with_token = fromstring(c.get("/api/v1/cap/alerts.atom", headers=auth(tokens["viewer"])).content)
        assert len(list(with_token.iter(f"{ATOM}entry"))) == 2


def test_alerts_in_force_at_a_past_instant_for_replay(client: TestClient, tokens, writer: WritePath) -> None:
    h = auth(tokens["viewer"])
    publish(writer, cap("n-1"))
    between = datetime.now(UTC)
    time.sleep(0.01)
    publish(writer, cap("n-1c", msg_type="Cancel", references=f"{BMKG},n-1,x"))
    before = client.get("/api/v1/alerts", headers=h, params={"at": between.isoformat()}).json()
    assert [a["identifier"] for a in before["items"]] == ["n-1"]  # in force then, cancelled since
    assert client.get("/api/v1/alerts", headers=h).json()["total"] == 0
    assert client.get("/api/v1/alerts", headers=h, params={"at": "2026-01-01T00:00:00"}).status_code == 422
