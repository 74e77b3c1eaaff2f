"""`satupintu user ...` on both databases: add (prompted twice or from stdin), list, passwd, role, disable, enable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.auth import passwords
from app.auth.brake import LoginBrake
from app.auth.sessions import Session, sign_in
from app.settings import get_settings
from app.storage.engine import make_engine
from app.storage.models import AuditRow, TokenRow
from satupintu.cli import cli


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    monkeypatch.setenv("SATUPINTU_DATABASE_URL", db_url)
    monkeypatch.setattr(passwords, "DEFAULT_COST", passwords.Cost(n=2**4, r=8, p=1))
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args, input=None: runner.invoke(cli, ["user", *args], input=input)  # noqa: A006
    get_settings.cache_clear()


def signs_in(db_url: str, username: str, password: str) -> bool:
    engine = make_engine(db_url)
    try:
        got = sign_in(
            engine=engine, brake=LoginBrake(), username=username, password=password, client="cli-test", session_s=60
        )
    finally:
        engine.dispose()
    return isinstance(got, Session)


def test_a_user_is_added_listed_and_signs_in(run, db_url: str) -> None:
    out = run("add", "Sari", "--role", "operator", input="kata-sandi-rahasia\nkata-sandi-rahasia\n")
    assert out.exit_code == 0, out.output
    assert "kata-sandi-rahasia" not in out.output  # the prompt does not echo
    assert run("add", "budi", "--role", "viewer", "--password-stdin", input="sandi-budi-123\n").exit_code == 0
    listed = run("list")
    assert listed.exit_code == 0 and "sari" in listed.output and "operator" in listed.output and "budi" in listed.output
    assert "scrypt" not in listed.output
    assert signs_in(db_url, "sari", "kata-sandi-rahasia") and signs_in(db_url, "budi", "sandi-budi-123")
    engine = make_engine(db_url)
    with engine.connect() as conn:
        actions = conn.execute(select(AuditRow.action, AuditRow.target, AuditRow.actor).order_by(AuditRow.id)).all()
    engine.dispose()
    assert [(a, t) for a, t, _ in actions[:2]] == [("user.create", "sari"), ("user.create", "budi")]
    assert actions[0].actor.startswith("cli:")


def test_bad_adds_fail_saying_why(run) -> None:
    mismatch = run(
        "add",
        "sari",
        "--role",
        "viewer",
        input="kata-sandi-rahasia\nlain-sandinya\nkata-sandi-rahasia\nkata-sandi-rahasia\n",
    )
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output.lower()  # asked again, then accepted
    short = run("add", "budi", "--role", "viewer", "--password-stdin", input="pendek\n")
    assert short.exit_code == 2 and "at least 8" in short.output
    assert run("add", "budi", "--role", "boss", "--password-stdin", input="sandi-budi-123\n").exit_code == 2
    assert run("add", "Budi Santoso", "--role", "viewer", "--password-stdin", input="sandi-budi-123\n").exit_code == 2
    taken = run("add", "SARI", "--role", "viewer", "--password-stdin", input="sandi-budi-123\n")
    assert taken.exit_code == 2 and "taken" in taken.output


def test_passwd_role_and_disable_end_sessions_and_enable_lets_in_again(run, db_url: str) -> None:
    run("add", "sari", "--role", "viewer", "--password-stdin", input="kata-sandi-rahasia\n")
    assert signs_in(db_url, "sari", "kata-sandi-rahasia")
    out = run("passwd", "sari", "--password-stdin", input="sandi-baru-sekali\n")
    assert out.exit_code == 0 and "1 session(s) ended" in out.output
    assert not signs_in(db_url, "sari", "kata-sandi-rahasia") and signs_in(db_url, "sari", "sandi-baru-sekali")
    assert "1 session(s) ended" in run("role", "sari", "operator").output
    assert run("role", "sari", "boss").exit_code == 2
    assert signs_in(db_url, "sari", "sandi-baru-sekali")
    out = run("disable", "sari")
    assert out.exit_code == 0 and "1 session(s) ended" in out.output
    assert not signs_in(db_url, "sari", "sandi-baru-sekali")
    assert run("enable", "sari").exit_code == 0
    assert signs_in(db_url, "sari", "sandi-baru-sekali")
    engine = make_engine(db_url)
    with engine.connect() as conn:
        live = conn.execute(select(TokenRow.role).where(TokenRow.revoked_ms.is_(None))).scalars().all()
    engine.dispose()
    assert live == ["operator"]
    assert (
        run("disable", "nobody").exit_code == 1
        and run("passwd", "nobody", "--password-stdin", input="x" * 9).exit_code == 1
    )


def test_a_user_and_a_token_take_a_city_scope(run, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Smart Province (issue 15): `--city` scopes a user (and each of their sessions) and a token."""
    from app.storage.models import UserRow

    # The city is one of the deployment's: on a Morotai-only deployment Ternate is refused, naming what is served.
    refused = run(
        "add", "rina", "--role", "operator", "--city", "ternate", "--password-stdin", input="sandi-rina-123\n"
    )
    assert refused.exit_code == 2 and "(morotai)" in refused.output
    monkeypatch.setenv("SATUPINTU_PROFILE", "morotai,ternate")
    get_settings.cache_clear()
    assert (
        run(
            "add", "rina", "--role", "operator", "--city", "ternate", "--password-stdin", input="sandi-rina-123\n"
        ).exit_code
        == 0
    )
    assert (
        run(
            "add", "dodi", "--role", "viewer", "--city", "Bad City", "--password-stdin", input="sandi-dodi-123\n"
        ).exit_code
        == 2
    )
    token = CliRunner().invoke(
        cli, ["token", "create", "--role", "viewer", "--name", "layar ternate", "--city", "ternate"]
    )
    assert token.exit_code == 0, token.output
    assert signs_in(db_url, "rina", "sandi-rina-123")
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(UserRow.city).where(UserRow.username == "rina")).scalar() == "ternate"
        cities = dict(conn.execute(select(TokenRow.name, TokenRow.city)).all())
    engine.dispose()
    assert cities["layar ternate"] == "ternate" and cities["session:rina"] == "ternate"
