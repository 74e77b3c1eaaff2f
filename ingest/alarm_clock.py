"""The ingestor's alarm clock: time rules, late incident steps and webhook deliveries, every `alarm_clock_interval_s`.

One clock, every city of the deployment, each with its own profile.

Silence, SLA and ticket-count rules hold without any message arriving, so
they run on a clock, not on commits. Each tick is one transaction; its alarm
transitions are published (on `city/{city}/alarm/{id}` and in a change
notice) only after it committed. Every ingestor runs one: the guarded
transitions (app.alarms.store) keep two of them from raising the same alarm
twice, and the outbox claims keep them from sending the same webhook twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from app.alarms.clock_rules import evaluate_clock
from app.alarms.rulebook import RuleBook
from app.alarms.store import Change, Lifecycle
from app.alarms.upkeep import upkeep
from app.alarms.webhooks import Post, dispatch_due, httpx_post
from app.alerts.store import reconcile_warnings
from app.incidents.escalation import OnDuty, escalate_late, rota_on_duty
from app.live.notices import IncidentMoved, Publisher
from app.profile import Deployment, Profile
from app.settings import Settings
from app.storage.engine import writing

log = logging.getLogger(__name__)


class AlarmClock:
    """A daemon thread ticking the time rules and the webhook outbox until `stop()`.

    One clock serves every city of the deployment (a profile, or a Deployment of several): each tick runs
    each city's time rules, upkeep and late incident steps with that city's own profile (its rules, alarm
    management and duty rota), then the webhook outbox once for all.
    """

    def __init__(
        self,
        engine: Engine,
        profile: Profile | Deployment,
        settings: Settings,
        publish: Callable[[str, bytes], bool],
        *,
        post: Post = httpx_post,
        on_duty: OnDuty | None = None,
    ) -> None:
        deployment = profile if isinstance(profile, Deployment) else Deployment(cities=(profile,))
        self._engine, self._settings, self._post = engine, settings, post
        self._multi = deployment.multi
        self._cities = [
            _City(
                profile=p,
                life=Lifecycle(p, settings.alarm_webhooks),
                on_duty=on_duty or rota_on_duty(p),  # who a late incident step is escalated to
            )
            for p in deployment.cities
        ]
        self._book = RuleBook(settings.alarm_rules_refresh_s)
        self._announce = Publisher(publish)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="satupintu-alarm-clock", daemon=True)
        self.ticks = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._settings.alarm_webhook_timeout_s + 5)

    def tick(self, now_ms: int | None = None) -> list[Change | IncidentMoved]:
        """One evaluation of the time rules, the alarm upkeep and the late incident steps at `now_ms` (default:
        now) for every city, each committed and announced; then the due webhooks."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        out: list[Change | IncidentMoved] = []
        for c in self._cities:
            try:
                out += self._tick_city(c, now)
            except Exception as exc:
                if not self._multi:
                    raise
                # one city's failure (its rules, its rota) must not stop the others' clock
                log.warning("alarm clock tick of %s failed: %s", c.profile.city.id, str(exc).splitlines()[0][:300])
        dispatch_due(self._engine, self._settings, post=self._post, now_ms=now)
        self.ticks += 1
        return out

    def _tick_city(self, c: _City, now: int) -> list[Change | IncidentMoved]:
        """One city's turn of the tick, told with its own profile."""
        city = c.profile.city.id
        with writing(self._engine) as conn:
            changes = evaluate_clock(conn, book=self._book, life=c.life, city=city, now_ms=now)
            # Regional warnings end on their own time (expiry, an earthquake's hold): cleared on this clock.
            changes += reconcile_warnings(
                conn=conn,
                life=c.life,
                city=city,
                now_ms=now,
                quake_hold_ms=self._settings.alert_quake_hold_s * 1000,
            )
        # alarm management (issue 17): the flood audited, chattering shelved, the duty rota paged; a
        # transaction of its own, so a failure there never costs the time rules' transitions
        try:
            with writing(self._engine) as conn:
                changes += upkeep(conn=conn, life=c.life, profile=c.profile, now_ms=now).changes
        except Exception as exc:  # noqa: BLE001 - the time rules' transitions committed: announce them anyway
            log.warning("alarm upkeep failed: %s", str(exc).splitlines()[0][:300])
        self._announce(changes)
        with writing(self._engine) as conn:
            late = escalate_late(conn=conn, city=city, on_duty=c.on_duty, now_ms=now)
        self._announce(late)
        return [*changes, *late]

    def _run(self) -> None:
        interval = self._settings.alarm_clock_interval_s
        while not self._stop.wait(interval):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - the next tick tries again; ingestion goes on regardless
                log.warning("alarm clock tick failed: %s", str(exc).splitlines()[0][:300])


@dataclass(frozen=True, slots=True)
class _City:
    """What the clock keeps of one city: its profile, its alarm transitions and who is on duty there."""

    profile: Profile
    life: Lifecycle
    on_duty: OnDuty
