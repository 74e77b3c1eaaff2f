"""Open311 GeoReport v2 routes on both databases, in XML and JSON, against the shapes of the spec's examples.

The spec (wiki.open311.org/GeoReport_v2) gives one example per route; the field
names below are copied from them. XML answers are read with defusedxml: they
carry citizens' free text.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from defusedxml import ElementTree as SafeXML
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth.tokens import create_token
from app.http.timefmt import now_ms
from app.open311.store import erase_personal_data
from app.settings import Settings
from app.storage.models import Open311RequestRow
from ingest.writer import BatchWriter
from tests.app.conftest import auth
from tests.app.tickets.test_routes import _ev

M = 60_000
D = 86_400_000

# The spec's examples, field by field.
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
ATTRIBUTE_FIELDS = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
]
ENDPOINT_FIELDS = ["specification", "url", "changeset", "type", "formats"]


def xml(body: bytes) -> Any:
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return SafeXML.fromstring(body)


def children(el: Any) -> list[str]:
    return [c.tag for c in el]


def seed(writer: BatchWriter) -> int:
    now = now_ms() // M * M
    writer.write(
        [
            _ev(
                "R1",
                "open",
                now - 2 * D,
                "dinas-pupr",
                "perbaikan-jalan",
                description="Jalan <berlubang> & licin",
                lat=2.05,
                lon=128.3,
                district="morotai-selatan",
                stage="verifikasi",
            ),
            _ev("R2", "open", now - 3 * D, "pdam", "pengaduan-air", lat=2.3, lon=128.4),
            _ev("R2", "resolved", now - D, "pdam", None),
            # The emergency line is hidden from Open311 (profile: open311.hidden_agencies).
            _ev("E1", "open", now - D, "layanan-112", "ambulans", description="Kecelakaan"),
        ]
    )
    return now


def test_discovery_in_both_formats(client: TestClient) -> None:
    j = client.get("/open311/v2/discovery.json")
    assert j.status_code == 200 and j.headers["content-type"].startswith("application/json")
    body = j.json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    (ep,) = body["endpoints"]
    assert list(ep) == ENDPOINT_FIELDS
    assert ep["url"].endswith("/open311/v2") and ep["formats"] == ["text/xml", "application/json"]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
    x = client.get("/open311/v2/discovery.xml")
    assert x.headers["content-type"].startswith("text/xml")
    root = xml(x.content)
    assert root.tag == "discovery"
    endpoint = root.find("endpoints/endpoint")
    assert children(endpoint) == ENDPOINT_FIELDS
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_and_a_definition_in_both_formats(client: TestClient) -> None:
    services = client.get("/open311/v2/services.json").json()
    codes = [s["service_code"] for s in services]
    assert "perbaikan-jalan" in codes and "ambulans" not in codes and "rujukan-pasien" not in codes
    road = next(s for s in services if s["service_code"] == "perbaikan-jalan")
    assert list(road) == SERVICE_FIELDS
    assert (road["group"], road["type"], road["metadata"]) == ("PUPR", "batch", True)
    assert "10 hari kerja" in road["description"]
    root = xml(client.get("/open311/v2/services.xml").content)
    assert root.tag == "services" and children(root) == ["service"] * len(services)
    assert children(root[0]) == SERVICE_FIELDS
    assert root[0].findtext("metadata") == "true"

    d = client.get("/open311/v2/services/perbaikan-jalan.json").json()
    assert d["service_code"] == "perbaikan-jalan"
    assert [a["code"] for a in d["attributes"]] == ["district", "stage"]
    assert list(d["attributes"][1]) == ATTRIBUTE_FIELDS
    assert [v["key"] for v in d["attributes"][1]["values"]] == ["verifikasi", "tindak_lanjut", "selesai"]
    root = xml(client.get("/open311/v2/services/perbaikan-jalan.xml").content)
    assert root.tag == "service_definition"
    attr = root.find("attributes/attribute")
    assert children(attr) == ATTRIBUTE_FIELDS
    assert children(attr.find("values/value")) == ["key", "name"]


def test_requests_in_both_formats_without_personal_data(
    client: TestClient, tokens: dict[str, str], writer: BatchWriter
) -> None:
    seed(writer)
    key = {"api_key": tokens["reporter"]}
    listed = client.get("/open311/v2/requests.json", params=key)
    assert listed.status_code == 200, listed.text
    by = {r["service_request_id"]: r for r in listed.json()}
    assert set(by) == {"R1", "R2"}  # the emergency line's ticket is not served
    r1 = by["R1"]
    assert list(r1) == REQUEST_FIELDS
    assert (r1["status"], r1["status_notes"], r1["service_code"]) == (
        "open",
        "open; tahap verifikasi",
        "perbaikan-jalan",
    )
    assert r1["requested_datetime"].endswith("+09:00") and r1["expected_datetime"].endswith("+09:00")
    assert (r1["lat"], r1["long"], r1["description"]) == (2.05, 128.3, "Jalan <berlubang> & licin")
    assert r1["agency_responsible"] == "Dinas Pekerjaan Umum dan Penataan Ruang"
    assert by["R2"]["status"] == "closed"
    # Filters: status, service_code, ids; the spec's comma lists.
    assert [
        r["service_request_id"]
        for r in client.get("/open311/v2/requests.json", params={**key, "status": "closed"}).json()
    ] == ["R2"]
    assert [
        r["service_request_id"]
        for r in client.get("/open311/v2/requests.json", params={**key, "service_code": "perbaikan-jalan,x"}).json()
    ] == ["R1"]
    assert {
        r["service_request_id"]
        for r in client.get("/open311/v2/requests.json", params={**key, "service_request_id": "R1,R2,E1"}).json()
    } == {"R1", "R2"}
    # XML: free text escaped, elements in the spec's order.
    x = client.get("/open311/v2/requests.xml", params=key)
    assert b"Jalan &lt;berlubang&gt; &amp; licin" in x.content
    root = xml(x.content)
    assert root.tag == "service_requests" and children(root) == ["request", "request"]
    req = next(r for r in root if r.findtext("service_request_id") == "R1")
    assert children(req) == REQUEST_FIELDS
    assert req.findtext("description") == "Jalan <berlubang> & licin"
    # One request, both formats; the hidden agency's is 404.
    one = client.get("/open311/v2/requests/R1.json", params=key).json()
    assert len(one) == 1 and one[0] == r1
    root = xml(client.get("/open311/v2/requests/R1.xml", params=key).content)
    assert root.tag == "service_requests" and root[0].findtext("service_request_id") == "R1"
    gone = client.get("/open311/v2/requests/E1.json", params=key)
    assert gone.status_code == 404 and gone.json() == [
        {"code": 404, "description": "service_request_id 'E1' not found"}
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_answer_in_the_spec_format(client: TestClient, tokens: dict[str, str], fmt: str) -> None:
    def errors(resp: Any) -> list[tuple[int, str]]:
        if fmt == "json":
            return [(e["code"], e["description"]) for e in resp.json()]
        root = xml(resp.content)
        assert root.tag == "errors"
        return [(int(e.findtext("code")), e.findtext("description")) for e in root.findall("error")]

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    rep = tokens["reporter"]
    cases = [
        (client.get(f"/open311/v2/requests.{fmt}"), 401, "api_key is required"),
        (client.get(f"/open311/v2/requests.{fmt}", params={"api_key": "sp_wrong"}), 403, "invalid api_key"),
        (client.get(f"/open311/v2/services/nope.{fmt}"), 404, "not found"),
        (client.get(f"/open311/v2/services.{fmt}", params={"jurisdiction_id": "ternate"}), 404, "jurisdiction_id"),
        (
            client.get(
                f"/open311/v2/requests.{fmt}", params={"api_key": tokens["reporter"], "start_date": "yesterday"}
            ),
            400,
            "ISO 8601",
        ),
        (
            client.get(
                f"/open311/v2/requests.{fmt}",
                params={
                    "api_key": tokens["reporter"],
                    "start_date": "2026-01-01T00:00:00Z",
                    "end_date": "2026-06-01T00:00:00Z",
                },
            ),
            400,
            "90 days",
        ),
        (
            client.get(f"/open311/v2/requests.{fmt}", params={"api_key": tokens["reporter"], "status": "pending"}),
            400,
            "open, closed",
        ),
        (client.get(f"/open311/v2/tokens/nope.{fmt}", params={"api_key": tokens["reporter"]}), 404, "token"),
        (client.post(f"/open311/v2/requests.{fmt}", json={"api_key": rep}), 415, "x-www-form-urlencoded"),
    ]
    road = "service_code=perbaikan-jalan&lat=2&long=128"
    posts = [
        (road, 403, "api_key is required"),
        (f"api_key={tokens['viewer']}&{road}", 403, "reporter key"),
        (f"api_key={rep}&lat=2&long=128", 400, "service_code is required"),
        (f"api_key={rep}&service_code=ambulans&lat=2&long=128", 400, "not found"),
        (f"api_key={rep}&service_code=perbaikan-jalan", 400, "location is required"),
        (f"api_key={rep}&service_code=perbaikan-jalan&lat=200&long=128", 400, "lat must lie"),
        (f"api_key={rep}&{road}&attribute[stage]=disposisi", 400, "attribute[stage]"),
        (f"api_key={rep}&{road}&attribute[district]=ternate", 400, "attribute[district]"),
        (f"api_key={rep}&{road}&email=nope", 400, "email"),
        (f"api_key={rep}&{road}&description=a%00b", 400, "control characters"),
        (f"api_key={rep}&{road}&description={'x' * 2001}", 400, "2000"),
        # The settings' broker (port 1) is unreachable: 503 in the spec's format, nothing kept.
        (f"api_key={rep}&{road}&phone=0812", 503, "could not be passed on"),
    ]
    for body, code, words in posts:
        cases.append((client.post(f"/open311/v2/requests.{fmt}", content=body.encode(), headers=form), code, words))
    for resp, code, words in cases:
        assert resp.status_code == code, (code, words, resp.text)
        ((c, description),) = errors(resp)
        assert c == code and words in description, (code, words, description)
    assert client.get("/open311/v2/services.yaml").json()[0]["code"] == 404
    with client.app.state.engine.connect() as conn:
        assert conn.execute(select(Open311RequestRow)).first() is None


def test_a_reporter_token_reaches_open311_alone(client: TestClient, tokens: dict[str, str]) -> None:
    rep = auth(tokens["reporter"])
    assert client.get("/open311/v2/requests.json", headers=rep).status_code == 200  # the header works too
    for path in ("/api/v1/tickets", "/api/v1/overview", "/api/v1/catalogue", "/api/v1/alarms"):
        assert client.get(path, headers=rep).status_code == 403, path


def test_public_read_is_a_setting(db_url: str) -> None:
    with TestClient(create_app_public(db_url)) as c:
        assert c.get("/open311/v2/requests.json").status_code == 200


def create_app_public(db_url: str) -> Any:
    from app.api.main import create_app

    return create_app(
        Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=0, open311_public_read=True)
    )


def test_personal_data_is_for_admins_of_its_agency_and_erased_after_retention(
    client: TestClient, tokens: dict[str, str]
) -> None:
    engine = client.app.state.engine
    with engine.begin() as conn:
        pdam = create_token(conn=conn, name="admin PDAM", role="admin", agency="pdam")
        pupr = create_token(conn=conn, name="admin PUPR", role="admin", agency="dinas-pupr")
        pdam_operator = create_token(conn=conn, name="operator PDAM", role="operator", agency="pdam")
    now = now_ms()
    with engine.begin() as conn:
        conn.execute(
            Open311RequestRow.__table__.insert(),
            [
                {
                    "token": "t-old",
                    "city": "morotai",
                    "ticket_id": "o311-old",
                    "agency": "pdam",
                    "created_ms": now - 400 * D,
                    "first_name": "Siti",
                    "phone": "0812 1111",
                    "email": None,
                },
                {
                    "token": "t-new",
                    "city": "morotai",
                    "ticket_id": "o311-new",
                    "agency": "pdam",
                    "created_ms": now - D,
                    "first_name": "Budi",
                    "email": "budi@example.id",
                    "phone": None,
                },
            ],
        )
    url = "/api/v1/open311/requests/o311-new/personal"
    for role in ("reporter", "integrator", "viewer", "operator"):
        refused = client.get(url, headers=auth(tokens[role]))
        assert refused.status_code == 403 and "admin" in refused.json()["detail"], role
        assert "Budi" not in refused.text
    assert client.get(url, headers=auth(pdam_operator)).status_code == 403  # the right agency, not an admin
    # A city-wide admin (no agency scope) is refused, with a reason and the way to make an agency's admin.
    city_wide = client.get(url, headers=auth(tokens["admin"]))
    assert city_wide.status_code == 403 and "Budi" not in city_wide.text
    assert "no agency scope" in city_wide.json()["detail"] and "--agency pdam" in city_wide.json()["detail"]
    other = client.get(url, headers=auth(pupr))  # another agency's admin
    assert other.status_code == 403 and "dinas-pupr" in other.json()["detail"] and "Budi" not in other.text
    got = client.get(url, headers=auth(pdam))
    assert got.status_code == 200 and (got.json()["first_name"], got.json()["email"]) == ("Budi", "budi@example.id")
    assert got.json()["agency"] == "pdam"
    audit = client.get("/api/v1/audit", headers=auth(tokens["admin"])).json()["items"]
    reads = [(a["actor"], a["target"], a["detail"]) for a in audit if a["action"] == "open311.personal.read"]
    assert reads == [("admin PDAM", "o311-new", "agency pdam; caller's scope pdam")]
    refusals = [(a["actor"], a["detail"]) for a in audit if a["action"] == "open311.personal.refused"]
    assert refusals[:2] == [
        ("admin PUPR", "agency pdam; caller's scope dinas-pupr"),
        ("test-admin", "agency pdam; caller's scope city-wide"),
    ]
    with engine.begin() as conn:
        assert erase_personal_data(conn=conn, older_than_ms=now - 365 * D, now_ms=now) == 1
        assert erase_personal_data(conn=conn, older_than_ms=now - 365 * D, now_ms=now) == 0  # once
    old = client.get("/api/v1/open311/requests/o311-old/personal", headers=auth(pdam)).json()
    assert (old["first_name"], old["phone"]) == (None, None) and old["erased_at"] is not None
    assert client.get(url, headers=auth(pdam)).json()["first_name"] == "Budi"
    assert client.get("/api/v1/open311/requests/nope/personal", headers=auth(pdam)).status_code == 404


def test_json_bodies_are_plain_lists(client: TestClient) -> None:
    assert isinstance(orjson.loads(client.get("/open311/v2/services.json").content), list)
