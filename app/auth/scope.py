"""Agency scope: a token or user may speak for one agency of the profile (None: city-wide).

Today the scope decides one thing: who reads an Open311 request's personal data (the citizen's name, email and
phone, issue 14). The issue says "visible only to admins of the agency", so the answer goes to an admin whose scope
is the request's agency, and to nobody else: not to a city-wide admin (no scope), who is refused with a reason and
can make an agency admin (`satupintu user add NAME --role admin --agency ID`). Granting a scope is an admin's
act, so the check on who grants what is here too: a city-wide admin may grant any agency of the profile, an agency's
admin only their own.
"""

from __future__ import annotations

from fastapi import HTTPException, status

from app.auth.tokens import ALL_CITIES, Principal
from app.http.errors import unprocessable
from app.profile import Deployment, Profile


def agency_problem(profile: Profile, agency: str | None) -> str | None:
    """Why `agency` cannot scope a token or user in this profile, or None (None itself: city-wide, always fine)."""
    if agency is None or profile.has_agency(agency):
        return None
    known = ", ".join(a.id for a in profile.agencies)
    return f"agency must be one of the profile's agencies ({known}); {agency!r} is not"


def grant_problem(who: Principal, agency: str | None) -> str | None:
    """Why the admin `who` may not give a token or user the scope `agency`, or None."""
    if who.agency is None or agency in (None, who.agency):
        return None
    return f"your token is scoped to {who.agency}: you may scope tokens and users to {who.agency} only"


def personal_data_refusal(who: Principal, agency: str) -> str | None:
    """Why `who` may not read the personal data of a request to `agency`, or None when they may."""
    if who.role != "admin":
        return (
            f"an Open311 request's personal data is for the admins of its agency ({agency}); your token is {who.role}"
        )
    if who.agency is None:
        return (
            f"an Open311 request's personal data is for the admins of its agency ({agency}); your token has no agency "
            f"scope (a city-wide admin can make one: satupintu user add NAME --role admin --agency {agency})"
        )
    if who.agency != agency:
        return f"an Open311 request's personal data is for the admins of its agency ({agency}); yours is {who.agency}"
    return None


def check_agency(who: Principal, profile: Profile, agency: str | None) -> None:
    """For the admin routes: 422 for an agency the profile does not have, 403 for one `who` may not grant."""
    problem = agency_problem(profile, agency)
    if problem:
        raise unprocessable("body.agency", problem)
    problem = grant_problem(who, agency)
    if problem:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=problem)


# --- City scope (Smart Province, issue 15) ------------------------------------------------------------------------
#
# A token or user is scoped to one city of the deployment (it sees and acts on that city only), to every city with
# ALL_CITIES ('*': sees and acts on each), or to none (None: every city, read-only when the deployment serves several:
# a province user). Who may grant which: an admin whose own scope covers it. A Ternate admin grants Ternate only
# (and what it creates without naming a city is Ternate's); a '*' admin grants any city, '*' or a province scope.

CITY_SCOPE_PATTERN = rf"^(\{ALL_CITIES}|[a-z0-9_-]{{1,64}})$"  # a city id, or '*'


def city_problem(deployment: Deployment, city: str | None) -> str | None:
    """Why `city` cannot scope a token or user of this deployment, or None (None and '*' always may)."""
    if city is None or city == ALL_CITIES or deployment.get(city) is not None:
        return None
    return (
        f"city must be one of this deployment's cities ({', '.join(deployment.ids)}) or {ALL_CITIES!r}; {city!r} is not"
    )


def granted_city(who: Principal, city: str | None) -> str | None:
    """The city scope a token or user made by `who` gets for the asked `city`: a city admin's own when none is asked."""
    if city is None and who.city not in (None, ALL_CITIES):
        return who.city
    return city


def city_grant_problem(who: Principal, city: str | None) -> str | None:
    """Why the admin `who` may not give a token or user the city scope `city` (after granted_city), or None."""
    if who.city in (None, ALL_CITIES) or city == who.city:
        return None
    wanted = "every city" if city in (None, ALL_CITIES) else city
    return f"your token is scoped to city {who.city}: you may scope tokens and users to {who.city} only, not {wanted}"


def check_city(who: Principal, deployment: Deployment, city: str | None) -> str | None:
    """For the admin routes: the city scope to store; 422 for a city not served here, 403 for one `who` may not grant."""
    problem = city_problem(deployment, city)
    if problem:
        raise unprocessable("body.city", problem)
    city = granted_city(who, city)
    problem = city_grant_problem(who, city)
    if problem:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=problem)
    return city


def covers(who: Principal, city: str | None, *, multi: bool) -> bool:
    """Whether the admin `who` manages a token or user scoped to `city` (lists it, revokes or changes it).

    In a deployment of one city every admin manages every token (as before cities); in one of several, an admin
    of one city manages that city's tokens and users only, a province-wide or '*' admin all.
    """
    return not multi or who.city in (None, ALL_CITIES) or city == who.city
