"""API tokens: created with a role, stored hashed, checked on every request."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, delete, or_, select, update

from app.profile import ID_RE
from app.storage.models import TokenRow

# Ranked lowest first; `integrator` (an agency's or vendor's system) ranks below viewer, so it reaches
# only the routes that ask for it: the dry run, the catalogue and its own sources' health. `reporter` (a citizens'
# app or a village office, issue 14) ranks lowest: it reaches Open311 alone (app.open311), creating and reading
# requests.
Role = Literal["reporter", "integrator", "viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("reporter", "integrator", "viewer", "operator", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
PREFIX = "sp_"
ALL_CITIES = "*"  # Smart Province: a token or user scope for every city of the deployment, acting on each
SESSION_PREFIX = "session:"  # a user's sign-in session is a token named `session:<username>`


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request, as its token says."""

    token_id: int
    name: str
    role: Role
    user_id: int | None = None  # set when the token is a user's sign-in session
    agency: str | None = None  # the agency it speaks for (an Open311 request's personal data); None: city-wide
    # Smart Province: the one city it may see and act on; None: every city, read-only when the deployment serves
    # several (a province user); ALL_CITIES: every city, and it may act on each.
    city: str | None = None

    def serves(self, city: str) -> bool:
        """Whether this caller may see `city`."""
        return self.city is None or self.city in (city, ALL_CITIES)

    def read_only(self, *, multi: bool) -> bool:
        """Whether this caller may only read: a province-wide token (no city) of a deployment of several cities."""
        return multi and self.city is None

    def may(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    *,
    conn: Connection,
    name: str,
    role: Role,
    expires_ms: int | None = None,
    user_id: int | None = None,
    agency: str | None = None,
    city: str | None = None,
) -> str:
    """A new token for `name` with `role`; returns the token, which is not stored anywhere.

    API tokens live until revoked; a user's sign-in session (`user_id`) ends at `expires_ms`. `agency` scopes it to
    one agency (checked against the profile by the caller: app.auth.scope); None is city-wide.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("a token needs a name (who or what uses it)")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError("a token name cannot contain control characters")
    if city is not None and city != ALL_CITIES and not ID_RE.match(city):
        raise ValueError(f"a city id is lowercase letters, digits, '-' or '_' (at most 64), or {ALL_CITIES!r}")
    token = PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        TokenRow.__table__.insert().values(
            name=name.strip()[:100],
            role=role,
            token_hash=hash_token(token),
            created_ms=int(time.time() * 1000),
            expires_ms=expires_ms,
            user_id=user_id,
            agency=agency,
            city=city,
        )
    )
    return token


def authenticate(*, conn: Connection, token: str) -> Principal | None:
    """The principal of a valid token (not revoked, not expired), or None."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = conn.execute(
        select(TokenRow.id, TokenRow.name, TokenRow.role, TokenRow.user_id, TokenRow.agency, TokenRow.city).where(
            TokenRow.token_hash == hash_token(token),
            TokenRow.revoked_ms.is_(None),
            or_(TokenRow.expires_ms.is_(None), TokenRow.expires_ms > int(time.time() * 1000)),
        )
    ).first()
    if row is None:
        return None
    # A session speaks for its user: the audit log and an acknowledgement say `sari`, not `session:sari`.
    name = row.name.removeprefix(SESSION_PREFIX) if row.user_id is not None else row.name
    return Principal(row.id, name, row.role, row.user_id, agency=row.agency, city=row.city)


def revoke_token(*, conn: Connection, token_id: int) -> bool:
    """Revoke a token by id; False when there is no such live token."""
    res = conn.execute(
        update(TokenRow)
        .where(TokenRow.id == token_id, TokenRow.revoked_ms.is_(None))
        .values(revoked_ms=int(time.time() * 1000))
    )
    return res.rowcount == 1


def revoke_user_tokens(*, conn: Connection, user_id: int) -> int:
    """Revoke every live session of a user (on disable, password or role change); how many."""
    res = conn.execute(
        update(TokenRow)
        .where(TokenRow.user_id == user_id, TokenRow.revoked_ms.is_(None))
        .values(revoked_ms=int(time.time() * 1000))
    )
    return res.rowcount


def prune_sessions(*, conn: Connection, user_id: int, ended_before_ms: int) -> int:
    """Delete a user's sessions that ended (expired or revoked) before `ended_before_ms`; how many.

    Each sign-in adds a row; this keeps a user's rows to a recent history (the audit log keeps the rest).
    """
    res = conn.execute(
        delete(TokenRow).where(
            TokenRow.user_id == user_id,
            or_(TokenRow.revoked_ms < ended_before_ms, TokenRow.expires_ms < ended_before_ms),
        )
    )
    return res.rowcount


def list_tokens(*, conn: Connection) -> list[TokenRow]:
    """All tokens (without secrets), newest first."""
    return list(conn.execute(select(TokenRow).order_by(TokenRow.id.desc())).all())


def has_admin(*, conn: Connection) -> bool:
    """Whether a live admin API token exists (a user's sign-in session, which ends, does not count)."""
    return (
        conn.execute(
            select(TokenRow.id)
            .where(TokenRow.role == "admin", TokenRow.revoked_ms.is_(None), TokenRow.user_id.is_(None))
            .limit(1)
        ).first()
        is not None
    )
