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

import typer

from app.settings import Settings
from satupintu.clikit import err

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
    return subprocess.Popen(args, start_new_session=True, preexec_fn=_die_with_parent, **kwargs)  # noqa: PLW1509


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


def start_or_find_broker(s: Settings, auth_dir: Path) -> subprocess.Popen | None:
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
        proc = start_broker(port=ep.port, data_dir=Path("data/mosquitto"), password_file=passwd, acl_file=acl, popen=spawn)
    except BrokerError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    auth = f", login and ACL from {auth_dir}/" if files else ", anonymous clients allowed"
    log.info("started mosquitto (pid %d) on 127.0.0.1:%s%s", proc.pid, ep.port, auth)
    return proc


def announce(url: str, admin_token: str | None, children: Children) -> None:
    """Say that everything runs, where to open it and, on a first run, the admin token."""
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
        broker = start_or_find_broker(s, plan.auth_dir)
        if broker is not None:
            children.append(("mosquitto", broker))
        me = [sys.executable, "-m", "satupintu"]
        children.append(("ingest", spawn([*me, "ingest"])))
        children.append(("web", spawn([*me, "web", "--host", plan.host, "--port", str(plan.port)])))
        if plan.demo:
            env = {**os.environ, "SATUPINTU_MQTT_URL": plan.demo_mqtt_url} if plan.demo_mqtt_url else None
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
                    announce(base, admin_token, children)
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
