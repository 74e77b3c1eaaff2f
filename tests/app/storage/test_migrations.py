"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine

from app.storage.migrate import upgrade
from app.storage.models import Base


def test_migrations_match_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def _before(revision: str) -> str:
    """The revision just before `revision` (its place in the chain moves as other features' migrations land)."""
    from alembic.script import ScriptDirectory

    from app.storage.migrate import alembic_config

    down = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


def down_to(engine: Engine, db_url: str, revision: str) -> None:
    """Bring the database down to `revision` (alembic's downgrade, on a connection of `engine`)."""
    from alembic import command

    from app.storage.migrate import alembic_config

    cfg = alembic_config(db_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_0006_users_and_session_tokens_go_down_and_up_again(db_url: str) -> None:
    """Tokens made before 0006 survive it both ways; the users table comes and goes."""
    from sqlalchemy import inspect, text

    engine = create_engine(db_url)

    def downgrade() -> None:
        down_to(engine, db_url, "0005")

    try:
        upgrade(engine)  # the fixture's database is at head already: come down from there first
        downgrade()
        assert "users" not in inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO api_tokens (name, role, token_hash, created_ms) VALUES ('wall', 'viewer', 'h1', 1)")
            )
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name, expires_ms, user_id FROM api_tokens")).all() == [
                ("wall", None, None)
            ]
        downgrade()
        assert "users" not in inspect(engine).get_table_names()
        assert "expires_ms" not in {c["name"] for c in inspect(engine).get_columns("api_tokens")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM api_tokens")).scalars().all() == ["wall"]
        upgrade(engine)
        assert "users" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_0013_agency_scope_goes_down_and_up_again(db_url: str) -> None:
    """Tokens and users made before 0013 come out of it city-wide (no agency), and keep their rows going down."""
    from sqlalchemy import inspect, text

    engine = create_engine(db_url)

    def downgrade() -> None:
        down_to(engine, db_url, _before("0013"))

    def columns(table: str) -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns(table)}

    try:
        upgrade(engine)
        downgrade()
        assert "agency" not in columns("api_tokens") and "agency" not in columns("users")
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO api_tokens (name, role, token_hash, created_ms) VALUES ('wall', 'viewer', 'h1', 1)")
            )
            conn.execute(
                text(
                    "INSERT INTO users (username, role, password_hash, created_ms, password_changed_ms) "
                    "VALUES ('sari', 'admin', 'x', 1, 1)"
                )
            )
        upgrade(engine)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT name, agency FROM api_tokens")).all() == [("wall", None)]
            assert conn.execute(text("SELECT username, agency FROM users")).all() == [("sari", None)]
            conn.execute(text("UPDATE users SET agency = 'pdam'"))
        downgrade()
        assert "agency" not in columns("users")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["sari"]
        upgrade(engine)
        assert "agency" in columns("api_tokens") and "agency" in columns("users")
    finally:
        engine.dispose()
