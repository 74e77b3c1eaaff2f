"""Integrator health: per integrator (MQTT user) and per source or agency, is it sending, and sending right?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from app.integrators import queries
from app.integrators.grants import Grant

HOUR_MS = 3_600_000
BUCKET_MS = 300_000  # integrator_traffic's buckets: "messages in the last hour" is exact to 5 minutes
HOURS = 24


@dataclass
class TargetHealth:
    """One source or agency: its traffic over the last day."""

    id: str
    kind: str | None  # "source" | "agency" | None when neither the ACL nor the profile says
    integrators: list[str] = field(default_factory=list)
    messages_1h: int = 0
    messages_24h: int = 0
    warnings_24h: int = 0
    refused_24h: dict[str, int] = field(default_factory=dict)
    sparkline: list[int] = field(default_factory=lambda: [0] * HOURS)  # messages per hour, oldest first
    last_seen_ms: int | None = None
    last_refusal: dict[str, Any] | None = None


def health(
    *,
    conn: Connection,
    city: str,
    agencies: set[str],
    grants: dict[str, set[Grant]],
    now_ms: int,
    only: set[str] | None = None,
) -> tuple[list[dict[str, Any]], list[TargetHealth]]:
    """(integrators, targets) of `city` over the last 24 h; `only`: just these targets (an integrator's own)."""
    hour0 = (now_ms // HOUR_MS - HOURS + 1) * HOUR_MS
    since = now_ms - HOURS * HOUR_MS
    sources = queries.source_ids(conn=conn, city=city)
    targets: dict[str, TargetHealth] = {}

    def get(tid: str, kind: str | None = None) -> TargetHealth:
        t = targets.get(tid)
        if t is None:
            kind = kind or ("source" if tid in sources else "agency" if tid in agencies else None)
            t = targets[tid] = TargetHealth(tid, kind, last_seen_ms=sources.get(tid))
        return t

    for user, gs in sorted(grants.items()):
        for g_city, kind, gid in sorted(gs):
            if g_city == city and gid != "+":
                get(gid, kind).integrators.append(user)
    for r in queries.traffic(conn=conn, city=city, since_ms=hour0):
        t = get(r.target)
        t.sparkline[(r.bucket - hour0) // HOUR_MS] += r.messages
        t.messages_24h += r.messages
        t.warnings_24h += r.warnings
        if r.bucket >= now_ms // BUCKET_MS * BUCKET_MS - HOUR_MS + BUCKET_MS:
            t.messages_1h += r.messages  # the last twelve 5-minute buckets, the current one included
        t.last_seen_ms = max(t.last_seen_ms or 0, r.last_ms)
    for r in queries.refusals(conn=conn, city=city, since_ms=since):
        get(r.target).refused_24h[r.reason] = r.n
    for r in queries.last_refusals(conn=conn, city=city, since_ms=since):
        get(r.target).last_refusal = {"at_ms": r.received_ms, "reason": r.reason, "detail": r.detail, "topic": r.topic}
    chosen = [t for t in targets.values() if only is None or t.id in only]
    chosen.sort(key=lambda t: (not t.integrators, t.integrators[:1], t.id))
    users = []
    for user in sorted(grants):
        own = [t for t in chosen if user in t.integrators]
        if not own:
            continue
        users.append(
            {
                "name": user,
                "targets": [t.id for t in own],
                "messages_1h": sum(t.messages_1h for t in own),
                "warnings_24h": sum(t.warnings_24h for t in own),
                "refused_24h": sum(sum(t.refused_24h.values()) for t in own),
                "last_seen_ms": max((t.last_seen_ms for t in own if t.last_seen_ms), default=None),
                "silent": [t.id for t in own if not t.messages_1h],
            }
        )
    return users, chosen
