"""Writes to `ingest_minute`: messages received, stored and quarantined per city and minute.

The ingestor's writer calls this inside its batch transaction (it does not
commit), so the counts move with the data they count. app.overview.queries,
app.api.metrics and app.api.health read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from sqlalchemy import Connection

from app.storage.dialect import insert_for
from app.storage.models import IngestMinuteRow

_MINUTES = IngestMinuteRow.__table__


class Counts(NamedTuple):
    """Messages of one city in one minute."""

    received: int
    stored: int
    quarantined: int


def add_ingest_counts(*, conn: Connection, counts: Mapping[tuple[str, int], Counts]) -> None:
    """Add counts to their (city, minute-start epoch seconds) rows, creating the rows that are new."""
    t = _MINUTES
    stmt = insert_for(conn, t)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[t.c.city, t.c.bucket],
            set_={
                "received": t.c.received + stmt.excluded.received,
                "stored": t.c.stored + stmt.excluded.stored,
                "quarantined": t.c.quarantined + stmt.excluded.quarantined,
            },
        ),
        [
            {"city": c, "bucket": b, "received": v.received, "stored": v.stored, "quarantined": v.quarantined}
            for (c, b), v in counts.items()
        ],
    )
