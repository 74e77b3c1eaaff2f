"""The catalogue document: what a city accepts (metrics, districts, agencies, services, payload kinds)."""

from __future__ import annotations

from typing import Any

from app.catalogue.payloads import NAMES, schema
from app.profile import Profile

PAYLOADS = (
    {"kind": "reading", "topic": "city/{city}/sensor/{source_id}", "schema": "reading", "format": "reading object"},
    {"kind": "senml", "topic": "city/{city}/sensor/{source_id}", "schema": "senml", "format": "SenML pack (RFC 8428)"},
    {"kind": "ngsi", "topic": "city/{city}/sensor/{source_id}", "schema": "ngsi", "format": "FIWARE NGSI-v2 entity"},
    {
        "kind": "ticket",
        "topic": "city/{city}/service/{agency}",
        "schema": "ticket",
        "format": "ticket event (Open311 GeoReport v2 names accepted)",
    },
    {"kind": "status", "topic": "city/{city}/status/{source_id}", "schema": "status", "format": "online/offline"},
)


def catalogue(profile: Profile) -> dict[str, Any]:
    """The catalogue of one city, as `GET /api/v1/catalogue` and the retained `city/{city}/catalogue` give it."""
    c = profile.city
    return {
        "v": 1,
        "city": {"id": c.id, "name": c.name, "province": c.province, "timezone": c.timezone},
        "metrics": [
            {
                "id": m.id,
                "name": m.name.model_dump(),
                "unit": m.unit,
                "valid": list(m.valid),
                "thresholds": [t.model_dump(exclude_none=True) for t in m.thresholds],
                "expected_interval_s": m.expected_interval_s,
                "pillar": m.pillar,
            }
            for m in profile.metrics
        ],
        "districts": [{"id": d.id, "name": d.name} for d in profile.districts],
        "agencies": [{"id": a.id, "short": a.short, "name": a.name} for a in profile.agencies],
        "services": [
            {"id": s.id, "agency": s.agency, "sla_minutes": s.sla_minutes, "name": s.name.model_dump()}
            for s in profile.services
        ],
        "sources": [
            {"id": s.id, "kind": s.kind, "district": s.district, "metrics": s.metrics} for s in profile.sources
        ],
        "payloads": [{**p, "topic": p["topic"].replace("{city}", c.id)} for p in PAYLOADS],
        "schemas": {name: schema(name) for name in NAMES},
    }
