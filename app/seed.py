"""Bring the registry in line with the city profile: its sources, metric catalogue, alarm rules and SOPs.

It sits above storage and the alarms domain (it writes both), so that neither imports the other's way back;
the web process and the ingestor call it at start.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, update

from app.alarms.rule_store import sync_rules
from app.incidents.sops import sync_sops
from app.profile import Profile
from app.storage.dialect import insert_for
from app.storage.models import MetricRow, SourceRow


def sync_profile(*, conn: Connection, profile: Profile) -> None:
    """Register the profile's sources and metrics (idempotent; the caller commits)."""
    city = profile.city.id
    if profile.sources:
        src = SourceRow.__table__
        by_id = {m.id: m for m in profile.metrics}
        rows = [
            {
                "city": city,
                "source_id": s.id,
                "kind": s.kind,
                "name": s.name,
                "district": s.district,
                "lat": s.lat,
                "lon": s.lon,
                "registered": True,
                "registered_by": "profile",
                "interval_s": s.interval_s
                or min(by_id[m].expected_interval_s for m in s.metrics),  # profile-checked ids
            }
            for s in profile.sources
        ]
        stmt = insert_for(conn, src)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[src.c.city, src.c.source_id],
                set_={
                    k: stmt.excluded[k]
                    for k in ("kind", "name", "district", "lat", "lon", "registered", "registered_by", "interval_s")
                },
            ),
            rows,
        )
    # Sources the profile no longer lists stay, but show as unregistered; an admin's registrations stand.
    listed = [s.id for s in profile.sources]
    conn.execute(
        update(SourceRow)
        .where(SourceRow.city == city, SourceRow.registered_by == "profile", SourceRow.source_id.not_in(listed))
        .values(registered=False, registered_by=None)
    )
    met = MetricRow.__table__
    stmt = insert_for(conn, met)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[met.c.metric], set_={"unit": stmt.excluded.unit, "registered": True}
        ),
        [{"metric": m.id, "unit": m.unit, "registered": True} for m in profile.metrics],
    )
    # The profile's alarm rules seed the rule table once; an admin's edits and deletions stand.
    sync_rules(conn=conn, profile=profile)
    # Incidents (issue 13): the profile's SOPs likewise; an admin's replacements stand.
    sync_sops(conn=conn, profile=profile, now_ms=int(time.time() * 1000))
