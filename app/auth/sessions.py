"""Signing in with a username and password: the password is checked and traded for a session token.

The session is an ordinary API token (api_tokens) with the user's role, the
user's id and an expiry, so the API and the dashboard check it like any other
token. Signing out, disabling the user or changing their password or role
revokes it. Used by `POST /api/v1/auth/login` and the dashboard's sign-in form.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select, update

from app.auth.audit import record
from app.auth.brake import LoginBrake
from app.auth.passwords import MAX_LENGTH, burn_time, hash_password, needs_rehash, verify_password
from app.auth.tokens import SESSION_PREFIX, Principal, Role, create_token, prune_sessions, revoke_token
from app.auth.users import get_user, normalize
from app.storage.engine import writing
from app.storage.models import UserRow

MAX_USERNAME = 64
KEEP_ENDED_MS = 30 * 86_400_000  # a user's ended sessions stay listed (GET /api/v1/tokens) this long


@dataclass(frozen=True, slots=True)
class Session:
    """A successful sign-in: the token (shown once), whose it is, and when it ends."""

    token: str
    username: str
    role: Role
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Refused:
    """A failed sign-in; `retry_after_s` > 0 when it was held back without checking anything: by the brake,
    or (`busy`) because too many sign-ins were being checked at once."""

    retry_after_s: float = 0.0
    busy: bool = False


# Sign-ins checked at once by this process. A check holds a threadpool thread for most of a second; past this,
# a sign-in is told to retry instead of taking a thread that the API's other routes need.
MAX_CHECKING = 16
_checking = threading.BoundedSemaphore(MAX_CHECKING)


def sign_in(
    *, engine: Engine, brake: LoginBrake, username: str, password: str, client: str, session_s: float
) -> Session | Refused:
    """Check a username and password and open a session; the same Refused for an unknown user, a wrong
    password and a disabled user, so the answer never says which usernames exist."""
    name = normalize(username)[:MAX_USERNAME]
    wait = brake.wait_s(name, client)
    if wait > 0:
        return Refused(wait)
    if not _checking.acquire(blocking=False):
        return Refused(1.0, busy=True)
    try:
        return _check(engine, brake, name, password, client=client, session_s=session_s)
    finally:
        _checking.release()


def _check(
    engine: Engine, brake: LoginBrake, name: str, password: str, *, client: str, session_s: float
) -> Session | Refused:
    with engine.connect() as conn:
        user = get_user(conn=conn, username=name)
    # Outside any transaction: checking takes a good part of a second by design.
    if user is None or len(password) > MAX_LENGTH:
        burn_time(password[:MAX_LENGTH])
        ok = False
    else:
        ok = verify_password(password, user.password_hash) and user.disabled_ms is None
    session = _open(engine, user, password, client, session_s) if ok else None
    if session is None:
        brake.failed(name, client)
        with writing(engine) as conn:
            record(
                conn=conn,
                actor="anonymous",
                role=None,
                action="auth.login_failed",
                target=name,
                detail=f"client {client}",
            )
        return Refused()
    brake.succeeded(name, client)
    return session


def _open(engine: Engine, user: UserRow, password: str, client: str, session_s: float) -> Session | None:
    rehash = hash_password(password) if needs_rehash(user.password_hash) else None
    now = int(time.time() * 1000)
    expires = now + int(session_s * 1000)
    with writing(engine) as conn:
        # Disabled, or given a new password, while the old one was being checked: that old password is void.
        current = conn.execute(select(UserRow).where(UserRow.id == user.id)).first()
        if current is None or current.disabled_ms is not None or current.password_hash != user.password_hash:
            return None
        token = create_token(
            conn=conn,
            name=SESSION_PREFIX + current.username,
            role=current.role,
            expires_ms=expires,
            user_id=current.id,
            agency=current.agency,  # a session carries the user's agency scope as it carries the role
            city=current.city,  # a user's city scope holds for each of its sessions
        )
        prune_sessions(conn=conn, user_id=current.id, ended_before_ms=now - KEEP_ENDED_MS)
        values: dict[str, object] = {"last_login_ms": now}
        if rehash:
            values["password_hash"] = rehash  # a stronger hash at the current cost; sessions stay
        conn.execute(update(UserRow).where(UserRow.id == current.id).values(**values))
        record(conn=conn, actor=current.username, role=current.role, action="auth.login", detail=f"client {client}")
    return Session(token, current.username, current.role, expires)


def sign_out(*, conn: Connection, who: Principal) -> bool:
    """End the caller's session (revoke its token); False for an API token, which signing out leaves alone."""
    if who.user_id is None:
        return False
    revoked = revoke_token(conn=conn, token_id=who.token_id)
    if revoked:
        record(conn=conn, actor=who.name, role=who.role, action="auth.logout")
    return revoked
