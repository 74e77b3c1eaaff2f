"""One shared picture of the city per web process, re-read only when a change notice says it moved.

Every open operator window asks this module, never the database: the first
request after a notice re-reads the parts the notice touched (through the API,
as that browser's user) while the others wait on the same lock and get the
same answer. So 20 browsers cost the database what one does. Parts nobody
asks for are never read; a part is also re-read when older than its max age,
because time alone moves some figures (a silent source goes stale, a ticket
goes overdue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from app.live.hub import start_hub
from app.live.notices import KINDS, Dependencies, Kind, changed_kinds
from app.profile import Profile
from app.settings import Settings
from dashboards.apiclient import ApiClient, ApiError

log = logging.getLogger(__name__)

# Where each part is read: what a part depends on is what its API route declares (app.live.notices.DependsOn).
PATHS = {
    "overview": "/api/v1/overview",
    "sources": "/api/v1/sources",
    "latest": "/api/v1/readings/latest",
    "tickets": "/api/v1/tickets",  # the map's: every open ticket
    "recent_tickets": "/api/v1/tickets",  # the feed's: the newest few, whatever their status
    "alarms": "/api/v1/alarms",
    "services": "/api/v1/services/status",
    "trends": "/api/v1/readings/series",
    "alerts": "/api/v1/alerts",  # regional warnings in force that concern the city (issue 12)
    "incidents": "/api/v1/incidents",  # the running incidents (issue 13): a KPI tile and stars on the map
    # alarm management (issue 17): situations, the flood, stale and chattering alarms
    "situations": "/api/v1/situations",
}
PARTS = tuple(PATHS)
TREND_HOURS = 6
FEED_EVENTS = 40


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


SLOW_PARTS = frozenset({"services", "trends"})  # heavy reads of slowly moving figures


@dataclass(frozen=True, slots=True)
class Pace:
    """How often a part is read again: at most every `gap_s` however many notices arrive, at least every `max_age_s`."""

    gap_s: dict[str, float]
    max_age_s: dict[str, float]

    @classmethod
    def of(cls, settings: Settings) -> Pace:
        """The pace the `dashboard_*` settings ask for."""
        slow = {p: p in SLOW_PARTS for p in PARTS}
        return cls(
            {
                p: settings.dashboard_slow_reread_gap_s if s else settings.dashboard_reread_gap_s
                for p, s in slow.items()
            },
            {p: settings.dashboard_slow_max_age_s if s else settings.dashboard_max_age_s for p, s in slow.items()},
        )


@dataclass
class Part:
    """One part of the picture: its data, when it was read, and a version that grows with each read."""

    data: Any
    read_ms: int
    version: int
    seq: int  # the change counter of this part when it was read
    ok: bool = True


@dataclass
class CityData:
    """The shared picture of one city, fed by the process's live hub."""

    client: ApiClient
    profile: Profile
    depends_on: Dependencies  # the API's routes' declarations (app.api.main.DEPENDS_ON)
    pace: Pace
    lang_parts: tuple[str, ...] = ("alarms", "situations")
    _parts: dict[str, Part] = field(default_factory=dict)
    _changed: dict[str, int] = field(default_factory=lambda: {p: 0 for p in PARTS})
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _background: set = field(default_factory=set)  # re-reads started by read_now (held so they are not collected)
    _listener: asyncio.Task | None = None
    _hub: Any = None
    status_events: deque = field(default_factory=lambda: deque(maxlen=FEED_EVENTS))
    notices: int = 0

    @property
    def city(self) -> str:
        return self.profile.city.id

    # --- the live side ----------------------------------------------------------

    def listen(self, app: Any) -> None:
        """Follow the hub's notices for this city (once per process; call on the event loop)."""
        if self._listener is not None and not self._listener.done():
            return
        self._hub = start_hub(app)
        self._listener = asyncio.get_running_loop().create_task(self._follow())

    async def _follow(self) -> None:
        async for ev in self._hub.stream(self.city):
            with contextlib.suppress(Exception):
                self.on_event(ev.type, _body(ev))

    @property
    def live(self) -> bool:
        """True while the hub holds its broker subscription: no notice can be missed unseen."""
        return bool(self._hub is not None and self._hub.live and self._listener and not self._listener.done())

    def on_event(self, kind: str, body: dict) -> None:
        """Mark what an event from the hub touched (a resync touches everything)."""
        if kind == "resync":
            self.changed(KINDS)
            return
        if kind != "changes":
            return
        self.notices += 1
        self.changed(changed_kinds(body))
        at = body.get("at")
        for s in body.get("status") or []:
            self.status_events.appendleft(
                {"kind": "status", "at": at, "source_id": s["source_id"], "online": s["online"]}
            )

    def touched(self, kinds: frozenset[Kind]) -> tuple[str, ...]:
        """The parts whose API answers depend on any of `kinds`."""
        return tuple(p for p in PARTS if self.depends_on(PATHS[p]) & kinds)

    def changed(self, kinds: frozenset[Kind]) -> None:
        """Mark the parts that depend on any of `kinds` (a notice's, or a write of this process) for a re-read."""
        for p in self.touched(kinds):
            self._changed[p] += 1

    # --- reads --------------------------------------------------------------------

    async def read(self, token: str, lang: str, want: tuple[str, ...] = PARTS) -> dict[str, Part]:
        """The parts in `want`, re-read first where a notice or their age says so.

        One lock per part: concurrent browsers wait for the same re-read of a
        part instead of repeating it, while different parts load side by side.
        """
        got = await asyncio.gather(*(self._part(p, token, lang) for p in want))
        return {p: part for p, part in zip(want, got, strict=True) if part is not None}

    async def read_now(self, token: str, lang: str, want: tuple[str, ...] = PARTS) -> dict[str, Part]:
        """The parts in `want` without waiting for a re-read of those already held (which starts behind).

        For a window's first fill: it shows what the process holds (at most a
        moment old, and its freshness stamp says so) at once; the next live tick
        brings the re-read.
        """
        held = {p: self._parts.get(self._key(p, lang)) for p in want}
        missing = tuple(p for p, part in held.items() if part is None)
        if len(missing) < len(want):
            task = asyncio.get_running_loop().create_task(
                self.read(token, lang, tuple(p for p in want if p not in missing))
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        got = await self.read(token, lang, missing) if missing else {}
        return {p: got.get(p) or held[p] for p in want if (got.get(p) or held[p]) is not None}

    async def _part(self, name: str, token: str, lang: str) -> Part | None:
        key = self._key(name, lang)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            t = now_ms()
            old = self._parts.get(key)
            if not self._due(key, name, t):
                return old
            seq = self._changed[name]
            try:
                data = await self._fetch(name, token, lang)
            except ApiError as exc:
                if exc.status in (401, 403):
                    raise
                log.warning("dashboard: reading %s failed: %s", name, exc)
                if old is not None:
                    old.ok = False
                return old
            except Exception as exc:  # noqa: BLE001 - a panel shows its last data, greyed out, rather than nothing
                log.warning("dashboard: reading %s failed: %r", name, exc)
                if old is not None:
                    old.ok = False
                return old
            part = Part(data, t, (old.version + 1) if old else 1, seq)
            self._parts[key] = part
            return part

    def as_of(self, part: Part, name: str) -> int:
        """Until when `part` is known to be current: now while the hub is live and nothing touched it since."""
        if part.ok and self.live and self._changed[name] == part.seq:
            return now_ms()
        return part.read_ms

    def _key(self, part: str, lang: str) -> str:
        return f"{part}:{lang}" if part in self.lang_parts else part

    def _due(self, key: str, part: str, t: int) -> bool:
        old = self._parts.get(key)
        if old is None:
            return True
        age_s = (t - old.read_ms) / 1000
        if age_s >= self.pace.max_age_s[part] or not old.ok:
            return age_s >= 1.0
        return self._changed[part] != old.seq and age_s >= self.pace.gap_s[part]

    async def _fetch(self, part: str, token: str, lang: str) -> Any:
        # Always about this picture's own city (not the request's that happened to start the read).
        c = self.client
        path = PATHS[part]
        if part == "overview":
            return await c.get(path, token, city=self.city)
        if part in ("sources", "latest"):
            return await c.get_all(path, token, city=self.city)
        if part == "tickets":
            return await c.get_all(path, token, city=self.city, cap=2000, status="active")
        if part == "recent_tickets":
            return (await c.get(path, token, city=self.city, limit=FEED_EVENTS))["items"]
        if part == "alarms":
            try:
                return await c.get_all(path, token, city=self.city, cap=2000, state="open", lang=lang, page=500)
            except ApiError as exc:
                if exc.status == 404:
                    return []  # an API without alarms yet
                raise
        if part == "situations":
            try:
                return await c.get(path, token, city=self.city, lang=lang)
            except ApiError as exc:
                if exc.status == 404:
                    return None  # an API without situations: the plain alarm list
                raise
        if part == "services":
            end = now_ms()
            return await c.get(path, token, city=self.city, start=iso(end - 86_400_000), end=iso(end))
        if part == "trends":
            return await self._trends(token)
        if part == "alerts":
            try:
                return await c.get_all(path, token, city=self.city, cap=200, page=200, state="active", relevant="true")
            except ApiError as exc:
                if exc.status == 404:
                    return []  # an API without regional warnings
                raise
        if part == "incidents":
            return await c.get_all(path, token, city=self.city, cap=500, state="active", page=500)
        raise ValueError(part)

    async def _trends(self, token: str) -> dict[str, Any]:
        return await read_trends(self.client, self.profile, token, end=datetime.now(UTC))


async def read_trends(client: ApiClient, profile: Profile, token: str, *, end: datetime) -> dict[str, Any]:
    """The trend charts' series: each key metric in 5-minute buckets over the TREND_HOURS before `end`, by metric id."""
    start = end - timedelta(hours=TREND_HOURS)
    metrics = key_metrics(profile)
    bodies = await asyncio.gather(
        *(
            client.get(
                PATHS["trends"],
                token,
                city=profile.city.id,
                metric=m.id,
                bucket="5m",
                agg=trend_agg(m),
                start=start.isoformat(),
                end=end.isoformat(),
            )
            for m in metrics
        )
    )
    return {m.id: b for m, b in zip(metrics, bodies, strict=True)}


def key_metrics(profile: Profile) -> list:
    """The metrics the profile marks as key: the trend charts."""
    return [m for m in profile.metrics if m.key]


def trend_agg(metric: Any) -> str:
    """The city-wide aggregate that shows a metric's danger: max for 'above' thresholds, min for 'below'."""
    if any(t.below is not None for t in metric.thresholds):
        return "min"
    return "max" if metric.thresholds else "avg"


def _body(ev: Any) -> dict:
    return orjson.loads(ev.text)
