"""`GET /api/v1/catalogue` and `GET /api/v1/schemas/{name}.json`: what the city accepts, for integrators."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from app.auth.deps import IntegratorDep
from app.catalogue.payloads import schema
from app.catalogue.service import catalogue
from app.http.deps import ProfileDep

router = APIRouter(prefix="/api/v1", tags=["integrators"])


@router.get("/catalogue", summary="What the city accepts: metrics, districts, agencies, services, payload schemas")
def get_catalogue(profile: ProfileDep, _who: IntegratorDep) -> dict[str, Any]:
    """The same document is published retained on `city/{city}/catalogue` for integrators with MQTT only.

    The city is the request's (`?city=`, default the token's city, else the home city; 404 for one not served)."""
    return catalogue(profile)


@router.get("/schemas/{name}.json", summary="The JSON Schema (2020-12) of a payload kind; no token needed")
def get_schema(name: Literal["reading", "senml", "ngsi", "ticket", "status"]) -> dict[str, Any]:
    """Open like `/api/health`: schemas carry no city data, and validators fetch them by their `$id`."""
    return schema(name)
