"""The `satupintu` command as a newcomer meets it, run as a subprocess: clear one-line failures, quiet migrations,
`web` refusing a taken port before printing its URL, and --version."""

from __future__ import annotations

import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.settings import Settings
from app.storage.engine import make_engine
from satupintu.broker import free_port
from tests.conftest import PG_ADMIN_URL, satupintu_env


def satupintu(cwd: Path, *args: str, timeout: float = 120, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "satupintu", *args],
        cwd=cwd,
        env=satupintu_env(**settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


# --- a database that does not answer ------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgres"])
def test_a_database_that_does_not_answer_ends_a_command_with_one_line_naming_it(tmp_path: Path, scheme: str) -> None:
    closed = free_port()
    url = f"{scheme}://satu:rahasia-sekali@127.0.0.1:{closed}/satupintu"
    done = satupintu(tmp_path, "token", "list", database_url=url)
    assert done.returncode == 1, done.stderr
    assert lines(done.stderr) == [done.stderr.strip()], done.stderr  # one line, no traceback
    line = done.stderr.strip()
    assert f"postgresql+psycopg://satu:***@127.0.0.1:{closed}/satupintu" in line
    assert "Connection refused" in line and "--debug" in line
    assert "rahasia-sekali" not in done.stderr + done.stdout


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://satu@127.0.0.1:{free_port()}/satupintu"
    done = satupintu(tmp_path, "--debug", "db", "upgrade", database_url=url)
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "OperationalError" in done.stderr


def test_postgres_and_postgresql_urls_get_the_psycopg_driver() -> None:
    admin = make_url(PG_ADMIN_URL)
    assert admin.drivername == "postgresql+psycopg"
    bare = admin.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgres://", 1)
    for url in (bare, bare.replace("postgres://", "postgresql://", 1)):
        assert Settings(database_url=url).database_url.startswith("postgresql+psycopg://")
        engine = make_engine(url)
        try:
            assert engine.dialect.driver == "psycopg"
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()


# --- quiet migrations ----------------------------------------------------------------


def test_alembic_steps_are_logged_only_with_verbose(tmp_path: Path) -> None:
    quiet = satupintu(tmp_path, "db", "upgrade", database_url=f"sqlite:///{tmp_path / 'a.db'}")
    assert quiet.returncode == 0, quiet.stderr
    assert "Running upgrade" not in quiet.stderr and "Context impl" not in quiet.stderr
    assert "database schema upgraded from empty to" in quiet.stderr  # one line of ours says the schema moved
    loud = satupintu(tmp_path, "--verbose", "db", "upgrade", database_url=f"sqlite:///{tmp_path / 'b.db'}")
    assert loud.returncode == 0, loud.stderr
    assert "Running upgrade" in loud.stderr


# --- web on a taken port --------------------------------------------------------------


def test_web_on_a_taken_port_fails_before_printing_its_url(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = satupintu(tmp_path, "web", "--port", str(port), database_url=f"sqlite:///{tmp_path / 'w.db'}")
    assert done.returncode == 2, done.stderr
    assert f"Port {port} on 127.0.0.1 is taken" in " ".join(done.stderr.split())
    assert "SatuPintu web on" not in done.stderr + done.stdout
    assert not (tmp_path / "w.db").exists()  # refused before touching the database


# --- release hygiene -------------------------------------------------------------------


def test_version_is_the_package_version(tmp_path: Path) -> None:
    done = satupintu(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"satupintu {version('satupintu')}"


# --- the first admin token is in no log ------------------------------------------------------


@pytest.mark.slow
def test_web_on_a_first_run_creates_no_token_and_says_how_to_make_one(tmp_path: Path) -> None:
    import signal

    from sqlalchemy import func, select

    from app.storage.models import TokenRow
    from tests.conftest import spawn_satupintu, wait_for_log

    db_url = f"sqlite:///{tmp_path / 'first.db'}"
    log = tmp_path / "web.log"
    web = spawn_satupintu(["web", "--port", str(free_port())], log, database_url=db_url)
    try:
        wait_for_log(web, log, "SatuPintu web on", timeout=60)
        said = " ".join(log.read_text().split())
        assert "No admin token yet" in said and "satupintu token create --role admin" in said, said
        assert "First run" not in said
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(TokenRow)).scalar() == 0
    engine.dispose()


def _leaf_commands() -> list[list[str]]:
    import typer.main

    from satupintu.cli import cli

    def walk(cmd, path: list[str]) -> list[list[str]]:
        if getattr(cmd, "commands", None):
            return [p for name, sub in sorted(cmd.commands.items()) for p in walk(sub, [*path, name])]
        return [path]

    return walk(typer.main.get_command(cli), [])


def test_every_command_has_an_example_in_its_help() -> None:
    from typer.testing import CliRunner

    from satupintu.cli import cli

    leaves = _leaf_commands()
    assert len(leaves) >= 20 and ["up"] in leaves and ["token", "create"] in leaves
    missing = []
    for path in leaves:
        shown = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200)
        assert shown.exit_code == 0, (path, shown.output)
        if "Examples:" not in shown.output or f"satupintu {' '.join(path)}" not in shown.output.split("Examples:")[-1]:
            missing.append(" ".join(path))
    assert not missing, f"--help without an example of the command: {missing}"
