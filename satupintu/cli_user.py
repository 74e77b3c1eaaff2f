"""`satupintu user ...`: people who sign in with a username and password (each sign-in is a session token)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.auth.audit import record
from app.auth.tokens import ROLES
from app.auth.users import (
    UserError,
    create_user,
    list_users,
    new_password_hash,
    normalize,
    set_agency,
    set_disabled,
    set_password,
    set_role,
)
from app.http.timefmt import from_ms
from app.storage.engine import writing
from satupintu.clikit import AgencyOption, actor, agency_or_exit, city_or_exit, examples, migrated_engine

user_cli = typer.Typer(
    help="Users who sign in to the window and the API with a password, each with a role (viewer, operator, admin).",
    no_args_is_help=True,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)

RoleOption = Annotated[str, typer.Option("--role", "-r", help="viewer (watch), operator (acknowledge alarms) or admin")]
StdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (for scripts).")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]{escape(message)}[/red]")
    return typer.Exit(code)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise _fail(f"role must be one of {', '.join(ROLES)}")


def _password_hash(from_stdin: bool) -> str:
    """Read a new password (prompted twice, hidden; or one line of stdin) and hash it."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    try:
        return new_password_hash(password)
    except UserError as exc:
        raise _fail(str(exc)) from exc


@user_cli.command(
    "add",
    epilog=examples(
        "satupintu user add sari --role operator",
        'echo "$PASSWORD" | satupintu user add budi --role viewer --password-stdin',
        "satupintu user add rina --role admin --agency dinas-pupr",
        "satupintu user add rina --role operator --city morotai",
        "satupintu user add gubernur --role viewer",
    ),
)
def user_add(
    name: str,
    role: RoleOption,
    password_stdin: StdinOption = False,
    agency: AgencyOption = None,
    city: Annotated[
        str | None,
        typer.Option(
            help="Smart Province: the one city (an id of the deployment) they may see and act on; '*': every city, acting on "
            "each; default: every city, read-only when the deployment serves several (a province user)"
        ),
    ] = None,
) -> None:
    """Create a user; the password is asked twice (or read from stdin with --password-stdin)."""
    _check_role(role)
    city = city_or_exit(city)
    agency = agency_or_exit(agency, city=city)
    engine = migrated_engine()
    password_hash = _password_hash(password_stdin)
    detail = f"{role}; agency {agency}" if agency else role
    if city is not None:
        detail += f"; city {city}"
    try:
        with writing(engine) as conn:
            user = create_user(
                conn=conn, username=name, role=role, password_hash=password_hash, agency=agency, city=city
            )
            record(conn=conn, actor=actor(), role="admin", action="user.create", target=user.username, detail=detail)
    except UserError as exc:
        raise _fail(str(exc)) from exc
    err.print(
        f"user [bold]{escape(user.username)}[/bold] created ({role}); they sign in at the window or POST /api/v1/auth/login"
    )


@user_cli.command("list", epilog=examples("satupintu user list"))
def user_list() -> None:
    """List users: role, when they last signed in, whether they are disabled (passwords are never shown)."""
    engine = migrated_engine()
    with engine.connect() as conn:
        rows = list_users(conn=conn)
    table = Table("username", "role", "agency", "city", "created (UTC)", "last sign-in (UTC)", "disabled (UTC)")
    for u in rows:
        table.add_row(
            u.username,
            u.role,
            u.agency or "",
            u.city or "",
            f"{from_ms(u.created_ms):%Y-%m-%d %H:%M}",
            f"{from_ms(u.last_login_ms):%Y-%m-%d %H:%M}" if u.last_login_ms else "",
            f"{from_ms(u.disabled_ms):%Y-%m-%d %H:%M}" if u.disabled_ms else "",
        )
    Console().print(table)


def _change(name: str, action: str, change, detail: str | None = None) -> int:  # noqa: ANN001
    """Run `change(conn)` (which returns how many sessions it ended) with an audit row; exit 1 for no such user."""
    engine = migrated_engine()
    try:
        with writing(engine) as conn:
            ended = change(conn)
            record(conn=conn, actor=actor(), role="admin", action=action, target=normalize(name), detail=detail)
    except LookupError as exc:
        raise _fail(str(exc.args[0]), 1) from exc
    return ended


@user_cli.command("passwd", epilog=examples("satupintu user passwd sari"))
def user_passwd(name: str, password_stdin: StdinOption = False) -> None:
    """Set a user's password; their open sessions end."""
    password_hash = _password_hash(password_stdin)
    ended = _change(
        name, "user.password", lambda conn: set_password(conn=conn, username=name, password_hash=password_hash)
    )
    err.print(f"password of {escape(normalize(name))} changed; {ended} session(s) ended")


@user_cli.command("role", epilog=examples("satupintu user role sari admin"))
def user_role(name: str, role: Annotated[str, typer.Argument(help="viewer, operator or admin")]) -> None:
    """Give a user another role; their open sessions end (they carry the old role)."""
    _check_role(role)
    ended = _change(name, "user.role", lambda conn: set_role(conn=conn, username=name, role=role), detail=role)
    err.print(f"{escape(normalize(name))} is now {role}; {ended} session(s) ended")


@user_cli.command(
    "agency", epilog=examples("satupintu user agency rina dinas-pupr", "satupintu user agency rina --city-wide")
)
def user_agency(
    name: str,
    agency: Annotated[str | None, typer.Argument(help="One of the profile's agency ids")] = None,
    city_wide: Annotated[bool, typer.Option("--city-wide", help="Remove the user's agency scope")] = False,
) -> None:
    """Scope a user to an agency (or city-wide again); their open sessions end (they carry the old scope)."""
    if (agency is None) == (not city_wide):
        raise _fail("give an agency id, or --city-wide (not both)")
    agency = agency_or_exit(agency)
    ended = _change(
        name,
        "user.agency",
        lambda conn: set_agency(conn=conn, username=name, agency=agency),
        detail=agency or "city-wide",
    )
    err.print(f"{escape(normalize(name))} is now {escape(agency or 'city-wide')}; {ended} session(s) ended")


@user_cli.command("disable", epilog=examples("satupintu user disable sari"))
def user_disable(name: str) -> None:
    """Stop a user from signing in; their open sessions end at once (within a few seconds in a running web process)."""
    ended = _change(name, "user.disable", lambda conn: set_disabled(conn=conn, username=name, disabled=True))
    err.print(f"{escape(normalize(name))} disabled; {ended} session(s) ended")


@user_cli.command("enable", epilog=examples("satupintu user enable sari"))
def user_enable(name: str) -> None:
    """Let a disabled user sign in again (with the password they had)."""
    _change(name, "user.enable", lambda conn: set_disabled(conn=conn, username=name, disabled=False))
    err.print(f"{escape(normalize(name))} enabled")
