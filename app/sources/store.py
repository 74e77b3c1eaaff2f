"""Writes to the sources table on the ingest path: first sight, position moves and the status topic's word.

The ingestor's writer calls these inside its batch transaction; none commits.
`last_seen_ms` is moved by ingest.bulk instead (a per-database fast path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, select, tuple_

from app.storage.dialect import insert_for
from app.storage.models import SourceRow

SourceKey = tuple[str, str]  # (city, source_id)

_SOURCES = SourceRow.__table__


class Place(NamedTuple):
    """Where a source says it is; any part may be unknown."""

    district: str | None
    lat: float | None
    lon: float | None


class SourceRef(NamedTuple):
    """A source's primary key and its stored place."""

    pk: int
    district: str | None
    lat: float | None
    lon: float | None


class Found(NamedTuple):
    """A source row as `find_sources` reads it back."""

    key: SourceKey
    ref: SourceRef
    first_seen_ms: int | None


class Moved(NamedTuple):
    """A source's new place, by primary key."""

    pk: int
    district: str | None
    lat: float | None
    lon: float | None


class StatusWord(NamedTuple):
    """A source's word on its status topic: `online` or `offline` at `ms`."""

    pk: int
    status: str
    ms: int


def add_unregistered_sources(*, conn: Connection, places: Sequence[tuple[SourceKey, Place]]) -> None:
    """Insert sources nobody registered yet, each with the place it gave; existing ones are left alone."""
    rows = [
        {"city": city, "source_id": sid, "district": p.district, "lat": p.lat, "lon": p.lon, "registered": False}
        for (city, sid), p in places
    ]
    ins = insert_for(conn, _SOURCES).on_conflict_do_nothing(index_elements=[_SOURCES.c.city, _SOURCES.c.source_id])
    conn.execute(ins, rows)


def find_sources(*, conn: Connection, keys: Sequence[SourceKey]) -> list[Found]:
    """The stored row of each of `keys` that exists: primary key, place and first sight."""
    t = _SOURCES.c
    found = conn.execute(
        select(t.id, t.city, t.source_id, t.district, t.lat, t.lon, t.first_seen_ms).where(
            tuple_(t.city, t.source_id).in_(keys)
        )
    ).all()
    return [Found((city, sid), SourceRef(pk, d, lat, lon), first) for pk, city, sid, d, lat, lon, first in found]


def set_first_seen(*, conn: Connection, seen: Sequence[tuple[int, int]]) -> None:
    """Stamp `first_seen_ms` (source pk, epoch ms) where it is still empty."""
    conn.execute(
        _SOURCES.update()
        .where(_SOURCES.c.id == bindparam("pk"), _SOURCES.c.first_seen_ms.is_(None))
        .values(first_seen_ms=bindparam("ms")),
        [{"pk": pk, "ms": ms} for pk, ms in seen],
    )


def move_sources(*, conn: Connection, moved: Sequence[Moved]) -> None:
    """Store each source's new district and coordinates."""
    conn.execute(
        _SOURCES.update()
        .where(_SOURCES.c.id == bindparam("pk"))
        .values(district=bindparam("d"), lat=bindparam("lat"), lon=bindparam("lon")),
        [{"pk": m.pk, "d": m.district, "lat": m.lat, "lon": m.lon} for m in moved],
    )


def set_status(*, conn: Connection, words: Sequence[StatusWord]) -> None:
    """Store each source's status word unless a newer one is already stored."""
    t = _SOURCES.c
    conn.execute(
        _SOURCES.update()
        .where(t.id == bindparam("pk"))
        .where((t.status_ms.is_(None)) | (t.status_ms <= bindparam("ms")))
        .values(status=bindparam("st"), status_ms=bindparam("ms")),
        [{"pk": w.pk, "st": w.status, "ms": w.ms} for w in words],
    )
