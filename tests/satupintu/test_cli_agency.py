"""`satupintu token create --agency` and `satupintu user add --agency` / `user agency`, on both databases: the agency
is checked against the profile (exit 2 saying which ones exist), stored, listed and audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from app.auth import passwords
from app.auth.tokens import authenticate
from app.settings import get_settings
from app.storage.engine import make_engine
from app.storage.models import AuditRow, TokenRow, UserRow
from satupintu.cli import cli

Run = Callable[..., Result]


def cli_runs(db_url: str, monkeypatch: pytest.MonkeyPatch, profile: str) -> Iterator[Run]:
    """The CLI in process on `db_url` and `profile` (SATUPINTU_PROFILE), with cheap password hashing."""
    monkeypatch.setenv("SATUPINTU_DATABASE_URL", db_url)
    monkeypatch.setenv("SATUPINTU_PROFILE", profile)
    monkeypatch.setattr(passwords, "DEFAULT_COST", passwords.Cost(n=2**4, r=8, p=1))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args, input=None: runner.invoke(cli, list(args), input=input)  # noqa: A006
    get_settings.cache_clear()


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    yield from cli_runs(db_url, monkeypatch, "morotai")


def rows(db_url: str, *columns: Any) -> list[Any]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(*columns)).all()
    finally:
        engine.dispose()


def test_token_create_scopes_a_token_to_an_agency_of_the_profile(run: Run, db_url: str) -> None:
    made = run("token", "create", "--role", "admin", "--name", "admin PDAM", "--agency", "pdam")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        who = authenticate(conn=conn, token=token)
    engine.dispose()
    assert who is not None and (who.role, who.agency) == ("admin", "pdam")
    assert run("token", "create", "--role", "viewer", "--name", "wall").exit_code == 0
    assert sorted(rows(db_url, TokenRow.name, TokenRow.agency)) == [("admin PDAM", "pdam"), ("wall", None)]
    listed = run("token", "list")
    assert listed.exit_code == 0 and "pdam" in listed.output
    assert ("token.create", "admin PDAM", "admin; agency pdam") in rows(
        db_url, AuditRow.action, AuditRow.target, AuditRow.detail
    )
    bad = run("token", "create", "--role", "admin", "--name", "x", "--agency", "dinas-air")
    assert bad.exit_code == 2 and "one of the profile's agencies" in bad.output and "dinas-pupr" in bad.output
    assert len(rows(db_url, TokenRow.id)) == 2  # nothing made


def test_user_add_and_user_agency_scope_a_user(run: Run, db_url: str) -> None:
    added = run(
        "user", "add", "rina", "--role", "admin", "--agency", "pdam", "--password-stdin", input="sandi-rina-123\n"
    )
    assert added.exit_code == 0, added.output
    assert rows(db_url, UserRow.username, UserRow.agency) == [("rina", "pdam")]
    assert "pdam" in run("user", "list").output
    bad = run(
        "user", "add", "budi", "--role", "admin", "--agency", "PDAM", "--password-stdin", input="sandi-budi-123\n"
    )
    assert bad.exit_code == 2 and "one of the profile's agencies" in bad.output
    assert rows(db_url, UserRow.username) == [("rina",)]
    moved = run("user", "agency", "rina", "dinas-pupr")
    assert moved.exit_code == 0 and "dinas-pupr" in moved.output
    assert rows(db_url, UserRow.agency) == [("dinas-pupr",)]
    assert run("user", "agency", "rina", "dinas-air").exit_code == 2
    assert run("user", "agency", "rina").exit_code == 2  # neither an agency nor --city-wide
    assert run("user", "agency", "rina", "pdam", "--city-wide").exit_code == 2
    assert run("user", "agency", "nobody", "pdam").exit_code == 1
    assert run("user", "agency", "rina", "--city-wide").exit_code == 0
    assert rows(db_url, UserRow.agency) == [(None,)]
    audited = [(a, d) for a, d in rows(db_url, AuditRow.action, AuditRow.detail) if a.startswith("user.")]
    assert audited == [
        ("user.create", "admin; agency pdam"),
        ("user.agency", "dinas-pupr"),
        ("user.agency", "city-wide"),
    ]
