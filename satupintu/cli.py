"""The `satupintu` command: run, ingest, simulate, migrate and check profiles."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from app.profile import ProfileError, load_profile, load_profile_file
from app.settings import Settings, get_settings
from app.storage.engine import engine_from_settings
from app.storage.migrate import upgrade
from satupintu.cli_check import check_cli
from satupintu.cli_integrator import integrator_cli
from satupintu.cli_user import user_cli

cli = typer.Typer(help="SatuPintu: one window for a regency's sensors and public services.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
profile_cli = typer.Typer(help="City profiles.", no_args_is_help=True)
token_cli = typer.Typer(help="API tokens (viewer, operator, admin).", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(profile_cli, name="profile")
cli.add_typer(token_cli, name="token")
cli.add_typer(integrator_cli, name="integrator")
cli.add_typer(user_cli, name="user")
cli.add_typer(check_cli)  # `satupintu check`
err = Console(stderr=True)
log = logging.getLogger("satupintu")


def _logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=True)],
    )


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:
        err.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


def _profile(settings: Settings):  # noqa: ANN202
    try:
        return load_profile(settings.profile)
    except ProfileError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _stop_on_signals(stop) -> None:  # noqa: ANN001
    def handler(signum, _frame):  # noqa: ANN001
        log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply schema migrations (also done at every start)."""
    _logging()
    s = _settings()
    engine = engine_from_settings(s)
    upgrade(engine)
    err.print(f"[green]schema up to date[/green] ({engine.url.render_as_string(hide_password=True)})")


@db_cli.command("prune")
def db_prune() -> None:
    """Delete raw readings and rollups past their retention now (the ingestor also does this hourly)."""
    from rich.progress import Progress

    from app.storage.retention import prune

    _logging()
    s = _settings()
    engine = engine_from_settings(s)
    upgrade(engine)
    with Progress(console=err, transient=True) as prog:
        task = prog.add_task("pruning series", total=None)
        pruned = prune(
            engine=engine,
            now_ms=int(time.time() * 1000),
            raw_days=s.retention_raw_days,
            rollup_days=s.retention_rollup_days,
            progress=lambda done, total: prog.update(task, completed=done, total=total),
        )
    err.print(
        f"pruned {pruned.readings:,} readings older than {s.retention_raw_days} days, "
        f"{pruned.rollup_1m:,} minute and {pruned.rollup_1h:,} hour rollups older than {s.retention_rollup_days} days"
    )


@profile_cli.command("check")
def profile_check(path: Path) -> None:
    """Validate a city profile file and summarise it."""
    try:
        p = load_profile_file(path)
    except ProfileError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    typer.echo(
        f"{p.city.name} ({p.city.id}, {p.city.timezone}): {len(p.districts)} districts, {len(p.agencies)} agencies, "
        f"{len(p.services)} services, {len(p.metrics)} metrics, {len(p.sources)} sources"
    )


def _actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


@token_cli.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="integrator, viewer, operator or admin")],
    name: Annotated[str, typer.Option(help="Who or what uses it, e.g. 'wall display lt.2'")],
) -> None:
    """Create a token; prints the token alone on stdout (it is not shown again)."""
    from app.auth.audit import record
    from app.auth.tokens import ROLES, create_token

    if role not in ROLES:
        err.print(f"[red]role must be one of {', '.join(ROLES)}[/red]")
        raise typer.Exit(2)
    s = _settings()
    engine = engine_from_settings(s)
    upgrade(engine)
    try:
        with engine.begin() as conn:
            token = create_token(conn=conn, name=name, role=role)
            record(conn=conn, actor=_actor(), role="admin", action="token.create", target=name, detail=role)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    typer.echo(token)


@token_cli.command("list")
def token_list() -> None:
    """List tokens (names and roles; secrets are never stored)."""
    from rich.table import Table

    from app.api.timefmt import from_ms
    from app.auth.tokens import list_tokens

    s = _settings()
    engine = engine_from_settings(s)
    upgrade(engine)
    with engine.connect() as conn:
        rows = list_tokens(conn=conn)
    table = Table("id", "name", "role", "created (UTC)", "revoked (UTC)")
    for r in rows:
        table.add_row(str(r.id), r.name, r.role, f"{from_ms(r.created_ms):%Y-%m-%d %H:%M}",
                      f"{from_ms(r.revoked_ms):%Y-%m-%d %H:%M}" if r.revoked_ms else "")  # fmt: skip
    Console().print(table)


@token_cli.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id (see `satupintu token list`)."""
    from app.auth.audit import record
    from app.auth.tokens import revoke_token

    s = _settings()
    engine = engine_from_settings(s)
    upgrade(engine)
    with engine.begin() as conn:
        if not revoke_token(conn=conn, token_id=token_id):
            err.print(f"[red]no live token with id {token_id}[/red]")
            raise typer.Exit(1)
        record(conn=conn, actor=_actor(), role="admin", action="token.revoke", target=str(token_id))
    err.print(f"token {token_id} revoked")


def _create_first_admin(engine) -> str | None:  # noqa: ANN001
    """On a first run (no admin token yet) create one and return it; None when an admin exists."""
    from app.auth.audit import record
    from app.auth.tokens import create_token, has_admin

    with engine.begin() as conn:
        if has_admin(conn=conn):
            return None
        token = create_token(conn=conn, name="first admin", role="admin")
        record(conn=conn, actor=_actor(), role="admin", action="token.create", target="first admin", detail="first run")
    return token


def _first_admin_token(engine) -> None:  # noqa: ANN001
    """On a first run (no admin token yet) create one and print it once."""
    token = _create_first_admin(engine)
    if token is None:
        return
    err.print(
        "[bold yellow]First run: an admin token was created. It is shown only now; keep it safe:[/bold yellow]\n"
        f"  {token}\n(create more with `satupintu token create --role viewer --name wall`)"
    )


@cli.command()
def web(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the API (/api, /docs, /metrics) in one ASGI process."""
    import uvicorn

    from app.api.main import create_app

    _logging()
    s = _settings()
    _profile(s)
    engine = engine_from_settings(s)
    upgrade(engine)
    _first_admin_token(engine)
    engine.dispose()
    # create_app(migrate=True) also registers the profile's sources; migrations are idempotent.
    err.print(f"[green]SatuPintu web on http://{host}:{port}[/green] (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(s), host=host, port=port, log_level="warning")


@cli.command("settings")
def show_settings() -> None:
    """List every setting: its environment variable, current value and what it trades off."""
    from rich.markup import escape
    from rich.table import Table

    s = _settings()
    table = Table(title="SatuPintu settings (environment variables or .env)", show_lines=False)
    for col in ("variable", "value", "meaning"):
        table.add_column(col, overflow="fold")
    for name, field in Settings.model_fields.items():
        value = getattr(s, name)
        if "url" in name and isinstance(value, str) and "@" in value:
            value = value.split("://")[0] + "://***@" + value.split("@", 1)[1]  # never print a password
        table.add_row(f"SATUPINTU_{name.upper()}", escape(str(value)), escape(field.description or ""))
    Console().print(table)


@cli.command()
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

    _logging(log_level)
    s = _settings()
    profile = _profile(s)
    engine = engine_from_settings(s)
    upgrade(engine)
    if s.ingest_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(s.ingest_metrics_port, addr="127.0.0.1")
    if s.ingest_writer == "process":
        engine.dispose()  # the writer process opens its own; this one serves the alarm clock
        committer = ProcessCommitter(s)
    else:
        committer = InlineCommitter(BatchWriter(engine, profile, s), ParseRules.from_profile(profile, s))
    ingestor = Ingestor(s, committer)
    ingestor.on_committed.append(NoticePublisher(ingestor.publish))  # alarms and city/{city}/changes after each commit
    clock = AlarmClock(engine, profile, s, ingestor.publish)  # time rules and webhooks
    clock.start()
    _stop_on_signals(ingestor.stop)
    log.info(
        "ingesting for %s into %s from %s", profile.city.id, engine.url.render_as_string(hide_password=True), s.mqtt_url
    )
    try:
        ingestor.run()
    except WriterCrashed as exc:
        clock.stop()
        err.print(f"[red]the writer failed; nothing of the batch was acknowledged:[/red]\n{exc}")
        raise typer.Exit(1) from exc
    clock.stop()


@cli.command()
def simulate(
    rate: Annotated[float, typer.Option(help="Messages per second (all sources together).")] = 20.0,
    bad_share: Annotated[float, typer.Option(help="Share of deliberately bad messages, 0..1.")] = 0.0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    count: Annotated[int | None, typer.Option(help="Stop after this many messages.")] = None,
    extra_sources: Annotated[int, typer.Option(help="Synthetic sources added to the profile's own.")] = 0,
    seed: Annotated[int | None, typer.Option(help="Random seed for a repeatable run.")] = None,
) -> None:
    """Publish realistic demo traffic for the city profile (the demo data and the benchmark load)."""
    from ingest.simulator import run_simulator

    _logging()
    s = _settings()
    profile = _profile(s)
    run_simulator(
        s,
        profile,
        rate=rate,
        bad_share=bad_share,
        duration=duration,
        count=count,
        extra_sources=extra_sources,
        seed=seed,
    )


def _die_with_parent() -> None:
    """In a child of `up`: get SIGTERM if `up` itself dies without stopping us (Linux; elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001, S110 - best effort: not Linux or no glibc
        pass


def _spawn(args: list[str], **kwargs) -> subprocess.Popen:  # noqa: ANN003
    """A child in a session of its own: Ctrl-C reaches `up` alone, which stops the children in order."""
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)  # noqa: PLW1509


def _stop_children(children: list[tuple[str, subprocess.Popen]], timeout: float = 15.0) -> None:
    """SIGTERM each child, newest first (simulator, web, ingestor, broker last); SIGKILL after timeout.

    Each child leads its own process group, so anything it started itself (the ingestor's
    writer process) is signalled through the group once the child is gone.
    """
    for name, proc in reversed(children):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %d) did not stop in %.0f s; killing it", name, proc.pid, timeout)
                proc.kill()
                proc.wait()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.2)


def _http_json(url: str, timeout: float = 1.0) -> dict | None:
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - our own loopback URL
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def _start_or_find_broker(s: Settings, auth_dir: Path) -> subprocess.Popen | None:
    """The broker at SATUPINTU_MQTT_URL if one answers; else a private mosquitto on that local port."""
    from satupintu.broker import BrokerError, auth_files, listening, start_broker

    ep = s.mqtt
    if listening(ep.host, ep.port):
        log.info("using the broker already listening at %s:%s", ep.host, ep.port)
        return None
    if ep.host not in ("127.0.0.1", "localhost"):
        err.print(f"[red]No broker answers at {ep.host}:{ep.port}[/red] and it is not local, so none can be started.")
        raise typer.Exit(2)
    files = auth_files(auth_dir)
    if files and not ep.username:
        err.print(
            f"[red]{auth_dir}/passwd and acl exist, so the broker will want a login, but SATUPINTU_MQTT_URL has none.[/red]\n"
            f"Set SATUPINTU_MQTT_URL=mqtt://satupintu-ingest:PASSWORD@{ep.host}:{ep.port} "
            "(the password `satupintu integrator init` printed), or move those files away."
        )
        raise typer.Exit(2)
    passwd, acl = files if files else (None, None)
    try:
        proc = start_broker(port=ep.port, data_dir=Path("data/mosquitto"), password_file=passwd, acl_file=acl, popen=_spawn)
    except BrokerError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    auth = f", login and ACL from {auth_dir}/" if files else ", anonymous clients allowed"
    log.info("started mosquitto (pid %d) on 127.0.0.1:%s%s", proc.pid, ep.port, auth)
    return proc


def _announce(url: str, admin_token: str | None, children: list[tuple[str, subprocess.Popen]]) -> None:
    pids = ", ".join(f"{n} pid {p.pid}" for n, p in children)
    err.print(f"[bold green]SatuPintu is running[/bold green] ({pids}). Ctrl-C stops all.", soft_wrap=True)
    err.print(f"  Open: [bold]{url}/[/bold]   API reference: {url}/docs   health: {url}/api/health", soft_wrap=True)
    if admin_token:
        err.print("  [bold yellow]First run: admin token (shown only now; keep it safe):[/bold yellow]", soft_wrap=True)
        err.print(f"  admin token: {admin_token}", soft_wrap=True, highlight=False)
    else:
        err.print(
            "  Admin token: printed on the first run; `satupintu token create --role admin --name NAME` makes another.",
            soft_wrap=True,
        )


@cli.command()
def up(
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Also run the Morotai demo simulator.")] = True,
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
) -> None:
    """Run everything: the broker (existing or started), the ingestor, the web app and the simulator. Ctrl-C stops all."""
    from satupintu.broker import listening

    _logging()
    s = _settings()
    _profile(s)
    t0 = time.monotonic()
    probe = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - only the address we probe
    if listening(probe, port):
        err.print(f"[red]Port {port} on {probe} is taken[/red] (another `satupintu up` or `web`?). Use --port.")
        raise typer.Exit(2)
    engine = engine_from_settings(s)
    upgrade(engine)
    admin_token = _create_first_admin(engine)  # printed below with the URL; `web` then finds an admin and stays quiet
    engine.dispose()

    children: list[tuple[str, subprocess.Popen]] = []
    stopping = False

    def stop(*_a) -> None:  # noqa: ANN002
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        broker = _start_or_find_broker(s, auth_dir)
        if broker is not None:
            children.append(("mosquitto", broker))
        me = [sys.executable, "-m", "satupintu"]
        children.append(("ingest", _spawn([*me, "ingest"])))
        children.append(("web", _spawn([*me, "web", "--host", host, "--port", str(port)])))
        if demo:
            env = {**os.environ, "SATUPINTU_MQTT_URL": demo_mqtt_url} if demo_mqtt_url else None
            children.append(("simulate", _spawn([*me, "simulate", "--rate", str(rate)], env=env)))
        base = f"http://{probe}:{port}"
        announced = live = failed = False
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    err.print(f"[red]{name} exited with {proc.returncode}; stopping the rest[/red]")
                    stopping = failed = True
            if stopping:
                break
            if not (announced and live):
                health = _http_json(f"{base}/api/health")
                if health is not None and not announced:
                    _announce(base, admin_token, children)
                    announced = True
                if health is not None and health.get("last_ingest_at") and not live:
                    log.info("live data: messages are being stored (%.1f s after start)", time.monotonic() - t0)
                    live = True
                if not announced and time.monotonic() - t0 > ready_timeout:
                    err.print(f"[red]the web process did not answer at {base} within {ready_timeout:.0f} s[/red]")
                    stopping = failed = True
            time.sleep(0.3)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the orderly stop short
        log.info("stopping %s", ", ".join(n for n, _ in reversed(children)) or "nothing")
        _stop_children(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    err.print("SatuPintu stopped.")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli()
