"""`satupintu token create --city` and `satupintu user add --city` on a deployment of two cities, on both databases:
the city is one of the deployment's ids or '*' (exit 2 naming them otherwise), stored, listed and audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.auth.tokens import authenticate
from app.storage.engine import make_engine
from app.storage.models import AuditRow, TokenRow, UserRow
from tests.satupintu.test_cli_agency import Run, cli_runs, rows


@pytest.fixture
def run(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    yield from cli_runs(db_url, monkeypatch, "morotai,ternate")


def test_token_create_scopes_a_token_to_a_city_of_the_deployment_or_every_city(run: Run, db_url: str) -> None:
    made = run("token", "create", "--role", "operator", "--name", "operator ternate", "--city", "ternate")
    assert made.exit_code == 0, made.output
    engine = make_engine(db_url)
    with engine.connect() as conn:
        who = authenticate(conn=conn, token=made.stdout.strip())
    engine.dispose()
    assert who is not None and who.city == "ternate"
    assert run("token", "create", "--role", "admin", "--name", "admin provinsi", "--city", "*").exit_code == 0
    # An agency is checked against the city's own profile: Ternate's PDAM, not a Morotai-only agency.
    assert (
        run("token", "create", "--role", "admin", "--name", "pdam", "--city", "ternate", "--agency", "pdam").exit_code
        == 0
    )
    assert sorted(rows(db_url, TokenRow.name, TokenRow.city)) == [
        ("admin provinsi", "*"),
        ("operator ternate", "ternate"),
        ("pdam", "ternate"),
    ]
    assert "ternate" in run("token", "list").output
    assert ("token.create", "operator ternate", "operator; city ternate") in rows(
        db_url, AuditRow.action, AuditRow.target, AuditRow.detail
    )
    bad = run("token", "create", "--role", "viewer", "--name", "x", "--city", "tidore")
    assert bad.exit_code == 2 and "morotai, ternate" in bad.output and "'tidore'" in bad.output


def test_user_add_scopes_a_user_to_a_city_of_the_deployment(run: Run, db_url: str) -> None:
    added = run(
        "user",
        "add",
        "rina",
        "--role",
        "operator",
        "--city",
        "ternate",
        "--password-stdin",
        input="kata-sandi-rina-1\n",
    )
    assert added.exit_code == 0, added.output
    bad = run(
        "user", "add", "budi", "--role", "viewer", "--city", "tidore", "--password-stdin", input="kata-sandi-budi-1\n"
    )
    assert bad.exit_code == 2 and "morotai, ternate" in bad.output
    assert rows(db_url, UserRow.username, UserRow.city) == [("rina", "ternate")]
    assert "ternate" in run("user", "list").output
