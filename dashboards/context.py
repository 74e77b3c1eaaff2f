"""What every panel's callbacks share in one process: the API client, the shared pictures, sessions, the profiles.

Smart Province: one process serves every city of the deployment, one window per
city. `city` and `profile` are those of the request being served
(dashboards.current), so a callback reads its own window's city.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dash.exceptions import PreventUpdate

from app.auth.lookup import TOKEN_COOKIE
from app.auth.tokens import Principal
from app.profile import Deployment, Profile
from dashboards.apiclient import ApiClient
from dashboards.auth import Sessions
from dashboards.current import current
from dashboards.data import CityData
from dashboards.figures import Tiles


@dataclass
class Ctx:
    api: Any  # the FastAPI app
    client: ApiClient
    sessions: Sessions
    deployment: Deployment
    cities: dict[str, CityData]  # the shared picture of each city, by id
    tiles: Tiles | None = None  # map tiles, when a URL is configured

    @property
    def city_id(self) -> str:
        """The id of the city the request being served is about (the home city when none was set)."""
        city = current()
        return city if city in self.cities else self.deployment.home.city.id

    @property
    def city(self) -> CityData:
        """The shared picture of the request's city."""
        return self.cities[self.city_id]

    @property
    def profile(self) -> Profile:
        """The profile of the request's city (its time zone, catalogue, districts)."""
        return self.cities[self.city_id].profile

    def token(self, cookies: dict) -> str | None:
        return cookies.get(TOKEN_COOKIE)

    async def who(self, cookies: dict) -> Principal | None:
        return await self.sessions.principal(self.token(cookies))

    async def signed_in(self, cookies: dict) -> str:
        """The caller's token for a page callback; PreventUpdate (the page stays as it is) when not signed in."""
        token = self.token(cookies)
        if token is None or await self.who(cookies) is None:
            raise PreventUpdate
        return token

    def acting_role(self, who: Principal) -> str:
        """The role the window lets `who` act with: a province-wide token of a deployment of several cities reads
        only (the API refuses its writes), so its window shows what a viewer's does."""
        if who.read_only(multi=self.deployment.multi) and who.may("operator"):
            return "viewer"
        return who.role

    def district_names(self) -> dict[str, str]:
        return {d.id: d.name for d in self.profile.districts}

    def agency_short(self) -> dict[str, str]:
        return {a.id: a.short for a in self.profile.agencies}

    def service_name(self, service_id: str | None, lang: str) -> str:
        s = self.profile.service(service_id or "")
        if s is None:
            return service_id or ""
        return s.name.id if lang == "id" else s.name.en

    def metric_name(self, metric_id: str, lang: str) -> str:
        m = self.profile.metric(metric_id)
        if m is None:
            return metric_id
        return m.name.id if lang == "id" else m.name.en
