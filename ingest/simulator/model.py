"""The pure city model: sources taking turns, weather episodes, outages and tickets as one message stream."""

from __future__ import annotations

import heapq
import math
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from app.profile import District, Profile, Source as ProfileSource

from .bad import bad_message
from .clock import DAY, HOUR, TIME_SCALE
from .physics import GENS, TAU, Source, diurnal, g_tide, generic
from .tickets import TicketDesk

Message = tuple[str, bytes, bool, bool]  # topic, payload, retain, is_bad
# How often episodes come, in seconds of the wall clock (not compressed by TIME_SCALE): tuned so the demo's
# alarm rates meet EEMUA 191 in steady weather (bench/alarm_rates.py; issue 17).
STORM_GAP_S = 8 * HOUR
SMOKE_GAP_S = 12 * HOUR
OUTAGE_GAP_S = 5 * DAY
_Episode = tuple[float, float, float, list[float], float]  # start, end (real s), peak, per-district factor, mean

# Short names of the profile's source kinds, for synthetic ids (sim-awlr-0001).
_KIND_SHORT = {
    "water_level": "awlr",
    "rain_gauge": "arg",
    "buoy": "buoy",
    "air_quality": "aqms",
    "weather": "aws",
    "streetlight": "pju",
    "waste_bin": "tps",
    "hospital": "faskes",
    "water_mains": "pdam",
    "traffic": "atcs",
}


@dataclass(frozen=True, slots=True)
class SyntheticSource:
    """A source beyond the profile's, modelled on one of them (`template`) and placed in a district."""

    id: str
    template: ProfileSource
    district: District
    lat: float
    lon: float


def synthetic_sources(profile: Profile, extra: int, r: random.Random) -> Iterator[SyntheticSource]:
    """`extra` sources modelled on the profile's in turn, spread over its districts (ids `sim-awlr-0001`, ...).

    Lazy, and two `r.gauss` draws each (the position around the district's
    centre), so a caller may draw from `r` between them and keep its stream.
    """
    templates, districts = profile.sources, profile.districts
    width = max(4, len(str(extra)))
    for i in range(extra):
        t = templates[i % len(templates)]
        d = districts[(i * 7 + i // len(templates)) % len(districts)]
        short = _KIND_SHORT.get(t.kind, re.sub(r"[^a-z0-9]", "", t.kind.lower())[:12] or "src")
        lat = round(d.center.lat + r.gauss(0, 0.025), 5)
        lon = round(d.center.lon + r.gauss(0, 0.025), 5)
        yield SyntheticSource(f"sim-{short}-{i + 1:0{width}d}", t, d, lat, lon)


class CityModel:
    """The city as a stream of MQTT messages: call `next_message(now)` for each one to send.

    Its public attributes besides `next_message` (`rng`, `rnd`, `tz_s`, `metrics`, `multi`, `tide_ph`,
    `stamp`, `senml_pack`, ...) are the model's state that its generators in `physics` and `bad` read.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        seed: int | None = None,
        extra_sources: int = 0,
        bad_share: float = 0.0,
        time_scale: float = TIME_SCALE,
        unknown_metric: str = "accept",
    ) -> None:
        """`unknown_metric` is the ingestor's policy (settings.ingest_unknown_metric): with "accept" an
        unknown metric id is not an error, so the bad "unknown metric" message names one that is not an id."""
        if not profile.sources:
            raise ValueError("the profile has no sources to simulate")
        if not 0.0 <= bad_share <= 1.0:
            raise ValueError("bad_share must be within 0..1")
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.profile = profile
        self.city = profile.city.id
        self.scale = float(time_scale)
        self.bad_share = bad_share
        self.quarantine_unknown = unknown_metric == "quarantine"
        self.rng = random.Random(seed)
        self.rnd = self.rng.random
        off = datetime.now(profile.tz).utcoffset()
        self.tz_s = off.total_seconds() if off else 0.0
        sign = "-" if self.tz_s < 0 else "+"
        self._tz_suffix = f"{sign}{int(abs(self.tz_s)) // 3600:02d}:{int(abs(self.tz_s)) % 3600 // 60:02d}"
        self._iso_sec = -1
        self._iso_prefix = ""
        self.tide_ph = self.rng.uniform(0, TAU)
        self.tide_ph1 = self.rng.uniform(0, TAU)
        self._district_ids = [d.id for d in profile.districts]
        self.metrics = {m.id: m for m in profile.metrics}
        self.counts: dict[str, int] = {}
        self.sources: list[Source] = []
        self._build_sources(extra_sources)
        # Sources take turns by virtual time: each step a source advances by its
        # interval, so shares are proportional to 1/interval at any total rate.
        self._turns = [(self.rnd() * s.interval, i) for i, s in enumerate(self.sources)]
        heapq.heapify(self._turns)
        self.multi = [s for s in self.sources if len(s.gens) >= 2] or self.sources
        # Episodes (real-time start, end, peak, per-district multipliers, mean multiplier).
        self._storms: list[_Episode] = []
        self._smoke: list[_Episode] = []
        self._timed: list[tuple[float, int, Callable[[float, Any], Message | None], Any]] = []
        self._seq = 0
        self._now = 0.0
        self._started = False
        self._offline = 0
        self._tickets = TicketDesk(
            profile,
            scale=self.scale,
            size=len(self.sources) / max(1, len(profile.sources)),
            r=self.rng,
            tz_s=self.tz_s,
            schedule=self._at,
            iso=self._iso,
            counts=self.counts,
        )

    # ----------------------------------------------------------------- setup

    def _build_sources(self, extra: int) -> None:
        p, r = self.profile, self.rng
        dix = {d.id: i for i, d in enumerate(p.districts)}
        for src in p.sources:
            iv = src.interval_s or min(self.metrics[m].expected_interval_s for m in src.metrics)
            s = Source(
                sid=src.id,
                kind=src.kind,
                named=True,
                di=dix[src.district],
                district=src.district,
                lat=src.lat,
                lon=src.lon,
                interval=iv,
                city=self.city,
            )
            self._attach(s, src.metrics)
        for x in synthetic_sources(p, extra, r):
            t = x.template
            iv = t.interval_s or min(self.metrics[m].expected_interval_s for m in t.metrics)
            s = Source(
                sid=x.id,
                kind=t.kind,
                named=False,
                di=dix[x.district.id],
                district=x.district.id,
                lat=x.lat,
                lon=x.lon,
                interval=iv,
                city=self.city,
            )
            self._attach(s, t.metrics)

    def _attach(self, s: Source, metrics: list[str]) -> None:
        gens = []
        inits = []
        for mid in metrics:
            init, gen = GENS.get(mid) or generic(self.metrics[mid])
            if init is not None and init not in inits:
                inits.append(init)
            gens.append((mid, gen))
        for init in inits:
            init(s, self)
        s.gens = tuple(gens)
        self.sources.append(s)

    def _start(self, now: float) -> None:
        r = self.rng
        self._started = True
        # The first storm comes soon and is a real one, so a demo shows one within minutes.
        first = now + r.uniform(0.5, 3.0) * HOUR / self.scale
        self._at(first, self._on_storm, True)
        self._at(now + r.uniform(2, 12) * HOUR / self.scale, self._on_smoke, None)
        self._tickets.start(now)
        self._at(now + r.expovariate(1.0) * self._outage_gap(), self._on_outage, None)

    # ----------------------------------------------------------------- the stream

    def initial_statuses(self) -> list[Message]:
        """`online` (retained) for every source: what run_simulator publishes at start."""
        return [(s.status_topic, b"online", True, False) for s in self.sources]

    def next_message(self, now_s: float) -> Message:
        """The next message to publish at real time `now_s` (epoch seconds)."""
        now = now_s if now_s > self._now else self._now
        self._now = now
        if not self._started:
            self._start(now)
        if self.bad_share and self.rnd() < self.bad_share:
            return bad_message(self, now)
        timed = self._timed
        while timed[0][0] <= now:
            _, _, fn, arg = heapq.heappop(timed)
            msg = fn(now, arg)
            if msg is not None:
                return msg
        turns = self._turns
        sources = self.sources
        while True:
            vt, i = turns[0]
            s = sources[i]
            heapq.heapreplace(turns, (vt + s.interval, i))
            if s.online:
                break
        return self._reading(s, now)

    def _reading(self, s: Source, now: float) -> Message:
        prev = s.last_ms
        ms = self.stamp(s, now)
        h = (now + self.tz_s) % DAY / HOUR
        values = {k: g(s, self, now, h) for k, g in s.gens}
        c = self.counts
        # A synthetic buoy first introduces itself (and now and then again) with a reading object that
        # carries its district and position, which a SenML pack cannot, so it registers with a place.
        if s.senml and (s.named or ("placed" in s.st and self.rnd() >= 0.1)):
            c["senml"] = c.get("senml", 0) + 1
            return s.topic, orjson.dumps(self.senml_pack(s, prev, ms, values, h)), False, False
        c["reading"] = c.get("reading", 0) + 1
        if s.named:
            return s.topic, orjson.dumps({"ts": self._iso(ms), "values": values}), False, False
        s.st["placed"] = True
        body = {"ts": ms / 1000, "values": values, "district": s.district, "lat": s.lat, "lon": s.lon}
        return s.topic, orjson.dumps(body), False, False

    def senml_pack(self, s: Source, prev: int, ms: int, values: dict[str, float], h: float) -> list[dict[str, Any]]:
        """An RFC 8428 pack: base name/time/unit, then one record per metric (units from the catalogue)."""
        pack: list[dict[str, Any]] = []
        first = True
        for k, v in values.items():
            rec: dict[str, Any] = {"n": k, "v": v}
            unit = self.metrics[k].unit
            if first:
                rec = {"bn": f"urn:dev:satupintu:{s.id}:", "bt": ms / 1000, "bu": unit, **rec}
                first = False
            elif unit != pack[0]["bu"]:
                rec["u"] = unit
            pack.append(rec)
        # The tide sampled half-way since the source's previous message too: a record with a
        # relative time, strictly between the two time stamps (so still a unique key).
        gap_s = (ms - prev) // 2000
        if "tide_cm" in values and 0 < gap_s < 3600:
            t = ms / 1000 - gap_s
            rec = {"n": "tide_cm", "t": -gap_s, "v": g_tide(s, self, t, h)}
            if pack[0]["bu"] != "cm":
                rec["u"] = "cm"
            pack.append(rec)
        return pack

    def stamp(self, s: Source, now: float) -> int:
        """Now in ms, strictly after the source's previous time stamp."""
        ms = int(now * 1000)
        if ms <= s.last_ms:
            ms = s.last_ms + 1
        s.last_ms = ms
        return ms

    def _iso(self, ms: int) -> str:
        sec = ms // 1000
        if sec != self._iso_sec:
            self._iso_sec = sec
            self._iso_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec + self.tz_s))
        return f"{self._iso_prefix}.{ms % 1000:03d}{self._tz_suffix}"

    def _at(self, due: float, fn: Callable[[float, Any], Message | None], arg: Any) -> None:
        self._seq += 1
        heapq.heappush(self._timed, (due, self._seq, fn, arg))

    # ----------------------------------------------------------------- weather and episodes

    def rain_at(self, di: int, t: float) -> float:
        """Rain (mm/h) in district `di` at real time t: the sum of the storms over it."""
        total = 0.0
        for start, end, peak, mults, _ in self._storms:
            if start <= t < end:
                f = (t - start) / (end - start)
                total += peak * mults[di] * (f * 3.3333 if f < 0.3 else (1.0 - f) * 1.4286)
        return total

    def city_rain(self, t: float) -> float:
        total = 0.0
        for start, end, peak, _, mean in self._storms:
            if start <= t < end:
                f = (t - start) / (end - start)
                total += peak * mean * (f * 3.3333 if f < 0.3 else (1.0 - f) * 1.4286)
        return total

    def smoke_at(self, di: int, t: float) -> float:
        """Extra PM2.5 (µg/m³) from burning in district `di` at time t."""
        total = 0.0
        for start, end, peak, mults, _ in self._smoke:
            if start <= t < end:
                f = (t - start) / (end - start)
                total += peak * mults[di] * (f * 5.0 if f < 0.2 else 1.0 if f < 0.7 else (1.0 - f) * 3.3333)
        return total

    def wind_base(self, t: float, h: float) -> float:
        """City-wide wind (m/s): a sea breeze in the afternoon, gusts under storms."""
        return 3.0 + 2.5 * max(0.0, diurnal(h, 14.0)) + 0.2 * self.city_rain(t)

    def _episode(self, now: float, peak: float, hours: float, low: float = 0.3) -> _Episode:
        mults = [self.rng.uniform(low, 1.3) for _ in self._district_ids]
        return now, now + hours * HOUR / self.scale, peak, mults, sum(mults) / len(mults)

    def _on_storm(self, now: float, first: bool) -> None:  # also schedules the next one
        r = self.rng
        keep = now - 6 * HOUR / self.scale  # water levels look back up to ~45 simulated minutes
        self._storms = [s for s in self._storms if s[1] > keep]
        peak = r.uniform(85, 110) if first else min(150.0, r.lognormvariate(math.log(30), 0.6))
        storm = self._episode(now, peak, r.uniform(1.5, 3.0) if first else r.uniform(0.5, 3.0), 0.7 if first else 0.3)
        self._storms.append(storm)
        # The next storm: every STORM_GAP_S of the wall clock on average (issue 17: at TIME_SCALE a simulated
        # day's three storms would keep an operator in an alarm flood all day; a demo hour is mostly calm).
        self._at(now + r.expovariate(1.0) * STORM_GAP_S, self._on_storm, False)
        span = storm[1] - now
        for di, mult in enumerate(storm[3]):  # heavy rain: people call for help
            heavy = peak * mult
            if heavy > 45 and r.random() < 0.7:
                self._tickets.spawn("banjir", di, now + r.uniform(0.4, 1.0) * span)
            if heavy > 40 and r.random() < 0.3:
                self._tickets.spawn("drainase", di, now + r.uniform(0.3, 1.5) * span)
            if heavy > 70 and r.random() < 0.25:
                self._tickets.spawn("longsor", di, now + r.uniform(0.5, 1.5) * span)

    def _on_smoke(self, now: float, _: Any) -> None:
        r = self.rng
        self._smoke = [s for s in self._smoke if s[1] > now]
        self._smoke.append(self._episode(now, r.uniform(40, 200), r.uniform(1, 5)))
        self._at(now + r.expovariate(1.0) * SMOKE_GAP_S, self._on_smoke, None)

    # ----------------------------------------------------------------- sources going offline

    def _outage_gap(self) -> float:
        # Each source drops out about every OUTAGE_GAP_S of the wall clock (issue 17: a gauge failing every
        # few simulated days would be one going silent every few minutes of a demo).
        return OUTAGE_GAP_S / len(self.sources)

    def _on_outage(self, now: float, _: Any) -> Message | None:
        r = self.rng
        self._at(now + r.expovariate(1.0) * self._outage_gap(), self._on_outage, None)
        if self._offline >= max(1, len(self.sources) // 10):
            return None
        s = self.sources[int(self.rnd() * len(self.sources))]
        if not s.online:
            return None
        s.online = False
        self._offline += 1
        self._at(now + r.uniform(1, 6) * HOUR / self.scale, self._on_back, s)
        self.counts["status"] = self.counts.get("status", 0) + 1
        return s.status_topic, b"offline", True, False  # as its Last Will would say

    def _on_back(self, now: float, s: Source) -> Message:
        s.online = True
        self._offline -= 1
        self.counts["status"] = self.counts.get("status", 0) + 1
        return s.status_topic, b"online", True, False

    def spawn_ticket(self, service: str, di: int, at: float) -> None:
        """Open a ticket for `service` in district `di` at real time `at` (physics calls this on a failure)."""
        self._tickets.spawn(service, di, at)
