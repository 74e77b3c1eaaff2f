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

from app.auth.tokens import Principal
from app.http.errors import unprocessable
from app.profile import Profile


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
