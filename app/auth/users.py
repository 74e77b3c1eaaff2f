"""Users who sign in with a username and password: create, list, change password or role, disable.

A user holds no rights of its own: signing in makes a session token with the
user's role (app.auth.sessions), and every check after that is the token's.
So whatever changes what a user may do (a new password, another role,
disabling) revokes the user's live sessions in the same transaction.
"""

from __future__ import annotations

import re
import time

from sqlalchemy import Connection, select, update

from app.auth.passwords import hash_password, password_problem
from app.auth.tokens import ALL_CITIES, ROLES, Role, revoke_user_tokens
from app.profile import ID_RE
from app.storage.models import UserRow

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
_USERNAME = re.compile(USERNAME_PATTERN)


class UserError(ValueError):
    """A request about users that cannot be done as asked (the message says why, for the person asking)."""


def normalize(username: str) -> str:
    """Usernames are compared without case and surrounding spaces."""
    return username.strip().lower()


def username_problem(username: str) -> str | None:
    """Why `username` (normalized) cannot name a user, or None."""
    if not _USERNAME.match(username):
        return "a username is 2 to 64 characters: a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
    return None


def _now_ms() -> int:
    return int(time.time() * 1000)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")


def new_password_hash(password: str) -> str:
    """The hash to store for a new password; UserError when the password is not acceptable.

    Hashing takes a good part of a second on purpose: do it before opening the write transaction.
    """
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    return hash_password(password)


def create_user(
    *,
    conn: Connection,
    username: str,
    role: Role,
    password_hash: str,
    agency: str | None = None,
    city: str | None = None,
) -> UserRow:
    """A new user (`password_hash` from new_password_hash); UserError for a bad or taken name or a bad role.

    `agency` (checked against the profile by the caller: app.auth.scope) scopes the user to one agency;
    `city` (Smart Province) to the one city it may see.
    """
    username = normalize(username)
    problem = username_problem(username)
    if problem:
        raise UserError(problem)
    _check_role(role)
    if city is not None and city != ALL_CITIES and not ID_RE.match(city):
        raise UserError(f"a city id is lowercase letters, digits, '-' or '_' (at most 64), or {ALL_CITIES!r}")
    if get_user(conn=conn, username=username) is not None:
        raise UserError(f"the username {username!r} is taken")
    now = _now_ms()
    conn.execute(
        UserRow.__table__.insert().values(
            username=username,
            role=role,
            password_hash=password_hash,
            created_ms=now,
            password_changed_ms=now,
            agency=agency,
            city=city,
        )
    )
    return get_user(conn=conn, username=username)


def get_user(*, conn: Connection, username: str) -> UserRow | None:
    """The user called `username` (any case), disabled or not; None for a name no user can have (a NUL byte,
    which PostgreSQL refuses in any text, would otherwise fail the query)."""
    name = normalize(username)
    if not _USERNAME.match(name):
        return None
    return conn.execute(select(UserRow).where(UserRow.username == name)).first()


def has_users(*, conn: Connection) -> bool:
    """Whether any user exists (the sign-in form says how to make the first one when none does)."""
    return conn.execute(select(UserRow.id).limit(1)).first() is not None


def list_users(*, conn: Connection) -> list[UserRow]:
    """All users, by name."""
    return list(conn.execute(select(UserRow).order_by(UserRow.username)).all())


def _update(conn: Connection, username: str, **values: object) -> UserRow:
    user = get_user(conn=conn, username=username)
    if user is None:
        raise LookupError(f"no user called {normalize(username)!r}")
    conn.execute(update(UserRow).where(UserRow.id == user.id).values(**values))
    return user


def set_password(*, conn: Connection, username: str, password_hash: str) -> int:
    """Give a user a new password (hashed) and end their sessions; how many ended. LookupError: no such user."""
    user = _update(conn, username, password_hash=password_hash, password_changed_ms=_now_ms())
    return revoke_user_tokens(conn=conn, user_id=user.id)


def set_role(*, conn: Connection, username: str, role: Role) -> int:
    """Give a user another role and end their sessions (they carry the old one); how many ended."""
    _check_role(role)
    user = _update(conn, username, role=role)
    return revoke_user_tokens(conn=conn, user_id=user.id)


def set_agency(*, conn: Connection, username: str, agency: str | None) -> int:
    """Scope a user to another agency (None: city-wide) and end their sessions (they carry the old scope)."""
    user = _update(conn, username, agency=agency)
    return revoke_user_tokens(conn=conn, user_id=user.id)


def set_disabled(*, conn: Connection, username: str, disabled: bool) -> int:
    """Disable a user (ending their sessions) or enable them again; how many sessions ended."""
    user = get_user(conn=conn, username=username)
    if user is None:
        raise LookupError(f"no user called {normalize(username)!r}")
    if disabled:
        if user.disabled_ms is None:
            _update(conn, username, disabled_ms=_now_ms())
        return revoke_user_tokens(conn=conn, user_id=user.id)
    _update(conn, username, disabled_ms=None)
    return 0
