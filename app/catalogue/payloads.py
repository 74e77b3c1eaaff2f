"""The payloads of the MQTT contract as pydantic models, and their JSON Schemas (2020-12).

These describe what an integrator sends (docs/mqtt.md); the ingestor's parser
(ingest.parser, which app may not import) is the judge and is a little more
lenient (status and priority in any case, `in progress`, epoch milliseconds).
tests/app/test_catalogue.py checks that every accepted example of the docs
and the test vectors validates, and that the enumerations are the parser's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.profile import ID_PATTERN

DIALECT = "https://json-schema.org/draft/2020-12/schema"
METRIC_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # keys are lower-cased by the parser
TIME_DOC = "ISO 8601 with a UTC offset (`+09:00`, `Z`) or epoch seconds; absent: the receive time"
Time = str | float
Status = Literal["open", "assigned", "in_progress", "resolved", "closed", "cancelled"]
Priority = Literal["low", "normal", "high", "critical"]


class _Open(BaseModel):
    # Fields the contract does not name are ignored by the parser, so the schemas allow them.
    model_config = ConfigDict(extra="allow")


class ReadingPayload(_Open):
    """A reading object on `city/{city}/sensor/{source_id}`: values of one source at one time."""

    ts: Time | None = Field(None, description=TIME_DOC)
    values: dict[str, float] = Field(
        description="metric id -> number",
        json_schema_extra={"minProperties": 1, "propertyNames": {"pattern": METRIC_PATTERN}},
    )
    district: str | None = Field(None, pattern=ID_PATTERN)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class TicketPayload(_Open):
    """A ticket event on `city/{city}/service/{agency}` (Open311 GeoReport v2 names accepted too)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"anyOf": [{"required": ["ticket_id"]}, {"required": ["service_request_id"]}]},
    )
    ticket_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    service_request_id: str | int | None = Field(None, description="Open311 name of ticket_id")
    status: Status
    priority: Priority | None = Field(None, description="absent: normal")
    service: str | None = Field(None, pattern=ID_PATTERN, description="a service id of the city profile")
    service_code: str | int | None = Field(None, description="Open311 name of service")
    service_name: str | None = Field(None, description="Open311: used as the title when title is absent")
    district: str | None = Field(None, pattern=ID_PATTERN)
    ts: Time | None = Field(None, description=TIME_DOC)
    requested_datetime: Time | None = None
    updated_datetime: Time | None = None
    expected_datetime: Time | None = Field(None, description="an explicit due time: wins over the SLA")
    title: str | None = Field(None, description="at most 200 characters are kept")
    description: str | None = Field(None, description="at most 2000 characters are kept")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    long: float | None = Field(None, ge=-180, le=180, description="Open311 name of lon")
    sla_minutes: int | None = Field(None, ge=1, le=525_600, description="overrides the profile's SLA")
    stage: str | None = Field(
        None,
        pattern=r"^(?i:verifikasi|tindak[ _-]+lanjut|selesai)$",
        description="SP4N-LAPOR! stage: verifikasi, tindak lanjut or selesai (targets in working days)",
    )


class SenMLRecord(_Open):
    """One record of a SenML pack (RFC 8428 JSON); base fields carry over to the records after them."""

    bn: str | None = None
    bt: float | None = Field(None, description="base time, seconds; with t below 2**28 relative to receipt")
    bu: str | None = None
    bv: float | None = None
    bver: int | None = Field(None, le=10)
    n: str | None = Field(None, description="the metric id is its last ':' or '/' segment, lower-cased")
    u: str | None = Field(None, description="must be the catalogue's unit (SenML and UN/CEFACT names accepted)")
    v: float | None = None
    vb: bool | None = Field(None, description="stored as 1 or 0")
    t: float | None = None


class NgsiEntity(_Open):
    """A FIWARE NGSI-v2 entity (keyValues or normalized): every numeric attribute is a reading."""

    id: str
    type: str
    dateObserved: Any = Field(None, description=TIME_DOC)  # noqa: N815 - the NGSI attribute's name on the wire


class StatusObject(_Open):
    status: Literal["online", "offline"]


MODELS: dict[str, type[BaseModel]] = {"reading": ReadingPayload, "ngsi": NgsiEntity, "ticket": TicketPayload}
NAMES = ("reading", "senml", "ngsi", "ticket", "status")


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one payload kind: reading, senml, ngsi, ticket or status."""
    body: dict[str, Any]
    if name == "senml":
        body = {
            "title": "SenMLPack",
            "description": "A SenML pack (RFC 8428 JSON) on `city/{city}/sensor/{source_id}`.",
            "type": "array",
            "minItems": 1,
            "items": SenMLRecord.model_json_schema(),
        }
    elif name == "status":
        body = {
            "title": "StatusPayload",
            "description": "On `city/{city}/status/{source_id}`, retained: the bare text online/offline, "
            "a JSON string, or an object with `status`.",
            "anyOf": [{"enum": ["online", "offline"]}, StatusObject.model_json_schema()],
        }
    else:
        body = MODELS[name].model_json_schema()
    return {"$schema": DIALECT, "$id": f"/api/v1/schemas/{name}.json", **body}
