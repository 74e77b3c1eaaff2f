"""`GET /api/v1/catalogue` and `GET /api/v1/schemas/{name}.json`: what the city accepts, for integrators."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status

from app.auth.deps import IntegratorDep
from app.catalogue.payloads import schema
from app.catalogue.service import catalogue
from app.http.deps import ProfileDep

router = APIRouter(prefix="/api/v1", tags=["integrators"])


@router.get("/catalogue", summary="What the city accepts: metrics, districts, agencies, services, payload schemas")
def get_catalogue(
    profile: ProfileDep,
    _who: IntegratorDep,
    city: Annotated[str | None, Query(max_length=64, description="The city id (default: the deployment's)")] = None,
) -> dict[str, Any]:
    """The same document is published retained on `city/{city}/catalogue` for integrators with MQTT only."""
    if city is not None and city != profile.city.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"city {city!r} is not served here")
    return catalogue(profile)


@router.get("/schemas/{name}.json", summary="The JSON Schema (2020-12) of a payload kind; no token needed")
def get_schema(name: Literal["reading", "senml", "ngsi", "ticket", "status"]) -> dict[str, Any]:
    """Open like `/api/health`: schemas carry no city data, and validators fetch them by their `$id`."""
    return schema(name)
