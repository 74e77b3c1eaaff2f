"""`GET /api/v1/cities`: the cities this deployment serves, with the codes other systems join on."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.auth.deps import ViewerDep
from app.http.deps import DeploymentDep
from app.profile import Profile

router = APIRouter(prefix="/api/v1", tags=["cities"])


class Centre(BaseModel):
    lat: float
    lon: float


class CityOut(BaseModel):
    id: str = Field(description="The city id in topics and routes (`city/{id}/...`, `?city=`)")
    name: str
    kind: Literal["kabupaten", "kota"]
    province: str
    kemendagri: str | None = Field(
        description="Kemendagri regency/city code (Pulau Morotai: 82.07): the key to BMKG forecasts, BPS "
        "statistics and Satu Data; null when the profile does not give it"
    )
    province_kemendagri: str | None = Field(description="The province's code: the first two digits (82)")
    timezone: str = Field(description="IANA zone of the city's local time (WIT: Asia/Jayapura)")
    centre: Centre
    districts: int = Field(description="How many kecamatan the profile lists")


class CitiesOut(BaseModel):
    items: list[CityOut]


def city_out(profile: Profile) -> CityOut:
    """One city of the deployment as the route shows it."""
    c = profile.city
    return CityOut(
        id=c.id,
        name=c.name,
        kind=c.kind,
        province=c.province,
        kemendagri=c.kemendagri,
        province_kemendagri=c.kemendagri.split(".")[0] if c.kemendagri else None,
        timezone=c.timezone,
        centre=Centre(lat=c.center.lat, lon=c.center.lon),
        districts=len(profile.districts),
    )


@router.get("/cities", response_model=CitiesOut, summary="The cities this deployment serves")
def cities(who: ViewerDep, deployment: DeploymentDep) -> CitiesOut:
    """Every city of the deployment the caller may see: a city's token sees its own, a province token all."""
    return CitiesOut(items=[city_out(p) for p in deployment.cities if who.serves(p.city.id)])
