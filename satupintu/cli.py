"""The `satupintu` command: run, ingest, simulate, migrate and check profiles."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from app.profile import ProfileError
from app.rota import RotaError, rota_of
from app.settings import Settings
from satupintu.cli_bridge import bridge_cli
from satupintu.cli_check import check_cli
from satupintu.cli_integrator import integrator_cli
from satupintu.cli_token import create_first_admin, token_cli
from satupintu.cli_user import user_cli
from satupintu.clikit import (
    OPTIONS,
    deployment_or_exit,
    err,
    examples,
    migrated_engine,
    report_database_failure,
    settings_or_exit,
    setup_logging,
)

cli = typer.Typer(
    help="SatuPintu: one window for a regency's sensors and public services.",
    no_args_is_help=True,
    epilog=examples(
        "satupintu up", "satupintu COMMAND --help   # every command has examples", "satupintu --debug db upgrade"
    ),
)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
profile_cli = typer.Typer(help="City profiles.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(profile_cli, name="profile")
cli.add_typer(token_cli, name="token")
cli.add_typer(integrator_cli, name="integrator")
cli.add_typer(user_cli, name="user")
cli.add_typer(check_cli)  # `satupintu check`
cli.add_typer(bridge_cli, name="bridge")  # Smart Province: store-and-forward
log = logging.getLogger("satupintu")


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        typer.echo(f"satupintu {version('satupintu')}")
        raise typer.Exit


@cli.callback()
def _global_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback when a command fails.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Also log each schema migration step (Alembic).")] = False,
    _show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """SatuPintu: one window for a regency's sensors and public services."""
    OPTIONS.debug, OPTIONS.verbose = debug, verbose


def _stop_on_signals(stop: Callable[[], object]) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@db_cli.command(
    "upgrade",
    epilog=examples(
        "satupintu db upgrade",
        "SATUPINTU_DATABASE_URL=postgres://satu@db/satupintu satupintu db upgrade",
    ),
)
def db_upgrade() -> None:
    """Apply schema migrations (also done at every start)."""
    setup_logging()
    s = settings_or_exit()
    engine = migrated_engine(s)
    err.print(f"[green]schema up to date[/green] ({engine.url.render_as_string(hide_password=True)})")


@db_cli.command("prune", epilog=examples("satupintu db prune", "SATUPINTU_RETENTION_RAW_DAYS=7 satupintu db prune"))
def db_prune() -> None:
    """Delete raw readings and rollups past their retention now (the ingestor also does this hourly)."""
    from rich.progress import Progress

    from app.storage.retention import prune

    setup_logging()
    s = settings_or_exit()
    engine = migrated_engine(s)
    with Progress(console=err, transient=True) as prog:
        task = prog.add_task("pruning series", total=None)
        pruned = prune(
            engine=engine,
            now_ms=int(time.time() * 1000),
            raw_days=s.retention_raw_days,
            rollup_days=s.retention_rollup_days,
            ahead_days=s.partition_ahead_days,
            progress=lambda done, total: prog.update(task, completed=done, total=total),
        )
    err.print(
        f"pruned {pruned.readings:,} readings older than {s.retention_raw_days} days, "
        f"{pruned.rollup_1m:,} minute and {pruned.rollup_1h:,} hour rollups older than {s.retention_rollup_days} days"
    )
    # Citizen services (issue 14): Open311 personal data past its retention.
    from app.open311.store import erase_past_retention

    erased = erase_past_retention(engine=engine, days=s.open311_personal_data_days, now_ms=int(time.time() * 1000))
    err.print(f"erased the personal data of {erased:,} Open311 requests older than {s.open311_personal_data_days} days")


@profile_cli.command("check", epilog=examples("satupintu profile check app/profiles/morotai.yaml"))
def profile_check(path: Path) -> None:
    """Validate a city profile file, or a province profile with its cities, and summarise it."""
    from app.profile import load_deployment

    try:
        cities = load_deployment(str(path)).cities
        rotas = [rota_of(p) for p in cities]
    except (ProfileError, RotaError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    # Incidents (issue 13): the SOPs are checked too (steps, agencies), and listed.
    from app.incidents.sops import profile_sops

    for p, rota in zip(cities, rotas, strict=True):
        try:
            sops = profile_sops(p)
        except ValueError as exc:
            err.print(f"[red]profile {path}: {p.city.id}: sops: {exc}[/red]")
            raise typer.Exit(1) from exc
        typer.echo(  # one line a city
            f"{p.city.name} ({p.city.id}, {p.city.kemendagri or 'no Kemendagri code'}, {p.city.timezone}): "
            f"{len(p.districts)} districts, {len(p.agencies)} agencies, {len(p.services)} services, "
            f"{len(p.metrics)} metrics, {len(p.sources)} sources, {len(rota.contacts)} duty contacts; "
            f"{len(sops)} SOPs: {', '.join(s.id for s in sops) or '-'}"
        )


def _say_when_no_admin(engine) -> None:  # noqa: ANN001
    """`web` never creates or prints a token (its output is a log others read): it says how to make one."""
    from app.auth.tokens import has_admin

    with engine.connect() as conn:
        if has_admin(conn=conn):
            return
    err.print(
        "[yellow]No admin token yet.[/yellow] Create one in a terminal (it is printed there only): "
        "satupintu token create --role admin --name NAME",
        soft_wrap=True,
    )


def _refuse_taken_port(host: str, port: int) -> str:
    """The address to probe for host; exit 2 when something already listens on port, before anything is printed."""
    from satupintu.broker import listening

    probe = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - only the address we probe
    if listening(probe, port):
        err.print(f"[red]Port {port} on {probe} is taken[/red] (another `satupintu up` or `web`?). Use --port.")
        raise typer.Exit(2)
    return probe


@cli.command(epilog=examples("satupintu web", "satupintu web --host 0.0.0.0 --port 8080   # reachable from the LAN"))
def web(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the API (/api, /docs, /metrics) in one ASGI process."""
    import uvicorn

    from satupintu.web import create_app

    setup_logging()
    s = settings_or_exit()
    deployment_or_exit(s)  # one city, a province profile or a comma list: every city is served (?city=)
    _refuse_taken_port(host, port)
    engine = migrated_engine(s)
    _say_when_no_admin(engine)
    engine.dispose()
    # create_app(migrate=True) also registers the profile's sources; migrations are idempotent.
    err.print(f"[green]SatuPintu web on http://{host}:{port}[/green] (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        create_app(s),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=bool(s.trusted_proxies),
        forwarded_allow_ips=s.trusted_proxies or None,
    )  # proxy headers only from SATUPINTU_TRUSTED_PROXIES


@cli.command(
    "settings",
    epilog=examples(
        "satupintu settings",
        "SATUPINTU_DATABASE_URL=sqlite:///other.db satupintu settings",
    ),
)
def showsettings_or_exit() -> None:
    """List every setting: its environment variable, current value and what it trades off."""
    from rich.markup import escape
    from rich.table import Table

    s = settings_or_exit()
    table = Table(title="SatuPintu settings (environment variables or .env)", show_lines=False)
    for col in ("variable", "value", "meaning"):
        table.add_column(col, overflow="fold")
    for name, field in Settings.model_fields.items():
        value = getattr(s, name)
        if "url" in name and isinstance(value, str) and "@" in value:
            value = value.split("://")[0] + "://***@" + value.split("@", 1)[1]  # never print a password
        table.add_row(f"SATUPINTU_{name.upper()}", escape(str(value)), escape(field.description or ""))
    Console().print(table)


@cli.command(
    epilog=examples(
        "satupintu ingest",
        "SATUPINTU_MQTT_URL=mqtt://satupintu-ingest:PASSWORD@broker:1883 satupintu ingest",
    ),
)
def ingest(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Run the MQTT ingestor: subscribe, validate, batch, commit, acknowledge."""
    from ingest.alarm_clock import AlarmClock
    from ingest.committer import InlineCommitter, ProcessCommitter, WriterCrashed
    from ingest.consumer import Ingestor
    from ingest.notices import NoticePublisher
    from ingest.parser import ParseRules
    from ingest.writer import BatchWriter

    setup_logging(log_level)
    s = settings_or_exit()
    deployment = deployment_or_exit(s)  # every city of the deployment, each with its own profile
    engine = migrated_engine(s)
    if s.ingest_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(s.ingest_metrics_port, addr="127.0.0.1")
    if s.ingest_writer == "process":
        engine.dispose()  # the writer process opens its own; this one serves the alarm clock
        committer = ProcessCommitter(s)
    else:
        committer = InlineCommitter(BatchWriter(engine, deployment, s), ParseRules.from_deployment(deployment, s))
    ingestor = Ingestor(s, committer)
    ingestor.on_committed.append(NoticePublisher(ingestor.publish))  # alarms and city/{city}/changes after each commit
    clock = AlarmClock(engine, deployment, s, ingestor.publish)  # time rules and webhooks, every city
    clock.start()
    _stop_on_signals(ingestor.stop)
    log.info(  # the broker as host:port: its URL may hold a password
        "ingesting for %s into %s from %s:%s",
        ", ".join(deployment.ids),
        engine.url.render_as_string(hide_password=True),
        s.mqtt.host,
        s.mqtt.port,
    )
    try:
        ingestor.run()
    except WriterCrashed as exc:
        clock.stop()
        err.print(f"[red]the writer failed; nothing of the batch was acknowledged:[/red]\n{exc}")
        raise typer.Exit(1) from exc
    clock.stop()


@cli.command(
    epilog=examples(
        "satupintu simulate --rate 50",
        "satupintu simulate --bad-share 0.05 --duration 60 --seed 1",
    ),
)
def simulate(
    *,
    rate: Annotated[float, typer.Option(help="Messages per second (all sources together).")] = 20.0,
    bad_share: Annotated[float, typer.Option(help="Share of deliberately bad messages, 0..1.")] = 0.0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    count: Annotated[int | None, typer.Option(help="Stop after this many messages.")] = None,
    extra_sources: Annotated[int, typer.Option(help="Synthetic sources added to the profile's own.")] = 0,
    seed: Annotated[int | None, typer.Option(help="Random seed for a repeatable run.")] = None,
) -> None:
    """Publish realistic demo traffic for the city profile (the demo data and the benchmark load).

    A deployment of several cities (a province profile, a comma list) publishes every city's traffic, the rate
    shared between them and --extra-sources added to each."""
    from ingest.simulator import run_simulator

    setup_logging()
    s = settings_or_exit()
    deployment = deployment_or_exit(s)
    run_simulator(
        s,
        deployment,
        rate=rate,
        bad_share=bad_share,
        duration=duration,
        count=count,
        extra_sources=extra_sources,
        seed=seed,
    )


@cli.command(
    epilog=examples(
        "satupintu feeds   # BMKG earthquakes and nowcast warnings, every 60 s",
        "SATUPINTU_CAP_FEED_URLS='[\"https://bpbd.example.go.id/cap.atom\"]' satupintu feeds",
    ),
)
def feeds(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Poll BMKG and other CAP 1.2 feeds and publish new alerts on city/{city}/alert/{sender} (regional warnings)."""
    from ingest.feeds.poller import run_feeds

    setup_logging(log_level)
    s = settings_or_exit()
    run_feeds(s, deployment_or_exit(s).ids)  # each city judges an alert against its own outline


@cli.command(
    epilog=examples(
        "satupintu up   # broker, ingestor, web, demo; open the printed URL",
        "satupintu up --secure   # the broker with login and ACL",
        "satupintu up --no-demo --port 8080",
    )
)
def up(
    *,
    demo: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Also run the demo simulator (every city of the profile).")
    ] = True,
    feeds: Annotated[
        bool, typer.Option("--feeds/--no-feeds", help="Also poll BMKG and the CAP feeds (`satupintu feeds`).")
    ] = True,
    rate: Annotated[float, typer.Option(help="Simulator messages per second.")] = 20.0,
    host: Annotated[str, typer.Option(help="Web interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Web port.")] = 8000,
    auth_dir: Annotated[
        Path,
        typer.Option(
            envvar="SATUPINTU_MQTT_AUTH_DIR",
            help="Where `satupintu integrator` keeps the broker's passwd and acl. When both exist, the broker "
            "`up` starts uses them (clients must log in: user and password in SATUPINTU_MQTT_URL).",
        ),
    ] = Path("data/mosquitto"),
    demo_mqtt_url: Annotated[
        str | None,
        typer.Option(
            envvar="SATUPINTU_DEMO_MQTT_URL",
            help="Broker URL for the simulator when it logs in as its own integrator "
            "(e.g. mqtt://simulator:PASSWORD@127.0.0.1:1883); default: SATUPINTU_MQTT_URL.",
        ),
    ] = None,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for the web process to answer.")] = 60.0,
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="Start the broker with login and ACL: the auth directory's passwd and acl, created when missing "
            "(platform users and a `simulator` integrator); the ingestor, web and simulator get fresh passwords at "
            "each start. Without it a broker that `up` starts with no passwd/acl accepts anonymous publishers.",
        ),
    ] = False,
) -> None:
    """Run everything: the broker (existing or started), the ingestor, the web app and the simulator. Ctrl-C stops all."""
    from satupintu.supervisor import Plan, supervise

    setup_logging()
    s = settings_or_exit()
    home = deployment_or_exit(s).home  # the children load the whole deployment themselves
    t0 = time.monotonic()
    probe = _refuse_taken_port(host, port)
    engine = migrated_engine(s)
    admin_token = create_first_admin(engine)  # printed below with the URL; `web` then finds an admin and stays quiet
    engine.dispose()
    plan = Plan(
        host=host,
        port=port,
        base_url=f"http://{probe}:{port}",
        demo=demo,
        rate=rate,
        demo_mqtt_url=demo_mqtt_url,
        auth_dir=auth_dir,
        ready_timeout=ready_timeout,
        secure=secure,
        city=home.city.id,
        feeds=feeds,
    )
    ok = supervise(s, plan, admin_token, t0)
    err.print("SatuPintu stopped.")
    if not ok:
        raise typer.Exit(1)


def main() -> None:
    from sqlalchemy.exc import InterfaceError, OperationalError

    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        cli()
    except (OperationalError, InterfaceError) as exc:  # the database did not answer or refused us
        if OPTIONS.debug:
            raise
        report_database_failure(exc)
        raise SystemExit(1) from None
