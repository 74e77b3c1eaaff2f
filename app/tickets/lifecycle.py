"""A ticket's state derived from its events: pure rules shared by the ingestor and the API.

A ticket is the fold of its events in time order: the status of the latest
event, opened at the first, resolved when it last became resolved/closed/
cancelled, and each descriptive field taken from the latest event that states
it. Deriving it whole, rather than patching, makes the result independent of
the order in which events arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

TERMINAL = frozenset({"resolved", "closed", "cancelled"})
# Order of statuses that share one timestamp: later in the lifecycle wins.
RANK = {"open": 0, "assigned": 1, "in_progress": 2, "resolved": 3, "closed": 4, "cancelled": 5}
FIELDS = (
    "agency",
    "service",
    "priority",
    "district",
    "title",
    "description",
    "lat",
    "lon",
    "sla_minutes",
    "due_ms",
    "stage",
)


class Deadlines(Protocol):
    """Where due times come from: the city profile's SLAs and its working-day calendar (app.profile.Profile)."""

    def due_ms(self, service_id: str | None, opened_ms: int) -> int | None: ...
    def stage_due_ms(self, service_id: str | None, stage: str, since_ms: int) -> int | None: ...


def derive_ticket(events: Iterable[Mapping[str, Any]], deadlines: Deadlines) -> dict[str, Any]:
    """Ticket columns from its events (mappings with status, ts_ms and the FIELDS); at least one event."""
    ordered = sorted(events, key=lambda e: (e["ts_ms"], RANK.get(e["status"], 0)))
    if not ordered:
        raise ValueError("a ticket has at least one event")
    stated: dict[str, Any] = {}
    for e in ordered:
        for f in FIELDS:
            if e.get(f) is not None:
                stated[f] = e[f]
    last = ordered[-1]
    resolved = None
    if last["status"] in TERMINAL:
        # The first terminal event after the last time the ticket was (re)opened.
        for e in reversed(ordered):
            if e["status"] not in TERMINAL:
                break
            resolved = e["ts_ms"]
    opened = ordered[0]["ts_ms"]
    sla = stated.get("sla_minutes")
    explicit_due = stated.pop("due_ms", None)
    # The profile's SLA in minutes or working days (app.workdays), unless the events stated their own.
    profile_due = deadlines.due_ms(stated.get("service"), opened) if explicit_due is None and sla is None else None
    stage, since = _stage(ordered)
    return {
        **stated,
        "priority": stated.get("priority") or "normal",
        "status": last["status"],
        "opened_ms": opened,
        "resolved_ms": resolved,
        "updated_ms": last["ts_ms"],
        "explicit_due_ms": explicit_due,
        "due_ms": profile_due
        if profile_due is not None
        else due_ms(opened_ms=opened, explicit_due_ms=explicit_due, sla_minutes=sla),
        "stage": stage,
        "stage_since_ms": since,
        "stage_due_ms": None
        if stage is None or since is None
        else deadlines.stage_due_ms(stated.get("service"), stage, since),
    }


def _stage(ordered: list[Mapping[str, Any]]) -> tuple[str | None, int | None]:
    """The LAPOR! stage the events last stated, and since when (the first event of its latest unbroken run)."""
    stage: str | None = None
    since: int | None = None
    for e in ordered:
        if e.get("stage") is not None and e["stage"] != stage:
            stage, since = e["stage"], e["ts_ms"]
    return stage, since


def due_ms(*, opened_ms: int, explicit_due_ms: int | None, sla_minutes: int | None) -> int | None:
    """When the ticket breaches its SLA: an explicit due time wins over opened + SLA."""
    if explicit_due_ms is not None:
        return explicit_due_ms
    if sla_minutes is None:
        return None
    return opened_ms + sla_minutes * 60_000
