"""`satupintu integrator ...`: MQTT users and topic access (Mosquitto password file and ACL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from satupintu.clikit import examples
from satupintu.integrators import DEFAULT_DIR, INGEST_USER, CredentialStore, IntegratorError

integrator_cli = typer.Typer(
    help="MQTT credentials for integrators: each may publish only its own agencies' and sources' topics.",
    no_args_is_help=True,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar="SATUPINTU_MQTT_AUTH_DIR",
        help="Where the broker's password file (passwd) and ACL (acl) live.",
    ),
]


def _profile():  # noqa: ANN202 - None when the configured profile cannot be loaded
    try:
        from app.profile import load_profile
        from app.settings import get_settings

        return load_profile(get_settings().profile)
    except Exception:  # noqa: BLE001 - only used for defaults and warnings
        return None


def _enable_hint(store: CredentialStore) -> None:
    typer.echo("To switch authentication on, mosquitto.conf needs:")
    for line in store.conf_lines():
        typer.echo(f"  {line}")
    typer.echo("A running broker rereads both files on SIGHUP (docker compose kill -s HUP mosquitto).")


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]{escape(str(exc))}[/red]")
    return typer.Exit(2)


Agencies = Annotated[
    list[str], typer.Option("--agency", "-a", help="Agency whose tickets it publishes (repeatable; + = all).")
]
Sources = Annotated[
    list[str],
    typer.Option("--source", "-s", help="Source id it publishes readings and status for (repeatable; + = all)."),
]


@integrator_cli.command(
    "add",
    epilog=examples(
        "satupintu integrator add bpbd-awlr --agency bpbd --source awlr-sungai-pilowo",
        "satupintu integrator add gateway --source + --new-password",
    ),
)
def add(
    *,
    name: Annotated[str, typer.Argument(help="MQTT username, a lowercase id such as 'bpbd-awlr'.")],
    agency: Agencies = [],  # noqa: B006 - typer's way to default a repeatable option
    source: Sources = [],  # noqa: B006
    city: Annotated[str | None, typer.Option(help="City id of the grants (default: the profile's city).")] = None,
    password: Annotated[str | None, typer.Option(help="Use this password instead of a generated one.")] = None,
    new_password: Annotated[
        bool, typer.Option("--new-password", help="Generate a new password for an existing integrator.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Set its grants in this city to exactly these (default: add to them).")
    ] = False,
    token: Annotated[
        bool, typer.Option("--token", help="Also create and print an API token with the integrator role.")
    ] = False,
    directory: DirOption = DEFAULT_DIR,
) -> None:
    """Create or update an integrator; prints its password once, when it is new or changed.

    Example: satupintu integrator add bpbd-awlr --agency bpbd --source awlr-sungai-pilowo --token
    """
    profile = _profile()
    city = city or (profile.city.id if profile else None)
    if city is None:
        err.print("[red]give --city (the configured profile could not be loaded)[/red]")
        raise typer.Exit(2)
    store = CredentialStore(directory)
    same_city = profile is not None and profile.city.id == city
    try:
        result = store.add_integrator(
            name,
            city=city,
            agencies=agency,
            sources=source,
            password=password,
            new_password=new_password,
            replace=replace,
            known_agencies=[a.id for a in profile.agencies] if same_city else (),
            known_sources=[s.id for s in profile.sources] if same_city else (),
        )
    except IntegratorError as exc:
        raise _fail(exc) from exc
    if profile is not None and profile.city.id == city:
        known_agencies = {a.id for a in profile.agencies}
        known_sources = {s.id for s in profile.sources}
        for a in agency:
            if a != "+" and a not in known_agencies:
                err.print(f"[yellow]note: agency {a} is not in the {city} profile (shown as unregistered)[/yellow]")
        for s in source:
            if s != "+" and s not in known_sources:
                err.print(
                    f"[yellow]note: source {s} is not in the {city} profile (registered on first reading)[/yellow]"
                )
    typer.echo(f"{'created' if result.created else 'updated'} integrator {name}: {result.block.describe()}")
    typer.echo(f"  username: {name}")
    if result.password is not None:
        typer.echo(f"  password: {result.password}")
        typer.echo("  (shown only now: the broker keeps a hash; hand it over by a private channel)")
    else:
        typer.echo("  password: unchanged (--new-password to generate another)")
    typer.echo(f"ACL lines ({store.acl.resolve()}):")
    typer.echo(f"  user {name}")
    for line in result.block.lines():
        typer.echo(f"  {line}")
    if INGEST_USER not in store.users_with_password():
        typer.echo("The platform users have no password yet: run `satupintu integrator init` once.")
    _enable_hint(store)
    if token:
        typer.echo(f"API token (role integrator: dry runs, the catalogue, its sources' health): {_api_token(name)}")
        typer.echo("  (shown only now; revoke with `satupintu token revoke ID`)")


def _api_token(name: str) -> str:
    """A new API token with the integrator role, named after the integrator (its sources' health is its own)."""
    import getpass

    from app.auth.audit import record
    from app.auth.tokens import create_token
    from app.settings import get_settings
    from app.storage.engine import engine_from_settings
    from app.storage.migrate import upgrade

    engine = engine_from_settings(get_settings())
    try:
        upgrade(engine)
        with engine.begin() as conn:
            token = create_token(conn=conn, name=name, role="integrator")
            record(
                conn=conn,
                actor=f"cli:{getpass.getuser()}",
                role="admin",
                action="token.create",
                target=name,
                detail="integrator",
            )
    finally:
        engine.dispose()
    return token


@integrator_cli.command("remove", epilog=examples("satupintu integrator remove bpbd-awlr"))
def remove(
    name: Annotated[str, typer.Argument(help="The integrator's MQTT username.")],
    directory: DirOption = DEFAULT_DIR,
) -> None:
    """Delete an integrator's password and topic access."""
    store = CredentialStore(directory)
    try:
        found = store.remove(name)
    except IntegratorError as exc:
        raise _fail(exc) from exc
    if not found:
        err.print(f"[red]no integrator {name} in {directory}[/red]")
        raise typer.Exit(1)
    typer.echo(f"removed integrator {name}; reload the broker (SIGHUP) so it takes effect")


@integrator_cli.command("list", epilog=examples("satupintu integrator list"))
def list_(directory: DirOption = DEFAULT_DIR) -> None:
    """List MQTT users and what each may publish (passwords are stored only as hashes)."""
    store = CredentialStore(directory)
    rows = store.list()
    if not rows:
        typer.echo(f"no MQTT users in {directory} (satupintu integrator init; satupintu integrator add NAME ...)")
        return
    for block, has_password in rows:
        typer.echo(f"{block.name}\t{block.describe()}{'' if has_password else '  [NO PASSWORD: cannot log in]'}")


@integrator_cli.command("init", epilog=examples("satupintu integrator init", "satupintu integrator init --reset"))
def init(
    reset: Annotated[bool, typer.Option("--reset", help="Give the platform users new passwords.")] = False,
    directory: DirOption = DEFAULT_DIR,
) -> None:
    """Create the platform's own MQTT users (satupintu-ingest, satupintu-viewer); prints new passwords once."""
    store = CredentialStore(directory)
    try:
        created = store.init_platform(reset=reset)
    except IntegratorError as exc:
        raise _fail(exc) from exc
    if not created:
        typer.echo("the platform users already have passwords (--reset to replace them)")
    for user, pw in created.items():
        typer.echo(f"{user}: {pw}")
    if INGEST_USER in created:
        url = f"mqtt://{INGEST_USER}:{created[INGEST_USER]}@HOST:1883"
        typer.echo(f"  the ingestor and API use it: SATUPINTU_MQTT_URL={url}")
    if created:
        typer.echo("(shown only now: the broker keeps hashes)")
    _enable_hint(store)
