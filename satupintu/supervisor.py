"""The process supervisor of `satupintu up`: start the broker (or find one), the ingestor, the web process and
the simulator as children; announce the URL once the web process answers; stop every child in order."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import typer

from app.settings import Settings
from satupintu.clikit import OPTIONS, err

log = logging.getLogger("satupintu")
Children = list[tuple[str, subprocess.Popen]]


def _die_with_parent() -> None:
    """In a child of `up`: get SIGTERM if `up` itself dies without stopping us (Linux; elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001, S110 - best effort: not Linux or no glibc
        pass


def spawn(args: list[str], **kwargs) -> subprocess.Popen:  # noqa: ANN003
    """A child in a session of its own: Ctrl-C reaches `up` alone, which stops the children in order."""
    return subprocess.Popen(  # noqa: S603 - argv list, no shell: the commands `up` itself builds
        args,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - a parent-death signal (prctl) needs the child side
        **kwargs,
    )


def stop_children(children: Children, timeout: float = 15.0) -> None:
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


@dataclass(frozen=True, slots=True)
class BrokerPlan:
    """The broker `up` uses: the process when it started one, what to tell the user about it, and the logins
    (`--secure` without one in SATUPINTU_MQTT_URL) that the ingestor and web process, and the simulator, use."""

    proc: subprocess.Popen | None
    note: str
    platform_url: str | None = None
    demo_url: str | None = None


def _url(user: str, password: str, host: str, port: int) -> str:
    return f"mqtt://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}"


def _secure_logins(auth_dir: Path, city: str | tuple[str, ...], host: str, port: int) -> tuple[str, str]:
    """For `up --secure`: the password file and ACL (created when missing, with the platform users and a
    `simulator` integrator that may publish for every source and agency of the city), and fresh passwords for
    the two logins `up` itself uses. They are set anew at each start, so they never rest in a file in plain text;
    integrators added with `satupintu integrator add` keep theirs."""
    from satupintu.integrators import ALL, INGEST_USER, CredentialStore

    store = CredentialStore(auth_dir)
    store.init_platform()
    for c in (city,) if isinstance(city, str) else city:  # a province: the simulator publishes for each city
        store.add_integrator("simulator", city=c, sources=[ALL], agencies=[ALL])
    ingest = store.reset_password(INGEST_USER)
    demo = store.reset_password("simulator")
    return _url(INGEST_USER, ingest, host, port), _url("simulator", demo, host, port)


def start_or_find_broker(
    s: Settings, auth_dir: Path, *, secure: bool = False, city: str | tuple[str, ...] = ""
) -> BrokerPlan:
    """The broker at SATUPINTU_MQTT_URL if one answers; else a private mosquitto on that local port
    (with login and ACL from auth_dir when those files exist, or with `secure`)."""
    from satupintu.bridge import bridge_file
    from satupintu.broker import BrokerError, auth_files, listening, start_broker
    from satupintu.integrators import IntegratorError

    ep = s.mqtt
    where = f"{ep.host}:{ep.port}"
    if listening(ep.host, ep.port):
        if secure:
            err.print(
                f"[red]--secure: a broker already listens at {where}[/red], and `up` cannot tell how it is secured. "
                "Stop it, or run without --secure to use it as it is.",
                soft_wrap=True,
            )
            raise typer.Exit(2)
        log.info("using the broker already listening at %s", where)
        return BrokerPlan(None, f"Broker: the one already listening at {where} (its own login and ACL, if any).")
    if ep.host not in ("127.0.0.1", "localhost"):
        err.print(f"[red]No broker answers at {where}[/red] and it is not local, so none can be started.")
        raise typer.Exit(2)
    platform_url = demo_url = None
    if secure and not ep.username:
        try:
            platform_url, demo_url = _secure_logins(auth_dir, city, ep.host, ep.port)
        except IntegratorError as exc:
            err.print(f"[red]--secure: {exc}[/red]")
            raise typer.Exit(2) from exc
    files = auth_files(auth_dir)
    if files and not ep.username and not platform_url:
        err.print(
            f"[red]{auth_dir}/passwd and acl exist, so the broker will want a login, but SATUPINTU_MQTT_URL has none.[/red]\n"
            f"Set SATUPINTU_MQTT_URL=mqtt://satupintu-ingest:PASSWORD@{ep.host}:{ep.port} "
            "(the password `satupintu integrator init` printed), run `satupintu up --secure`, or move those files away."
        )
        raise typer.Exit(2)
    if secure and not files:
        err.print(
            f"[red]--secure: {auth_dir}/passwd and acl are missing[/red] (SATUPINTU_MQTT_URL names a login: "
            "create them with `satupintu integrator init`, or drop the login from the URL)."
        )
        raise typer.Exit(2)
    passwd, acl = files if files else (None, None)
    try:
        bridge = bridge_file(auth_dir)  # `satupintu bridge init`: forward to the province
        proc = start_broker(
            port=ep.port,
            data_dir=Path("data/mosquitto"),
            password_file=passwd,
            acl_file=acl,
            popen=spawn,
            extra=bridge.read_text(encoding="utf-8") if bridge else "",
        )
    except BrokerError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if bridge:
        log.info("the broker forwards this deployment's topics to the province (%s)", bridge)
    if files:
        log.info("started mosquitto (pid %d) on 127.0.0.1:%s, login and ACL from %s/", proc.pid, ep.port, auth_dir)
        note = (
            f"Broker: mosquitto on 127.0.0.1:{ep.port} with login and ACL ({auth_dir}/passwd, acl); "
            "give integrators their own login with `satupintu integrator add NAME --agency ID --source ID`."
        )
    else:
        log.info("started mosquitto (pid %d) on 127.0.0.1:%s, anonymous clients allowed", proc.pid, ep.port)
        note = (
            f"[yellow]Broker: mosquitto on 127.0.0.1:{ep.port} accepts anonymous publishers[/yellow] (a laptop demo: "
            "any program on this machine may publish as any source). For login and ACL: `satupintu up --secure`, "
            'or docker compose (README, "The broker: anonymous or with login and ACL").'
        )
    return BrokerPlan(proc, note, platform_url, demo_url)


def announce(url: str, admin_token: str | None, children: Children, broker_note: str = "") -> None:
    """Say that everything runs, where to open it, what the broker allows and, on a first run, a sign-in link.

    The first admin token is printed here only, to the terminal that ran `up`: no child prints it, so it is in
    no process's log.
    """
    pids = ", ".join(f"{n} pid {p.pid}" for n, p in children)
    err.print(f"[bold green]SatuPintu is running[/bold green] ({pids}). Ctrl-C stops all.", soft_wrap=True)
    err.print(f"  Open: [bold]{url}/[/bold]   API reference: {url}/docs   health: {url}/api/health", soft_wrap=True)
    if broker_note:
        err.print(f"  {broker_note}", soft_wrap=True)
    if admin_token:
        err.print(
            "  [bold yellow]First run: sign in as admin with this link (shown only now; it holds the admin token, "
            "keep it safe; the page trades it for a cookie):[/bold yellow]",
            soft_wrap=True,
        )
        err.print(f"  sign in: {url}/?token={admin_token}", soft_wrap=True, highlight=False)
        err.print(f"  admin token: {admin_token}", soft_wrap=True, highlight=False)
    else:
        err.print(
            "  Admin token: printed on the first run; `satupintu token create --role admin --name NAME` makes another.",
            soft_wrap=True,
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """What `up` runs: where the web process listens and whether the simulator runs, and how."""

    host: str
    port: int
    base_url: str
    demo: bool
    rate: float
    demo_mqtt_url: str | None
    auth_dir: Path
    ready_timeout: float
    secure: bool = False
    city: str | tuple[str, ...] = ""  # the deployment's cities (the simulator's login publishes for each)
    feeds: bool = True  # regional warnings: `satupintu feeds` polls BMKG and the CAP feeds


def supervise(s: Settings, plan: Plan, admin_token: str | None, t0: float) -> bool:
    """Start every part, watch them until Ctrl-C (or SIGTERM) or one exits, then stop them all.

    True when stopped on request, False when a part failed or the web process never answered.
    """
    children: Children = []
    stopping = False

    def stop(*_a) -> None:  # noqa: ANN002
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    failed = False
    try:
        broker = start_or_find_broker(s, plan.auth_dir, secure=plan.secure, city=plan.city)
        if broker.proc is not None:
            children.append(("mosquitto", broker.proc))
        me = [sys.executable, "-m", "satupintu", *OPTIONS.as_args()]
        env = {**os.environ, "SATUPINTU_MQTT_URL": broker.platform_url} if broker.platform_url else None
        children.append(("ingest", spawn([*me, "ingest"], env=env)))
        children.append(("web", spawn([*me, "web", "--host", plan.host, "--port", str(plan.port)], env=env)))
        if plan.feeds:
            children.append(("feeds", spawn([*me, "feeds"], env=env)))
        if plan.demo:
            demo_url = plan.demo_mqtt_url or broker.demo_url
            env = {**os.environ, "SATUPINTU_MQTT_URL": demo_url} if demo_url else None
            children.append(("simulate", spawn([*me, "simulate", "--rate", str(plan.rate)], env=env)))
        base = plan.base_url
        announced = live = False
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
                    announce(base, admin_token, children, broker.note)
                    announced = True
                if health is not None and health.get("last_ingest_at") and not live:
                    log.info("live data: messages are being stored (%.1f s after start)", time.monotonic() - t0)
                    live = True
                if not announced and time.monotonic() - t0 > plan.ready_timeout:
                    err.print(f"[red]the web process did not answer at {base} within {plan.ready_timeout:.0f} s[/red]")
                    stopping = failed = True
            time.sleep(0.3)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the orderly stop short
        log.info("stopping %s", ", ".join(n for n, _ in reversed(children)) or "nothing")
        stop_children(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return not failed
