"""Engines for both stores: SQLite in WAL mode (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from app.settings import Settings, with_psycopg_driver


def make_engine(
    url: str, *, pool_size: int = 5, sqlite_busy_timeout_ms: int = 5000, connect_timeout_s: int = 10
) -> Engine:
    """An engine for `url`, with SQLite tuned for one writer and many readers.

    `postgres://` and `postgresql://` URLs get the psycopg driver; a PostgreSQL that does not
    answer fails a connection after connect_timeout_s (libpq would wait for the OS, minutes).
    """
    url = with_psycopg_driver(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        # pool_size=0: the pool keeps every connection it opened (SQLite's cost one file handle each) instead of
        # closing the ones past its size when they come back. Such a close happens in whichever thread returns the
        # connection (a request's worker thread), and one of them took a test worker down with a segmentation
        # fault inside sqlite3's close (CI, Python 3.11.7, SQLite 3.40.1); the engine's dispose closes them all.
        engine = create_engine(
            url,
            pool_size=0,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_ms / 1000},
        )
        _sqlite_recipe(engine, sqlite_busy_timeout_ms)
        return engine
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": connect_timeout_s}
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, connect_args=connect_args
    )


def _sqlite_recipe(engine: Engine, busy_timeout_ms: int) -> None:
    # pysqlite opens transactions lazily and never for SELECT; SQLAlchemy's
    # documented recipe turns that off and emits BEGIN itself, so SAVEPOINTs
    # work and the writer can ask for BEGIN IMMEDIATE (take the write lock up
    # front: upgrading a read transaction to a write one in WAL mode fails
    # with SQLITE_BUSY without waiting for the busy timeout).
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:  # the DB-API connection: sqlite3's, untyped here
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def engine_from_settings(settings: Settings) -> Engine:
    """The engine the settings describe."""
    return make_engine(
        settings.database_url,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        connect_timeout_s=settings.database_connect_timeout_s,
    )


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write. On SQLite it takes the write lock up front (BEGIN IMMEDIATE), so a
    busy database is waited for (the busy timeout) instead of failing when a read transaction upgrades."""
    with engine.connect() as plain:
        conn = plain.execution_options(sqlite_begin="IMMEDIATE") if plain.dialect.name == "sqlite" else plain
        with conn.begin():
            yield conn
