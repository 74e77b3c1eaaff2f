"""API tokens: created with a role, stored hashed, checked on every request."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, select, update

from app.storage.models import TokenRow

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
PREFIX = "sp_"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request, as its token says."""

    token_id: int
    name: str
    role: Role

    def may(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(*, conn: Connection, name: str, role: Role) -> str:
    """A new token for `name` with `role`; returns the token, which is not stored anywhere."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("a token needs a name (who or what uses it)")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError("a token name cannot contain control characters")
    token = PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        TokenRow.__table__.insert().values(
            name=name.strip()[:100], role=role, token_hash=hash_token(token), created_ms=int(time.time() * 1000)
        )
    )
    return token


def authenticate(*, conn: Connection, token: str) -> Principal | None:
    """The principal of a valid, unrevoked token, or None."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = conn.execute(
        select(TokenRow.id, TokenRow.name, TokenRow.role).where(
            TokenRow.token_hash == hash_token(token), TokenRow.revoked_ms.is_(None)
        )
    ).first()
    return Principal(row.id, row.name, row.role) if row else None


def revoke_token(*, conn: Connection, token_id: int) -> bool:
    """Revoke a token by id; False when there is no such live token."""
    res = conn.execute(
        update(TokenRow)
        .where(TokenRow.id == token_id, TokenRow.revoked_ms.is_(None))
        .values(revoked_ms=int(time.time() * 1000))
    )
    return res.rowcount == 1


def list_tokens(*, conn: Connection) -> list[TokenRow]:
    """All tokens (without secrets), newest first."""
    return list(conn.execute(select(TokenRow).order_by(TokenRow.id.desc())).all())


def has_admin(*, conn: Connection) -> bool:
    return conn.execute(
        select(TokenRow.id).where(TokenRow.role == "admin", TokenRow.revoked_ms.is_(None)).limit(1)
    ).first() is not None
