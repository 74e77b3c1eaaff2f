"""Keeping the query planner informed: statistics for SQLite, which never gathers them by itself.

Without statistics SQLite guesses every index equally selective and, for the
overview's open-ticket count, walks `tickets` by (city, agency, service, status)
instead of (status, due_ms): 50-60 ms instead of a few on 200k tickets.
PostgreSQL's autovacuum keeps its statistics current, so nothing is done there.

`optimize` runs when a web process starts and on the writer's maintenance turn
(ingest.committer.Retention). It analyzes every table but the raw
readings and the series rollups, which are only ever read by their primary key
and are too big to scan (a sampled ANALYZE, `PRAGMA analysis_limit`, is no
substitute: on `tickets` it guessed 1,000 rows per status and the planner went
back to the wrong index). About 0.5 s for 200k tickets with their events. It
needs the write lock; when it cannot have it within the busy timeout it is
skipped until the next turn.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

SKIP = frozenset({"readings", "rollup_1m", "rollup_1h"})


def optimize(engine: Engine) -> bool:
    """Refresh the planner's statistics where the database does not (SQLite); True when it was done."""
    if engine.dialect.name != "sqlite":
        return False
    try:
        with engine.connect() as conn, conn.execution_options(sqlite_begin="IMMEDIATE").begin():
            tables = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).scalars()
            for name in sorted(set(tables) - SKIP):
                conn.exec_driver_sql(f'ANALYZE "{name}"')
    except OperationalError as exc:  # locked past the busy timeout, read-only file: the next turn tries again
        log.warning("planner statistics not refreshed: %s", str(exc).splitlines()[0][:200])
        return False
    return True
