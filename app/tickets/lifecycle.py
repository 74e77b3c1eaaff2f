"""A ticket's state derived from its events: pure rules shared by the ingestor and the API.

A ticket is the fold of its events in time order: the status of the latest
event, opened at the first, resolved when it last became resolved/closed/
cancelled, and each descriptive field taken from the latest event that states
it. Deriving it whole, rather than patching, makes the result independent of
the order in which events arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

TERMINAL = frozenset({"resolved", "closed", "cancelled"})
# Order of statuses that share one timestamp: later in the lifecycle wins.
RANK = {"open": 0, "assigned": 1, "in_progress": 2, "resolved": 3, "closed": 4, "cancelled": 5}
FIELDS = ("agency", "service", "priority", "district", "title", "description", "lat", "lon", "sla_minutes", "due_ms")


def derive_ticket(events: Iterable[Mapping[str, Any]], sla_for_service: Callable[[str], int | None]) -> dict[str, Any]:
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
    if sla is None and stated.get("service") is not None:
        sla = sla_for_service(stated["service"])
    explicit_due = stated.pop("due_ms", None)
    return {
        **stated,
        "priority": stated.get("priority") or "normal",
        "status": last["status"],
        "opened_ms": opened,
        "resolved_ms": resolved,
        "updated_ms": last["ts_ms"],
        "explicit_due_ms": explicit_due,
        "due_ms": due_ms(opened_ms=opened, explicit_due_ms=explicit_due, sla_minutes=sla),
    }


def due_ms(*, opened_ms: int, explicit_due_ms: int | None, sla_minutes: int | None) -> int | None:
    """When the ticket breaches its SLA: an explicit due time wins over opened + SLA."""
    if explicit_due_ms is not None:
        return explicit_due_ms
    if sla_minutes is None:
        return None
    return opened_ms + sla_minutes * 60_000
