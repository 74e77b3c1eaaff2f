"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

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


def test_0006_users_and_session_tokens_go_down_and_up_again(db_url: str) -> None:
    """Tokens made before 0006 survive it both ways; the users table comes and goes."""
    from alembic import command
    from sqlalchemy import inspect, text

    from app.storage.migrate import alembic_config

    engine = create_engine(db_url)
    cfg = alembic_config(db_url)

    def downgrade() -> None:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")

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
