"""Shared fixtures: real databases (SQLite and PostgreSQL) and a private Mosquitto per test."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from satupintu.broker import free_port, start_broker

PG_ADMIN_URL = os.environ.get("SATUPINTU_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TEMPLATE_DB = f"satupintu_tpl_{os.getpid()}"
REPO = Path(__file__).resolve().parents[1]


def _pg_admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database to clone per test (CREATE DATABASE ... TEMPLATE is fast)."""
    admin = _pg_admin()
    try:
        with admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(
            f"PostgreSQL is required for these tests and is not reachable at {PG_ADMIN_URL} ({exc}). "
            "scripts/test.sh starts it; or set SATUPINTU_TEST_PG_URL.",
            pytrace=False,
        )
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"'))
        c.execute(text(f'CREATE DATABASE "{TEMPLATE_DB}"'))
    url = make_url(PG_ADMIN_URL).set(database=TEMPLATE_DB).render_as_string(hide_password=False)
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)'))
    admin.dispose()


def fresh_pg_database(template_url: str) -> tuple[str, callable]:
    """A new database cloned from the template; returns its URL and a dropper."""
    name = f"satupintu_t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"'))
    url = make_url(template_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind, committed to for real."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'satupintu.db'}"
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url
        return
    url, drop = fresh_pg_database(request.getfixturevalue("pg_template"))
    yield url
    drop()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@dataclass
class Broker:
    port: int
    proc: subprocess.Popen
    data_dir: Path

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.proc = start_broker(port=self.port, data_dir=self.data_dir)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """The project's own mosquitto config, on a free port, data in tmp_path."""
    data = tmp_path / "mosquitto"
    port = free_port()
    b = Broker(port=port, proc=start_broker(port=port, data_dir=data), data_dir=data)
    yield b
    b.stop()


def satupintu_env(**overrides: str) -> dict[str, str]:
    """The environment for a `satupintu` child process: this interpreter's, plus settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATUPINTU_")}
    env.update({f"SATUPINTU_{k.upper()}": str(v) for k, v in overrides.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn_satupintu(args: list[str], log: Path, **settings: str) -> subprocess.Popen:
    """Start `python -m satupintu ARGS` with the given settings, output to `log`."""
    out = open(log, "ab")  # noqa: SIM115 - owned by the child
    return subprocess.Popen(
        [sys.executable, "-m", "satupintu", *args],
        env=satupintu_env(**settings),
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )


def spawn_web(
    log: Path, *, ok: tuple[int, ...] = (200,), timeout: float = 90, **settings: str
) -> tuple[subprocess.Popen, str]:
    """`satupintu web` on a free port, answering `/api/health` with a status in `ok`: (process, base URL).

    free_port() is free when asked, not when uvicorn binds it seconds later (after imports and migrations): another
    test worker may take it in between. A web process that exits saying so is started again on another port.
    """
    import time

    import httpx

    for _ in range(3):
        port, start = free_port(), log.stat().st_size if log.exists() else 0
        proc = spawn_satupintu(["web", "--port", str(port)], log, **settings)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout  # a bound against a hang, not a speed check
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=2).status_code in ok:
                    return proc, base
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        said = log.read_bytes()[start:].decode(errors="replace")
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if "address already in use" not in said and " is taken (" not in said:  # uvicorn's bind, or web's check
            raise AssertionError(said[-3000:])
    raise AssertionError(f"three free ports were taken before the web process bound them:\n{said[-3000:]}")


def wait_for_log(proc: subprocess.Popen, log: Path, text: str, timeout: float = 90) -> None:
    """Wait until a child's log says `text` (e.g. the ingestor's 'subscribed'); fail if it dies first.

    A bound against a hang, not a speed check: a cold `python -m satupintu` that imports the app and migrates a
    database took over 20 s on a loaded 2-core machine (load average 12)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.05)
    # The test fails here, before its own clean-up holds the process: end it, or it outlives the run (a CI run once
    # left an ingestor running for hours this way).
    proc.kill()
    proc.wait(10)
    raise AssertionError(f"{log.name} never said {text!r}:\n{log.read_text(errors='replace')[-3000:]}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures tests measured (`record_property`): timings are reported, never asserted."""
    rows = [(r.nodeid, k, v) for r in terminalreporter.stats.get("passed", []) for k, v in r.user_properties]
    if rows:
        terminalreporter.section("measured")
        for nodeid, name, value in rows:
            terminalreporter.write_line(f"{name} = {value}  ({nodeid})")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`) the browser tests share one worker: two headless Chromiums,
    each with its own pipeline, are more than a 2-core machine runs reliably; the rest spread per test."""
    browser = pytest.mark.xdist_group("browser")
    for item in items:
        if item.nodeid.startswith("tests/dashboards/"):
            item.add_marker(browser)
