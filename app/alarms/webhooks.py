"""Webhook delivery from the outbox (`webhook_deliveries`): POST with retry, dead letter when retries run out;
and the admin's view of the outbox (list, send a dead letter again).

Transitions write their deliveries in their own transaction (app.alarms.store),
so a webhook is never sent for an alarm change that did not commit, and never
forgotten for one that did. `dispatch_due` claims a due delivery with one
guarded UPDATE before sending, so several dispatchers (two ingestors) never
send the same delivery at the same time. Delivery is at least once: a receiver
that answered but whose answer was lost gets the same payload again, with the
same `X-SatuPintu-Delivery` id to tell.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy import Connection, Engine, RowMapping, func, select, update

from app.settings import Settings
from app.storage.engine import writing
from app.storage.models import WebhookDeliveryRow

log = logging.getLogger(__name__)
W = WebhookDeliveryRow.__table__

Post = Callable[[str, bytes, dict[str, str], float], int]  # url, body, headers, timeout -> HTTP status


def enqueue(
    conn: Connection,
    posts: Sequence[tuple[str, str]],
    *,
    now_ms: int,
    alarm_id: int | None = None,
    incident_id: int | None = None,
) -> None:
    """Queue one pending delivery per (url, JSON body) in the caller's transaction; dispatch_due sends them."""
    if not posts:
        return
    conn.execute(
        W.insert(),
        [
            {
                "alarm_id": alarm_id,
                "incident_id": incident_id,
                "url": url,
                "payload": body,
                "status": "pending",
                "attempts": 0,
                "next_ms": now_ms,
                "claimed_until_ms": 0,
                "created_ms": now_ms,
            }
            for url, body in posts
        ],
    )


def httpx_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        return client.post(url, content=body, headers=headers).status_code


@dataclass(slots=True)
class Dispatched:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0


def retry_delay_s(settings: Settings, attempts: int) -> float:
    """Delay before attempt `attempts + 1`: doubling from the initial delay, capped."""
    return min(settings.alarm_webhook_retry_initial_s * 2.0 ** max(0, attempts - 1), settings.alarm_webhook_retry_max_s)


def dispatch_due(
    engine: Engine, settings: Settings, *, post: Post = httpx_post, limit: int = 50, now_ms: int | None = None
) -> Dispatched:
    """Send the deliveries that are due at `now_ms` (default: the wall clock), one claim at a time; returns what
    happened to them."""
    out = Dispatched()
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    clock_skew = now_ms - int(time.time() * 1000)  # a test's controlled clock holds for the claims too
    with engine.connect() as conn:
        due = (
            conn.execute(
                select(W.c.id)
                .where(W.c.status == "pending", W.c.next_ms <= now_ms, W.c.claimed_until_ms <= now_ms)
                .order_by(W.c.next_ms, W.c.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
    hold_ms = int((settings.alarm_webhook_timeout_s + 5) * 1000)
    for delivery_id in due:
        with writing(engine) as conn:
            now_ms = int(time.time() * 1000) + clock_skew
            claimed = conn.execute(
                update(W)
                .where(W.c.id == delivery_id, W.c.status == "pending", W.c.claimed_until_ms <= now_ms)
                .values(claimed_until_ms=now_ms + hold_ms)
            ).rowcount
            if claimed != 1:
                continue  # another dispatcher has it
            row = conn.execute(
                select(W.c.url, W.c.payload, W.c.attempts, W.c.alarm_id, W.c.incident_id).where(W.c.id == delivery_id)
            ).one()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "SatuPintu-alarms/1",
            "X-SatuPintu-Delivery": str(delivery_id),
        }
        error: str | None = None
        try:
            code = post(row.url, row.payload.encode(), headers, settings.alarm_webhook_timeout_s)
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = row.attempts + 1
        done_ms = int(time.time() * 1000)
        if error is None:
            values = {"status": "delivered", "attempts": attempts, "done_ms": done_ms, "last_error": None}
            out.delivered += 1
        elif attempts >= settings.alarm_webhook_max_attempts:
            values = {"status": "dead", "attempts": attempts, "done_ms": done_ms, "last_error": error}
            out.dead += 1
            log.error("webhook %s for alarm %s dead after %d attempts: %s", row.url, row.alarm_id, attempts, error)
        else:
            delay_ms = int(retry_delay_s(settings, attempts) * 1000)
            values = {"attempts": attempts, "next_ms": done_ms + delay_ms, "last_error": error}
            out.retrying += 1
            log.warning(
                "webhook %s for alarm %s failed (%s); retry %d in %.0fs",
                row.url,
                row.alarm_id,
                error,
                attempts + 1,
                delay_ms / 1000,
            )
        with writing(engine) as conn:
            conn.execute(update(W).where(W.c.id == delivery_id).values(claimed_until_ms=0, **values))
    return out


# --- the admin's view of the outbox -------------------------------------------------


def list_deliveries(*, conn: Connection, status: str | None, limit: int, offset: int) -> tuple[list[RowMapping], int]:
    """A page of deliveries, newest first, and their total; `status` filters (`dead`: the dead letters)."""
    where = [W.c.status == status] if status else []
    total = conn.execute(select(func.count()).select_from(W).where(*where)).scalar_one()
    rows = conn.execute(select(W).where(*where).order_by(W.c.id.desc()).limit(limit).offset(offset)).mappings()
    return list(rows), total


def retry_delivery(*, conn: Connection, delivery_id: int, now_ms: int) -> bool:
    """Make a dead letter due again from its first attempt; False when there is no such dead delivery."""
    n = conn.execute(
        update(W)
        .where(W.c.id == delivery_id, W.c.status == "dead")
        .values(status="pending", attempts=0, next_ms=now_ms, claimed_until_ms=0, done_ms=None)
    ).rowcount
    return n == 1
