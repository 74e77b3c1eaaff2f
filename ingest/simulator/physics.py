"""Source physics: each device's state and the generator behind every metric it reports."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.profile import Metric

from .clock import DAY, HOUR

if TYPE_CHECKING:
    from .model import CityModel

TAU = 2 * math.pi
M2_PERIOD_S = 44_712.0  # the principal lunar semi-diurnal tide, 12.42 h
_M2 = TAU / M2_PERIOD_S
_K1 = TAU / 86_164.0  # luni-solar diurnal tide
_SWELL = TAU / (3 * DAY)
_SENML_KINDS = frozenset({"buoy"})


class Source:
    """One device: where it is, how often it reports, and its own state."""

    __slots__ = (
        "di",
        "district",
        "gens",
        "id",
        "interval",
        "kind",
        "last_ms",
        "lat",
        "lon",
        "named",
        "online",
        "senml",
        "st",
        "status_topic",
        "topic",
    )

    def __init__(
        self,
        *,
        sid: str,
        kind: str,
        named: bool,
        di: int,
        district: str,
        lat: float,
        lon: float,
        interval: float,
        city: str,
    ) -> None:
        self.id, self.kind, self.named, self.senml = sid, kind, named, kind in _SENML_KINDS
        self.di, self.district, self.lat, self.lon, self.interval = di, district, lat, lon, interval
        self.topic = f"city/{city}/sensor/{sid}"
        self.status_topic = f"city/{city}/status/{sid}"
        self.gens: tuple[tuple[str, Callable[..., float]], ...] = ()
        self.st: dict[str, Any] = {}
        self.last_ms = 0
        self.online = True


# Metric generators: gen(source, model, now, local_hour) -> value, with an init
# that seeds the source's own state. Episodes use model.scale; diurnal shapes
# use the local hour.


def clamp(v: float, lo: float, hi: float) -> float:
    """`v` held inside `lo`..`hi`."""
    return lo if v < lo else hi if v > hi else v


def diurnal(h: float, peak: float) -> float:
    """The daily cycle at local hour `h`: a cosine of one day's period, 1 at hour `peak`, -1 twelve hours off."""
    return math.cos((h - peak) * TAU / 24)


def _init_wl(s: Source, m: CityModel) -> None:
    r = m.rng
    s.st.update(
        wl_base=r.uniform(55, 95),
        wl_gain=r.uniform(3.0, 4.2),
        wl_q=0.0,
        wl_t=None,
        wl_tau=r.uniform(60, 120) * 60 / m.scale,
        wl_lag=r.uniform(15, 45) * 60 / m.scale,
        wl_tide=r.uniform(4, 12),
        wl_ph=r.uniform(0, TAU),
    )


def _g_wl(s: Source, m: CityModel, now: float, h: float) -> float:
    # A linear reservoir: the level above base follows the district's rain with
    # a lag and recedes with time constant wl_tau (both on the episode clock).
    st = s.st
    t0 = st["wl_t"]
    st["wl_t"] = now
    if t0 is not None and now > t0:
        k = math.exp((t0 - now) / st["wl_tau"])
        st["wl_q"] = st["wl_q"] * k + st["wl_gain"] * m.rain_at(s.di, now - st["wl_lag"]) * (1.0 - k)
    v = st["wl_base"] + st["wl_q"] + st["wl_tide"] * math.cos(now * _M2 + st["wl_ph"]) + m.rnd() - 0.5
    return round(clamp(v, 5.0, 1400.0), 1)


def _g_rain(s: Source, m: CityModel, now: float, h: float) -> float:
    r = m.rain_at(s.di, now)
    rnd = m.rnd
    if r > 0.1:
        return round(r * (0.75 + 0.5 * rnd()), 1)
    return round(rnd() * 1.5, 1) if rnd() < 0.03 else 0.0


def _init_tide(s: Source, m: CityModel) -> None:
    r = m.rng
    s.st.update(amp=r.uniform(70, 90), ph=m.tide_ph + r.uniform(-0.3, 0.3), ph1=m.tide_ph1, wph=r.uniform(0, TAU))


def g_tide(s: Source, m: CityModel, now: float, h: float) -> float:
    st = s.st
    a = st["amp"]
    v = a * math.cos(now * _M2 + st["ph"]) + 0.28 * a * math.cos(now * _K1 + st["ph1"])
    return round(v + 0.5 * m.city_rain(now) + 2.0 * (m.rnd() - 0.5), 1)


def _g_wave(s: Source, m: CityModel, now: float, h: float) -> float:
    v = 0.35 + 0.11 * m.wind_base(now, h) + 0.25 * (1 + math.sin(now * _SWELL + s.st.get("wph", 0.0)))
    return round(v * (0.85 + 0.3 * m.rnd()), 2)


def _init_wind(s: Source, m: CityModel) -> None:
    s.st["wbase"] = m.rng.uniform(-1.0, 1.0)


def _g_wind(s: Source, m: CityModel, now: float, h: float) -> float:
    return round(max(0.0, (m.wind_base(now, h) + s.st["wbase"]) * (0.75 + 0.45 * m.rnd())), 1)


def _init_air(s: Source, m: CityModel) -> None:
    r = m.rng
    s.st.update(toff=r.uniform(-0.6, 0.6), pm_base=r.uniform(7, 15), pm_ratio=r.uniform(1.4, 1.9))


def _g_temp(s: Source, m: CityModel, now: float, h: float) -> float:
    wet = min(1.0, m.rain_at(s.di, now) / 15.0)
    v = 28.7 + 4.0 * diurnal(h, 14.0) - 2.5 * wet + s.st["toff"] + 0.3 * (m.rnd() - 0.5)
    return round(clamp(v, 24.0, 33.0), 1)


def _g_hum(s: Source, m: CityModel, now: float, h: float) -> float:
    wet = min(1.0, m.rain_at(s.di, now) / 10.0)
    v = 79.0 - 13.0 * diurnal(h, 14.0) + 8.0 * wet - 2.0 * s.st["toff"] + 1.5 * (m.rnd() - 0.5)
    return round(clamp(v, 65.0, 95.0), 1)


def _pm25(s: Source, m: CityModel, now: float, h: float) -> float:
    rush = 1.0 + 0.9 * math.exp(-((h - 7.5) ** 2) / 2.0) + 1.1 * math.exp(-((h - 19.0) ** 2) / 3.0)
    v = (s.st["pm_base"] * rush + m.smoke_at(s.di, now)) / (1.0 + m.rain_at(s.di, now) / 15.0)
    v *= 0.85 + 0.3 * m.rnd()
    s.st["pm25"] = v
    return v


def _g_pm25(s: Source, m: CityModel, now: float, h: float) -> float:
    return round(min(_pm25(s, m, now, h), 900.0), 1)


def _g_pm10(s: Source, m: CityModel, now: float, h: float) -> float:
    st = s.st
    base = st["pm25"] if "pm25" in st else _pm25(s, m, now, h)
    return round(min(base * st["pm_ratio"] + 4.0 * m.rnd(), 1900.0), 1)


def _init_light(s: Source, m: CityModel) -> None:
    r = m.rng
    s.st.update(rated=r.uniform(82, 116), loff=r.uniform(-0.15, 0.15), fail_until=0.0, next_fail=None)


def _lamp_failing(s: Source, m: CityModel, now: float, h: float) -> bool:
    st = s.st
    nf = st["next_fail"]
    if nf is None:
        st["next_fail"] = nf = now + m.rng.expovariate(1.0) * 4 * DAY / m.scale
    if now >= nf:  # a lamp dies; repaired some simulated hours later
        st["fail_until"] = now + m.rng.uniform(4, 24) * HOUR / m.scale
        st["next_fail"] = st["fail_until"] + m.rng.expovariate(1.0) * 4 * DAY / m.scale
        if (h >= 18 or h < 6) and m.rnd() < 0.5:
            m.spawn_ticket("lampu-jalan-padam", s.di, now + m.rng.uniform(0.5, 3) * HOUR / m.scale)
    return now < st["fail_until"]


def _light_on(s: Source, h: float) -> bool:
    x = h - s.st["loff"]
    return x >= 18.0 or x < 6.0


def _g_light_on(s: Source, m: CityModel, now: float, h: float) -> float:
    return 1 if _light_on(s, h) else 0


def _g_light_w(s: Source, m: CityModel, now: float, h: float) -> float:
    if not _light_on(s, h):
        _lamp_failing(s, m, now, h)
        return 0.0
    if _lamp_failing(s, m, now, h):
        return 0.0  # switched on, drawing nothing: the lamp is out
    dim = 0.75 if 0.0 <= h < 5.0 else 1.0  # dimmed after midnight
    return round(s.st["rated"] * dim * (0.98 + 0.04 * m.rnd()), 1)


def _init_bin(s: Source, m: CityModel) -> None:
    r = m.rng
    slots = (r.uniform(5.8, 7.2), r.uniform(14.8, 16.2))  # local hours the truck comes by
    s.st.update(fill=r.uniform(10, 85), rate=r.uniform(3, 6), bt=None, slots=slots)


def _g_bin(s: Source, m: CityModel, now: float, h: float) -> float:
    st = s.st
    t0 = st["bt"]
    st["bt"] = now
    if t0 is not None and now > t0:
        act = 0.3 if (h >= 22 or h < 5) else 1.6 if 6 <= h < 12 else 1.0
        fill = st["fill"] + st["rate"] * act * (now - t0) / HOUR
        h0 = h - (now - t0) / HOUR
        for slot in st["slots"]:  # the truck came by since the last report (most days)
            if (h0 < slot <= h or h0 < slot - 24 <= h) and m.rnd() < 0.85:
                fill = 3.0 + 5.0 * m.rnd()
        st["fill"] = min(fill, 100.0)
    return round(st["fill"], 1)


def _init_beds(s: Source, m: CityModel) -> None:
    r = m.rng
    cap = 100 if "rsud" in s.id else r.choice((20, 20, 30, 40))
    s.st.update(cap=cap, occ=round(cap * r.uniform(0.6, 0.85)), bt=None, acc=0.0)


# A ward's admissions and discharges: a 20-bed puskesmas at ~70 % with stays of ~3 days sees about 4 of each a
# day, so ~0.4 bed movements per bed and day. Paced by the wall clock, not the episodes' compressed clock (as
# in a real ward, occupancy moves a bed every few hours), and pulled toward ~70 % (the Kemenkes BOR norm is
# 60-85 %), so a full ward is an event of the day, not of the hour.
BED_MOVES_PER_BED_DAY = 0.4


def _beds_step(s: Source, m: CityModel, now: float) -> None:
    st = s.st
    t0 = st["bt"]
    st["bt"] = now
    if t0 is None or now <= t0:
        return
    cap, occ = st["cap"], st["occ"]
    st["acc"] += (now - t0) * cap * BED_MOVES_PER_BED_DAY / DAY
    moves = int(st["acc"])
    if not moves:
        return
    st["acc"] -= moves
    lo = math.ceil(0.5 * cap)
    for _ in range(min(moves, 40)):
        p_up = clamp(0.5 + (0.70 * cap - occ) / cap * 2.0, 0.1, 0.9)
        occ = min(occ + 1, cap) if m.rnd() < p_up else max(occ - 1, lo)
    st["occ"] = occ


def _g_bed_pct(s: Source, m: CityModel, now: float, h: float) -> float:
    _beds_step(s, m, now)
    return round(100.0 * s.st["occ"] / s.st["cap"], 1)


def _g_beds_free(s: Source, m: CityModel, now: float, h: float) -> float:
    if s.st["bt"] != now:  # the source reports no occupancy that stepped it already
        _beds_step(s, m, now)
    return s.st["cap"] - s.st["occ"]


def _init_pdam(s: Source, m: CityModel) -> None:
    r = m.rng
    s.st.update(pbase=r.uniform(2.7, 3.4), drop_until=0.0, next_drop=None)


# A main bursts about every PDAM_GAP_S of the wall clock per network (issue 17: on the compressed clock each
# network burst every ~2 real hours, a Siaga alarm each); the repair still takes its hours on the episodes' clock.
PDAM_GAP_S = 2 * DAY


def _g_pressure(s: Source, m: CityModel, now: float, h: float) -> float:
    st = s.st
    nd = st["next_drop"]
    if nd is None:
        st["next_drop"] = nd = now + m.rng.expovariate(1.0) * PDAM_GAP_S
    if now >= nd:  # a main bursts: pressure collapses until it is repaired
        st["drop_until"] = now + m.rng.uniform(1, 4) * HOUR / m.scale
        st["next_drop"] = st["drop_until"] + m.rng.expovariate(1.0) * PDAM_GAP_S
        if m.rnd() < 0.7:
            m.spawn_ticket("air-mati", s.di, now + m.rng.uniform(0.2, 1.0) * HOUR / m.scale)
    if now < st["drop_until"]:
        return round(0.15 + 0.25 * m.rnd(), 2)
    demand = math.exp(-((h - 6.5) ** 2) / 2.0) + math.exp(-((h - 18.0) ** 2) / 2.0)
    return round(st["pbase"] - 0.6 * demand + 0.1 * (m.rnd() - 0.5), 2)


def _init_traffic(s: Source, m: CityModel) -> None:
    s.st["vscale"] = 1.0 if s.named else m.rng.uniform(0.3, 2.0)


def _g_vehicles(s: Source, m: CityModel, now: float, h: float) -> float:
    mean = s.st["vscale"] * (
        6.0
        + 120.0 * math.exp(-((h - 7.5) ** 2))
        + 60.0 * math.exp(-((h - 12.5) ** 2) / 3.0)
        + 140.0 * math.exp(-((h - 17.0) ** 2) / 1.5)
        + 20.0 * (7.0 <= h < 21.0)
    )
    return max(0, round(mean + 3.0 * math.sqrt(mean) * (m.rnd() - 0.5)))


def _init_battery(s: Source, m: CityModel) -> None:
    # A few old batteries sag under 11.5 V before dawn (a warning to replace them).
    s.st["nom"] = 11.9 if m.rnd() < 0.08 else m.rng.uniform(12.4, 12.8)


def _g_battery(s: Source, m: CityModel, now: float, h: float) -> float:
    if 6.0 <= h < 18.0:
        v = s.st["nom"] + 1.4 * min(1.0, 1.5 * math.sin((h - 6.0) * math.pi / 12.0))
    else:
        v = s.st["nom"] - 0.045 * (h - 18.0 if h >= 18.0 else h + 6.0)
    return round(v + 0.04 * (m.rnd() - 0.5), 2)


GENS: dict[str, tuple[Callable[[Source, CityModel], None] | None, Callable[..., float]]] = {
    "water_level_cm": (_init_wl, _g_wl),
    "rain_mm_h": (None, _g_rain),
    "tide_cm": (_init_tide, g_tide),
    "wave_height_m": (None, _g_wave),
    "pm25_ugm3": (_init_air, _g_pm25),
    "pm10_ugm3": (_init_air, _g_pm10),
    "air_temp_c": (_init_air, _g_temp),
    "humidity_pct": (_init_air, _g_hum),
    "wind_speed_ms": (_init_wind, _g_wind),
    "streetlight_on": (_init_light, _g_light_on),
    "streetlight_power_w": (_init_light, _g_light_w),
    "bin_fill_pct": (_init_bin, _g_bin),
    "bed_occupancy_pct": (_init_beds, _g_bed_pct),
    "beds_available": (_init_beds, _g_beds_free),
    "water_pressure_bar": (_init_pdam, _g_pressure),
    "vehicle_count": (_init_traffic, _g_vehicles),
    "battery_v": (_init_battery, _g_battery),
}


def generic(metric: Metric) -> tuple[Callable[[Source, CityModel], None], Callable[..., float]]:
    """A metric the model has no physics for: a slow walk inside its range, clear of its thresholds."""
    lo, hi = metric.valid
    a = max([lo, *(t.below for t in metric.thresholds if t.below is not None)])
    b = min([hi, *(t.above for t in metric.thresholds if t.above is not None)])
    a, b = a + 0.1 * (b - a), b - 0.1 * (b - a)
    key = "g:" + metric.id

    def init(s: Source, m: CityModel) -> None:
        s.st[key] = m.rng.uniform(a, b)

    def gen(s: Source, m: CityModel, now: float, h: float) -> float:
        v = clamp(s.st[key] + 0.02 * (b - a) * (m.rnd() - 0.5), a, b)
        s.st[key] = v
        return round(v, 3)

    return init, gen
