"""The catalogue and the payloads' JSON Schemas: served, and true to every example the parser accepts."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from app.catalogue.payloads import NAMES, Priority, Status, schema
from app.catalogue.service import catalogue
from app.profile import load_profile
from app.settings import Settings
from ingest.messages import TICKET_PRIORITIES, TICKET_STATUSES, Rejected
from ingest.parser import ParseRules, parse
from tests.app.conftest import auth

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "payloads"
INDEX = json.loads((EXAMPLES / "index.json").read_text())
BAD = json.loads((REPO / "tests" / "ingest" / "bad_payloads.json").read_text())
PROFILE = load_profile("morotai")
RULES = ParseRules.from_profile(PROFILE, Settings())
KIND = {"sensor": "reading", "service": "ticket", "status": "status"}
FILE_KIND = {
    "reading.json": "reading",
    "senml.json": "senml",
    "ngsi.json": "ngsi",
    "ticket.json": "ticket",
    "open311.json": "ticket",
    "status.txt": "status",
    "lapor-stage.json": "ticket",  # citizen services (issue 14)
}


def validator(name: str) -> Draft202012Validator:
    s = schema(name)
    Draft202012Validator.check_schema(s)
    return Draft202012Validator(s)


def as_json(raw: str) -> object:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw.strip()  # a bare status text


def docs_examples() -> list[tuple[str, object]]:
    """Every JSON block of docs/mqtt.md that is a payload: (kind, value)."""
    out = []
    for block in re.findall(r"```json\n(.*?)```", (REPO / "docs" / "mqtt.md").read_text(), re.S):
        v = json.loads(block)
        if isinstance(v, list):
            out.append(("senml", v))
        elif "values" in v:
            out.append(("reading", v))
        elif "ticket_id" in v or "service_request_id" in v:
            out.append(("ticket", v))
        elif "type" in v and "id" in v:
            out.append(("ngsi", v))
    return out


def vectors() -> list[tuple[str, object]]:
    shared = next((p / "shared" / "vectors" for p in REPO.parents if (p / "shared" / "vectors").is_dir()), None)
    if shared is None:
        return []
    out: list[tuple[str, object]] = [("ticket", json.loads((shared / "Open311ServiceRequest.json").read_text()))]
    out += [("senml", json.loads((shared / "SenML_RFC8428_5.1.2.json").read_text()))]
    for f in sorted(shared.glob("*.json")):
        v = json.loads(f.read_text())
        if isinstance(v, dict) and v.get("type") != "Open311ServiceRequest":
            out.append(("ngsi", v))
    return out


def test_enumerations_are_the_parsers() -> None:
    from typing import get_args

    assert get_args(Status) == TICKET_STATUSES
    assert get_args(Priority) == TICKET_PRIORITIES


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_valid_2020_12(name: str) -> None:
    assert schema(name)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator(name)


def test_the_schemas_validate_every_example_of_the_docs_the_examples_and_the_vectors() -> None:
    cases = [(FILE_KIND[n], as_json((EXAMPLES / n).read_text())) for n in INDEX]
    cases += docs_examples() + vectors()
    assert {k for k, _ in cases} == set(NAMES) and len(docs_examples()) >= 2
    for kind, value in cases:
        errors = [e.message for e in validator(kind).iter_errors(value)]
        assert errors == [], (kind, value, errors)


def test_the_schemas_refuse_the_structural_mistakes_the_parser_refuses() -> None:
    structural = 0
    now = int(time.time() * 1000)
    for case in BAD:
        kind = KIND.get(case["topic"].split("/")[2])
        if kind is None or case["reason"] not in ("bad_field", "bad_shape", "no_values"):
            continue
        try:
            value = json.loads(case["payload"])
        except json.JSONDecodeError:
            value = case["payload"]
        assert isinstance(parse(case["topic"], case["payload"].encode(), now, RULES), Rejected)
        if kind == "reading" and isinstance(value, list):
            kind = "senml"
        assert list(validator(kind).iter_errors(value)), case
        structural += 1
    assert structural >= 5


def test_catalogue_route_needs_a_token_and_serves_the_city(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/api/v1/catalogue").status_code == 401
    r = client.get("/api/v1/catalogue", params={"city": "morotai"}, headers=auth(tokens["integrator"]))
    assert r.status_code == 200
    doc = r.json()
    assert doc == orjson.loads(orjson.dumps(catalogue(PROFILE)))
    wl = next(m for m in doc["metrics"] if m["id"] == "water_level_cm")
    assert wl["unit"] == "cm" and wl["valid"] == [-50, 1500] and wl["thresholds"] and wl["name"]["id"]
    assert {"id": "dinas-kesehatan", "short": "Dinkes"}.items() <= next(
        a for a in doc["agencies"] if a["id"] == "dinas-kesehatan"
    ).items()
    assert next(s for s in doc["services"] if s["id"] == "ambulans")["agency"] == "layanan-112"
    assert {d["id"] for d in doc["districts"]} >= {"morotai-selatan", "pulau-rao"}
    assert [p["kind"] for p in doc["payloads"]] == list(NAMES)
    assert doc["payloads"][0]["topic"] == "city/morotai/sensor/{source_id}"
    assert set(doc["schemas"]) == set(NAMES)
    assert (
        client.get("/api/v1/catalogue", params={"city": "ternate"}, headers=auth(tokens["integrator"])).status_code
        == 404
    )


def test_schema_files_are_served_without_a_token(client: TestClient) -> None:
    for name in NAMES:
        r = client.get(f"/api/v1/schemas/{name}.json")
        assert r.status_code == 200 and r.json() == schema(name)
    assert client.get("/api/v1/schemas/nope.json").status_code == 422
    assert client.get("/api/v1/schemas/..%2f..%2fetc%2fpasswd.json").status_code in (404, 422)
