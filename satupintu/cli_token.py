"""`satupintu token ...`: API tokens for wall displays and other systems (viewer, operator, admin)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from satupintu.clikit import AgencyOption, actor, agency_or_exit, city_or_exit, err, examples, migrated_engine

token_cli = typer.Typer(help="API tokens (viewer, operator, admin).", no_args_is_help=True)


@token_cli.command(
    "create",
    epilog=examples(
        'satupintu token create --role viewer --name "wall display lt.2"',
        "satupintu token create --role admin --name admin",
        'satupintu token create --role admin --name "admin PUPR" --agency dinas-pupr',
        'satupintu token create --role operator --name "operator morotai" --city morotai',
        "satupintu token create --role admin --name \"admin provinsi\" --city '*'",
    ),
)
def token_create(
    role: Annotated[str, typer.Option(help="reporter, integrator, viewer, operator or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses it, e.g. 'wall display lt.2'")],
    agency: AgencyOption = None,
    city: Annotated[
        str | None,
        typer.Option(
            help="Smart Province: the one city (an id of the deployment) it may see and act on; '*': every city, acting on "
            "each; default: every city, read-only when the deployment serves several (a province user)"
        ),
    ] = None,
) -> None:
    """Create a token; prints the token alone on stdout (it is not shown again)."""
    from app.auth.audit import record
    from app.auth.tokens import ROLES, create_token

    if role not in ROLES:
        err.print(f"[red]role must be one of {', '.join(ROLES)}[/red]")
        raise typer.Exit(2)
    city = city_or_exit(city)
    agency = agency_or_exit(agency, city=city)
    engine = migrated_engine()
    detail = f"{role}; agency {agency}" if agency else role
    if city is not None:
        detail += f"; city {city}"
    try:
        with engine.begin() as conn:
            token = create_token(conn=conn, name=name, role=role, agency=agency, city=city)
            record(conn=conn, actor=actor(), role="admin", action="token.create", target=name, detail=detail)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    typer.echo(token)


@token_cli.command("list", epilog=examples("satupintu token list"))
def token_list() -> None:
    """List tokens (names and roles; secrets are never stored)."""
    from rich.table import Table

    from app.auth.tokens import list_tokens
    from app.http.timefmt import from_ms

    engine = migrated_engine()
    with engine.connect() as conn:
        rows = list_tokens(conn=conn)
    table = Table("id", "name", "role", "agency", "city", "created (UTC)", "revoked (UTC)")
    for r in rows:
        table.add_row(
            str(r.id),
            r.name,
            r.role,
            r.agency or "",
            r.city or "",
            f"{from_ms(r.created_ms):%Y-%m-%d %H:%M}",
            f"{from_ms(r.revoked_ms):%Y-%m-%d %H:%M}" if r.revoked_ms else "",
        )
    Console().print(table)


@token_cli.command("revoke", epilog=examples("satupintu token revoke 3"))
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id (see `satupintu token list`)."""
    from app.auth.audit import record
    from app.auth.tokens import revoke_token

    engine = migrated_engine()
    with engine.begin() as conn:
        if not revoke_token(conn=conn, token_id=token_id):
            err.print(f"[red]no live token with id {token_id}[/red]")
            raise typer.Exit(1)
        record(conn=conn, actor=actor(), role="admin", action="token.revoke", target=str(token_id))
    err.print(f"token {token_id} revoked")


def create_first_admin(engine: Engine) -> str | None:
    """On a first run (no admin token yet) create one and return it; None when an admin exists."""
    from app.auth.audit import record
    from app.auth.tokens import create_token, has_admin

    with engine.begin() as conn:
        if has_admin(conn=conn):
            return None
        token = create_token(conn=conn, name="first admin", role="admin")
        record(conn=conn, actor=actor(), role="admin", action="token.create", target="first admin", detail="first run")
    return token
