"""The demo publisher and the benchmark's load: a city profile's sensors and services as MQTT traffic.

Two parts with a seam between them:

* `CityModel` is pure (no network, no clock of its own): `next_message(now_s)`
  returns the next `(topic, payload, retain, is_bad)` of the city at that time.
  Every source keeps its own state; sources take turns in proportion to
  1/interval (so at any total rate their relative frequencies stay those of
  the profile); timed events (ticket steps, sources going offline and back)
  take their turn when due; a `bad_share` of messages is deliberately bad.
* `run_simulator` paces a CityModel onto the broker with QoS 1 (token bucket,
  bounded outstanding publishes, drained before disconnecting).

Two clocks:

* Diurnal behaviour follows the real local clock of the profile's time zone:
  street lights burn 18:00-06:00, temperature peaks early afternoon, PM and
  traffic at rush hours, bins fill by day and are emptied morning and
  afternoon, batteries charge by sun, tides follow the real M2/K1 periods.
* Episodes run on a clock compressed by `TIME_SCALE` (60: one real minute is
  one simulated hour, a simulated day passes in 24 real minutes): storms and
  the floods that follow them, burning-season smoke, PDAM pipe bursts, lamp
  failures, bed occupancy drift, sources going offline, and service tickets
  from `open` to `closed`. Ticket SLAs are compressed by the same factor and
  sent with each ticket (`sla_minutes`, Open311 `expected_datetime`), so
  "overdue" means in the demo what it means at full scale: an ambulance
  ticket (SLA 60 min) is sent with `sla_minutes: 1` and usually resolves in
  about half a minute; about one ticket in six runs past its SLA.

Every time stamp is the real time of sending (ms resolution, strictly
increasing per source, so (source, metric, ts) never repeats).
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import random
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from app.profile import Metric, Profile
from app.settings import Settings

__all__ = ["TIME_SCALE", "CityModel", "SimStats", "run_simulator"]

log = logging.getLogger(__name__)

TIME_SCALE = 60.0  # simulated seconds per real second for episodes and tickets
Message = tuple[str, bytes, bool, bool]  # topic, payload, retain, is_bad
_Episode = tuple[float, float, float, list[float], float]  # start, end (real s), peak, per-district factor, mean

_HOUR = 3600.0
_DAY = 86_400.0
_TAU = 2 * math.pi
_M2 = _TAU / 44_712.0  # principal lunar semi-diurnal tide, 12.42 h
_K1 = _TAU / 86_164.0  # luni-solar diurnal tide
_SWELL = _TAU / (3 * _DAY)
_OVERSIZE = 70_000  # bytes of padding: past the contract's 64 KiB

# Short names of the profile's source kinds, for synthetic ids (sim-awlr-0001).
_KIND_SHORT = {
    "water_level": "awlr", "rain_gauge": "arg", "buoy": "buoy", "air_quality": "aqms", "weather": "aws",
    "streetlight": "pju", "waste_bin": "tps", "hospital": "faskes", "water_mains": "pdam", "traffic": "atcs",
}  # fmt: skip
_SENML_KINDS = frozenset({"buoy"})


# --------------------------------------------------------------------------- sources


class _Source:
    """One device: where it is, how often it reports, and its own state."""

    __slots__ = (
        "id", "kind", "named", "senml", "di", "district", "lat", "lon", "interval",
        "topic", "status_topic", "gens", "st", "last_ms", "online",
    )  # fmt: skip

    def __init__(self, sid: str, kind: str, named: bool, di: int, district: str, lat: float, lon: float,
                 interval: float, city: str) -> None:  # fmt: skip
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


def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


def _init_wl(s: _Source, m: CityModel) -> None:
    r = m._r
    s.st.update(
        wl_base=r.uniform(55, 95), wl_gain=r.uniform(3.0, 4.2), wl_q=0.0, wl_t=None,
        wl_tau=r.uniform(60, 120) * 60 / m.scale, wl_lag=r.uniform(15, 45) * 60 / m.scale,
        wl_tide=r.uniform(4, 12), wl_ph=r.uniform(0, _TAU),
    )  # fmt: skip


def _g_wl(s: _Source, m: CityModel, now: float, h: float) -> float:
    # A linear reservoir: the level above base follows the district's rain with
    # a lag and recedes with time constant wl_tau (both on the episode clock).
    st = s.st
    t0 = st["wl_t"]
    st["wl_t"] = now
    if t0 is not None and now > t0:
        k = math.exp((t0 - now) / st["wl_tau"])
        st["wl_q"] = st["wl_q"] * k + st["wl_gain"] * m.rain_at(s.di, now - st["wl_lag"]) * (1.0 - k)
    v = st["wl_base"] + st["wl_q"] + st["wl_tide"] * math.cos(now * _M2 + st["wl_ph"]) + m._rnd() - 0.5
    return round(_clamp(v, 5.0, 1400.0), 1)


def _g_rain(s: _Source, m: CityModel, now: float, h: float) -> float:
    r = m.rain_at(s.di, now)
    rnd = m._rnd
    if r > 0.1:
        return round(r * (0.75 + 0.5 * rnd()), 1)
    return round(rnd() * 1.5, 1) if rnd() < 0.03 else 0.0


def _init_tide(s: _Source, m: CityModel) -> None:
    r = m._r
    s.st.update(amp=r.uniform(70, 90), ph=m._tide_ph + r.uniform(-0.3, 0.3), ph1=m._tide_ph1, wph=r.uniform(0, _TAU))


def _g_tide(s: _Source, m: CityModel, now: float, h: float) -> float:
    st = s.st
    a = st["amp"]
    v = a * math.cos(now * _M2 + st["ph"]) + 0.28 * a * math.cos(now * _K1 + st["ph1"])
    return round(v + 0.5 * m.city_rain(now) + 2.0 * (m._rnd() - 0.5), 1)


def _g_wave(s: _Source, m: CityModel, now: float, h: float) -> float:
    v = 0.35 + 0.11 * m.wind_base(now, h) + 0.25 * (1 + math.sin(now * _SWELL + s.st.get("wph", 0.0)))
    return round(v * (0.85 + 0.3 * m._rnd()), 2)


def _init_wind(s: _Source, m: CityModel) -> None:
    s.st["wbase"] = m._r.uniform(-1.0, 1.0)


def _g_wind(s: _Source, m: CityModel, now: float, h: float) -> float:
    return round(max(0.0, (m.wind_base(now, h) + s.st["wbase"]) * (0.75 + 0.45 * m._rnd())), 1)


def _init_air(s: _Source, m: CityModel) -> None:
    r = m._r
    s.st.update(toff=r.uniform(-0.6, 0.6), pm_base=r.uniform(7, 15), pm_ratio=r.uniform(1.4, 1.9))


def _g_temp(s: _Source, m: CityModel, now: float, h: float) -> float:
    wet = min(1.0, m.rain_at(s.di, now) / 15.0)
    v = 28.7 + 4.0 * math.cos((h - 14.0) * _TAU / 24) - 2.5 * wet + s.st["toff"] + 0.3 * (m._rnd() - 0.5)
    return round(_clamp(v, 24.0, 33.0), 1)


def _g_hum(s: _Source, m: CityModel, now: float, h: float) -> float:
    wet = min(1.0, m.rain_at(s.di, now) / 10.0)
    v = 79.0 - 13.0 * math.cos((h - 14.0) * _TAU / 24) + 8.0 * wet - 2.0 * s.st["toff"] + 1.5 * (m._rnd() - 0.5)
    return round(_clamp(v, 65.0, 95.0), 1)


def _pm25(s: _Source, m: CityModel, now: float, h: float) -> float:
    rush = 1.0 + 0.9 * math.exp(-((h - 7.5) ** 2) / 2.0) + 1.1 * math.exp(-((h - 19.0) ** 2) / 3.0)
    v = (s.st["pm_base"] * rush + m.smoke_at(s.di, now)) / (1.0 + m.rain_at(s.di, now) / 15.0)
    v *= 0.85 + 0.3 * m._rnd()
    s.st["pm25"] = v
    return v


def _g_pm25(s: _Source, m: CityModel, now: float, h: float) -> float:
    return round(min(_pm25(s, m, now, h), 900.0), 1)


def _g_pm10(s: _Source, m: CityModel, now: float, h: float) -> float:
    st = s.st
    base = st["pm25"] if "pm25" in st else _pm25(s, m, now, h)
    return round(min(base * st["pm_ratio"] + 4.0 * m._rnd(), 1900.0), 1)


def _init_light(s: _Source, m: CityModel) -> None:
    r = m._r
    s.st.update(rated=r.uniform(82, 116), loff=r.uniform(-0.15, 0.15), fail_until=0.0, next_fail=None)


def _lamp_failing(s: _Source, m: CityModel, now: float, h: float) -> bool:
    st = s.st
    nf = st["next_fail"]
    if nf is None:
        st["next_fail"] = nf = now + m._r.expovariate(1.0) * 4 * _DAY / m.scale
    if now >= nf:  # a lamp dies; repaired some simulated hours later
        st["fail_until"] = now + m._r.uniform(4, 24) * _HOUR / m.scale
        st["next_fail"] = st["fail_until"] + m._r.expovariate(1.0) * 4 * _DAY / m.scale
        if (h >= 18 or h < 6) and m._rnd() < 0.5:
            m.spawn_ticket("lampu-jalan-padam", s.di, now + m._r.uniform(0.5, 3) * _HOUR / m.scale)
    return now < st["fail_until"]


def _light_on(s: _Source, h: float) -> bool:
    x = h - s.st["loff"]
    return x >= 18.0 or x < 6.0


def _g_light_on(s: _Source, m: CityModel, now: float, h: float) -> float:
    return 1 if _light_on(s, h) else 0


def _g_light_w(s: _Source, m: CityModel, now: float, h: float) -> float:
    if not _light_on(s, h):
        _lamp_failing(s, m, now, h)
        return 0.0
    if _lamp_failing(s, m, now, h):
        return 0.0  # switched on, drawing nothing: the lamp is out
    dim = 0.75 if 0.0 <= h < 5.0 else 1.0  # dimmed after midnight
    return round(s.st["rated"] * dim * (0.98 + 0.04 * m._rnd()), 1)


def _init_bin(s: _Source, m: CityModel) -> None:
    r = m._r
    slots = (r.uniform(5.8, 7.2), r.uniform(14.8, 16.2))  # local hours the truck comes by
    s.st.update(fill=r.uniform(10, 85), rate=r.uniform(3, 6), bt=None, slots=slots)


def _g_bin(s: _Source, m: CityModel, now: float, h: float) -> float:
    st = s.st
    t0 = st["bt"]
    st["bt"] = now
    if t0 is not None and now > t0:
        act = 0.3 if (h >= 22 or h < 5) else 1.6 if 6 <= h < 12 else 1.0
        fill = st["fill"] + st["rate"] * act * (now - t0) / _HOUR
        h0 = h - (now - t0) / _HOUR
        for slot in st["slots"]:  # the truck came by since the last report (most days)
            if (h0 < slot <= h or h0 < slot - 24 <= h) and m._rnd() < 0.85:
                fill = 3.0 + 5.0 * m._rnd()
        st["fill"] = min(fill, 100.0)
    return round(st["fill"], 1)


def _init_beds(s: _Source, m: CityModel) -> None:
    r = m._r
    cap = 100 if "rsud" in s.id else r.choice((20, 20, 30, 40))
    s.st.update(cap=cap, occ=round(cap * r.uniform(0.6, 0.85)), bt=None, acc=0.0)


def _beds_step(s: _Source, m: CityModel, now: float) -> None:
    # Admissions and discharges, one every ~30 simulated minutes, pulled toward ~72 %.
    st = s.st
    t0 = st["bt"]
    st["bt"] = now
    if t0 is None or now <= t0:
        return
    st["acc"] += (now - t0) * m.scale / 1800.0
    cap, occ = st["cap"], st["occ"]
    lo, hi = math.ceil(0.5 * cap), math.floor(0.95 * cap)
    for _ in range(min(int(st["acc"]), 40)):
        p_up = _clamp(0.5 + (0.72 * cap - occ) / cap * 1.5, 0.1, 0.9)
        occ = min(occ + 1, hi) if m._rnd() < p_up else max(occ - 1, lo)
    st["acc"] -= int(st["acc"])
    st["occ"] = occ


def _g_bed_pct(s: _Source, m: CityModel, now: float, h: float) -> float:
    _beds_step(s, m, now)
    return round(100.0 * s.st["occ"] / s.st["cap"], 1)


def _g_beds_free(s: _Source, m: CityModel, now: float, h: float) -> float:
    if s.st["bt"] != now:  # the source reports no occupancy that stepped it already
        _beds_step(s, m, now)
    return s.st["cap"] - s.st["occ"]


def _init_pdam(s: _Source, m: CityModel) -> None:
    r = m._r
    s.st.update(pbase=r.uniform(2.7, 3.4), drop_until=0.0, next_drop=None)


def _g_pressure(s: _Source, m: CityModel, now: float, h: float) -> float:
    st = s.st
    nd = st["next_drop"]
    if nd is None:
        st["next_drop"] = nd = now + m._r.expovariate(1.0) * 5 * _DAY / m.scale
    if now >= nd:  # a main bursts: pressure collapses until it is repaired
        st["drop_until"] = now + m._r.uniform(1, 4) * _HOUR / m.scale
        st["next_drop"] = st["drop_until"] + m._r.expovariate(1.0) * 5 * _DAY / m.scale
        if m._rnd() < 0.7:
            m.spawn_ticket("air-mati", s.di, now + m._r.uniform(0.2, 1.0) * _HOUR / m.scale)
    if now < st["drop_until"]:
        return round(0.15 + 0.25 * m._rnd(), 2)
    demand = math.exp(-((h - 6.5) ** 2) / 2.0) + math.exp(-((h - 18.0) ** 2) / 2.0)
    return round(st["pbase"] - 0.6 * demand + 0.1 * (m._rnd() - 0.5), 2)


def _init_traffic(s: _Source, m: CityModel) -> None:
    s.st["vscale"] = 1.0 if s.named else m._r.uniform(0.3, 2.0)


def _g_vehicles(s: _Source, m: CityModel, now: float, h: float) -> float:
    mean = s.st["vscale"] * (
        6.0
        + 120.0 * math.exp(-((h - 7.5) ** 2))
        + 60.0 * math.exp(-((h - 12.5) ** 2) / 3.0)
        + 140.0 * math.exp(-((h - 17.0) ** 2) / 1.5)
        + 20.0 * (7.0 <= h < 21.0)
    )
    return max(0, round(mean + 3.0 * math.sqrt(mean) * (m._rnd() - 0.5)))


def _init_battery(s: _Source, m: CityModel) -> None:
    # A few old batteries sag under 11.5 V before dawn (a warning to replace them).
    s.st["nom"] = 11.9 if m._rnd() < 0.08 else m._r.uniform(12.4, 12.8)


def _g_battery(s: _Source, m: CityModel, now: float, h: float) -> float:
    if 6.0 <= h < 18.0:
        v = s.st["nom"] + 1.4 * min(1.0, 1.5 * math.sin((h - 6.0) * math.pi / 12.0))
    else:
        v = s.st["nom"] - 0.045 * (h - 18.0 if h >= 18.0 else h + 6.0)
    return round(v + 0.04 * (m._rnd() - 0.5), 2)


_GENS: dict[str, tuple[Callable[[_Source, CityModel], None] | None, Callable[..., float]]] = {
    "water_level_cm": (_init_wl, _g_wl),
    "rain_mm_h": (None, _g_rain),
    "tide_cm": (_init_tide, _g_tide),
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


def _generic(metric: Metric) -> tuple[Callable[[_Source, CityModel], None], Callable[..., float]]:
    """A metric the model has no physics for: a slow walk inside its range, clear of its thresholds."""
    lo, hi = metric.valid
    a = max([lo, *(t.below for t in metric.thresholds if t.below is not None)])
    b = min([hi, *(t.above for t in metric.thresholds if t.above is not None)])
    a, b = a + 0.1 * (b - a), b - 0.1 * (b - a)
    key = "g:" + metric.id

    def init(s: _Source, m: CityModel) -> None:
        s.st[key] = m._r.uniform(a, b)

    def gen(s: _Source, m: CityModel, now: float, h: float) -> float:
        v = _clamp(s.st[key] + 0.02 * (b - a) * (m._rnd() - 0.5), a, b)
        s.st[key] = v
        return round(v, 3)

    return init, gen


# --------------------------------------------------------------------------- tickets

# New tickets per simulated day (a regency of ~75,000 people); others: 1.
_TICKETS_PER_DAY = {
    "ambulans": 8.0, "darurat-umum": 5.0, "kebakaran": 1.0, "penyelamatan": 0.7, "banjir": 0.4, "longsor": 0.2,
    "layanan-puskesmas": 1.0, "rujukan-pasien": 2.0, "jalan-rusak": 2.0, "drainase": 1.5, "sampah-menumpuk": 3.0,
    "pencemaran": 0.5, "lampu-jalan-padam": 1.5, "lampu-lalu-lintas": 0.5, "ktp-el": 6.0, "akta-kelahiran": 4.0,
    "izin-usaha": 2.0, "pengaduan-perizinan": 1.0, "ketertiban-umum": 1.5, "air-mati": 1.0, "pipa-bocor": 1.0,
}  # fmt: skip
_PRIORITY = {  # (priority, weight) choices per service; others: normal
    "ambulans": (("critical", 7), ("high", 3)), "kebakaran": (("critical", 8), ("high", 2)),
    "penyelamatan": (("critical", 4), ("high", 6)), "darurat-umum": (("high", 6), ("normal", 4)),
    "banjir": (("high", 7), ("critical", 3)), "longsor": (("high", 7), ("critical", 3)),
    "rujukan-pasien": (("high", 7), ("critical", 3)), "lampu-lalu-lintas": (("high", 5), ("normal", 5)),
    "air-mati": (("normal", 6), ("high", 4)), "ktp-el": (("low", 5), ("normal", 5)),
    "akta-kelahiran": (("low", 6), ("normal", 4)), "izin-usaha": (("low", 3), ("normal", 7)),
    "jalan-rusak": (("normal", 8), ("high", 2)), "sampah-menumpuk": (("normal", 8), ("low", 2)),
}  # fmt: skip
_TITLES = {
    "ambulans": ("Kecelakaan lalu lintas di {p}", "Pasien sesak napas di {p}, butuh ambulans",
                 "Ibu hamil akan melahirkan di {p}", "Warga jatuh dari pohon kelapa di {p}", "Warga pingsan di {p}"),
    "darurat-umum": ("Pohon tumbang menutup jalan di {p}", "Kabel listrik putus di {p}", "Orang hilang di {p}",
                     "Perahu nelayan mati mesin di perairan {p}"),
    "kebakaran": ("Kebakaran rumah di {p}", "Kebakaran lahan di {p}", "Kebakaran kios di {p}"),
    "penyelamatan": ("Warga terjebak banjir di {p}", "Ular masuk rumah warga di {p}", "Nelayan hilang di perairan {p}"),
    "banjir": ("Banjir di {p}", "Air sungai meluap ke permukiman {p}", "Genangan setinggi lutut di {p}"),
    "longsor": ("Tanah longsor di {p}", "Longsor menutup jalan di {p}"),
    "layanan-puskesmas": ("Antrean puskesmas terlalu lama di {p}", "Obat tidak tersedia di puskesmas {p}"),
    "rujukan-pasien": ("Rujukan pasien dari puskesmas {p}", "Rujukan pasien gawat darurat ke RSUD"),
    "jalan-rusak": ("Jalan berlubang di {p}", "Jembatan rusak di {p}", "Aspal terkelupas di {p}"),
    "drainase": ("Drainase tersumbat di {p}", "Got meluap di {p}"),
    "sampah-menumpuk": ("Sampah menumpuk di {p}", "Sampah belum diangkut di {p}", "TPS penuh di {p}"),
    "pencemaran": ("Pembakaran sampah di {p}", "Limbah dibuang ke laut di {p}", "Bau menyengat di {p}"),
    "lampu-jalan-padam": ("Lampu jalan padam di {p}", "Lampu PJU berkedip di {p}"),
    "lampu-lalu-lintas": ("Lampu lalu lintas mati di Simpang Daruba", "Lampu lalu lintas rusak di {p}"),
    "ktp-el": ("Permohonan KTP-el baru", "KTP-el rusak, cetak ulang", "Perubahan data KTP-el"),
    "akta-kelahiran": ("Permohonan akta kelahiran", "Permohonan akta kelahiran terlambat"),
    "izin-usaha": ("Permohonan NIB dan izin usaha", "Izin usaha warung makan di {p}", "Izin usaha perikanan tangkap"),
    "pengaduan-perizinan": ("Proses perizinan lambat", "Layanan OSS tidak dapat diakses"),
    "ketertiban-umum": ("Keributan di {p}", "Pedagang berjualan di trotoar {p}", "Hewan ternak berkeliaran di {p}"),
    "air-mati": ("Air PDAM tidak mengalir di {p}", "Air PDAM keruh di {p}"),
    "pipa-bocor": ("Pipa PDAM bocor di {p}", "Pipa pecah di {p}"),
}  # fmt: skip
_PLACES = {
    "morotai-selatan": ("Jl. Raya Daruba", "Jl. Pemuda Daruba", "Jl. Bandara Pitu", "Desa Gotalamo", "Desa Darame",
                        "Desa Juanga", "Desa Pandanga", "Desa Totodoku", "Pasar Daruba", "Pelabuhan Daruba"),
    "morotai-selatan-barat": ("Desa Wayabula", "Desa Ngele-Ngele Besar", "Desa Tiley", "Jl. Trans Wayabula"),
    "morotai-timur": ("Desa Sangowo", "Desa Daeo", "Desa Mira", "Jl. Trans Sangowo"),
    "morotai-utara": ("Desa Bere-Bere", "Desa Cendana", "Desa Aru", "Jl. Trans Bere-Bere"),
    "morotai-jaya": ("Desa Sopi", "Desa Loleo", "Desa Gorugo", "Desa Titigogoli"),
    "pulau-rao": ("Desa Leo-Leo Rao", "Desa Posi-Posi Rao", "Desa Aru Burung", "Desa Tanjung Saleh"),
}  # fmt: skip
_OPEN311_NOTES = {
    "assigned": "Diteruskan ke petugas", "in_progress": "Sedang ditangani petugas", "resolved": "Selesai ditangani",
    "closed": "Selesai ditangani", "cancelled": "Laporan ganda",
}  # fmt: skip
_EMERGENCY_AGENCIES = frozenset({"layanan-112", "damkar", "bpbd"})
# Where tickets come from: the regency seat dominates.
_DISTRICT_WEIGHT = {"morotai-selatan": 5.0, "morotai-selatan-barat": 1.5, "morotai-utara": 1.5}


class _Ticket:
    __slots__ = ("tid", "agency", "service", "name", "agency_name", "priority", "di", "district", "lat", "lon",
                 "title", "place", "sla", "open311", "topic", "opened_ms", "due_ms", "last_ms")  # fmt: skip


# --------------------------------------------------------------------------- the model


class CityModel:
    """The city as a stream of MQTT messages: call `next_message(now)` for each one to send."""

    def __init__(self, profile: Profile, *, seed: int | None = None, extra_sources: int = 0, bad_share: float = 0.0,
                 time_scale: float = TIME_SCALE, unknown_metric: str = "accept") -> None:  # fmt: skip
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
        self._quarantine_unknown = unknown_metric == "quarantine"
        self._r = random.Random(seed)
        self._rnd = self._r.random
        off = datetime.now(profile.tz).utcoffset()
        self._tz_s = off.total_seconds() if off else 0.0
        sign = "-" if self._tz_s < 0 else "+"
        self._tz_suffix = f"{sign}{int(abs(self._tz_s)) // 3600:02d}:{int(abs(self._tz_s)) % 3600 // 60:02d}"
        self._iso_sec = -1
        self._iso_prefix = ""
        self._tide_ph = self._r.uniform(0, _TAU)
        self._tide_ph1 = self._r.uniform(0, _TAU)
        self._district_ids = [d.id for d in profile.districts]
        self._metrics = {m.id: m for m in profile.metrics}
        self.counts: dict[str, int] = {}
        self.sources: list[_Source] = []
        self._build_sources(extra_sources)
        # Sources take turns by virtual time: each step a source advances by its
        # interval, so shares are proportional to 1/interval at any total rate.
        self._turns = [(self._rnd() * s.interval, i) for i, s in enumerate(self.sources)]
        heapq.heapify(self._turns)
        self._multi = [s for s in self.sources if len(s.gens) >= 2] or self.sources
        # Episodes (real-time start, end, peak, per-district multipliers, mean multiplier).
        self._storms: list[_Episode] = []
        self._smoke: list[_Episode] = []
        self._timed: list[tuple[float, int, Callable[[float, Any], Message | None], Any]] = []
        self._seq = 0
        self._now = 0.0
        self._started = False
        self._offline = 0
        self._build_services(len(self.sources) / max(1, len(profile.sources)))
        self._bad_kinds = [k for k, w in _BAD_KINDS for _ in range(w)]

    # ----------------------------------------------------------------- setup

    def _build_sources(self, extra: int) -> None:
        p, r = self.profile, self._r
        dix = {d.id: i for i, d in enumerate(p.districts)}
        for src in p.sources:
            iv = src.interval_s or min(self._metrics[m].expected_interval_s for m in src.metrics)
            s = _Source(src.id, src.kind, True, dix[src.district], src.district, src.lat, src.lon, iv, self.city)
            self._attach(s, src.metrics)
        templates = p.sources
        width = max(4, len(str(extra)))
        for i in range(extra):
            t = templates[i % len(templates)]
            d = p.districts[(i * 7 + i // len(templates)) % len(p.districts)]
            short = _KIND_SHORT.get(t.kind, re.sub(r"[^a-z0-9]", "", t.kind.lower())[:12] or "src")
            sid = f"sim-{short}-{i + 1:0{width}d}"
            lat = round(d.center.lat + r.gauss(0, 0.025), 5)
            lon = round(d.center.lon + r.gauss(0, 0.025), 5)
            iv = t.interval_s or min(self._metrics[m].expected_interval_s for m in t.metrics)
            self._attach(_Source(sid, t.kind, False, dix[d.id], d.id, lat, lon, iv, self.city), t.metrics)

    def _attach(self, s: _Source, metrics: list[str]) -> None:
        gens = []
        inits = []
        for mid in metrics:
            init, gen = _GENS.get(mid) or _generic(self._metrics[mid])
            if init is not None and init not in inits:
                inits.append(init)
            gens.append((mid, gen))
        for init in inits:
            init(s, self)
        s.gens = tuple(gens)
        self.sources.append(s)

    def _build_services(self, size: float) -> None:
        p = self.profile
        agencies = {a.id: a for a in p.agencies}
        self._services = {}
        for svc in p.services:
            a = agencies[svc.agency]
            prefix = re.sub(r"[^A-Za-z0-9]", "", a.short).upper() or svc.agency.upper()
            self._services[svc.id] = (svc, a, prefix)
        rates = [(svc.id, _TICKETS_PER_DAY.get(svc.id, 1.0)) for svc in p.services]
        total = sum(w for _, w in rates) or 1.0
        self._svc_ids = [sid for sid, _ in rates]
        self._svc_cum = _cumulative([w for _, w in rates])
        # Real seconds between new tickets: the simulated daily count, compressed,
        # grown with the number of sources (a bigger synthetic city has more people).
        self._ticket_gap = _DAY / (total * self.scale * max(1.0, size))
        self._dist_cum = _cumulative([_DISTRICT_WEIGHT.get(d, 1.0) for d in self._district_ids])
        self._counters: dict[str, int] = {}

    def _start(self, now: float) -> None:
        r = self._r
        self._started = True
        self._counter_base = int(now) // 10 % 900_000 + 1
        # The first storm comes soon and is a real one, so a demo shows one within minutes.
        first = now + r.uniform(0.5, 3.0) * _HOUR / self.scale
        self._at(first, self._on_storm, True)
        self._at(now + r.uniform(2, 12) * _HOUR / self.scale, self._on_smoke, None)
        self._at(now + r.expovariate(1.0) * self._ticket_gap, self._on_ticket_arrival, None)
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
        if self.bad_share and self._rnd() < self.bad_share:
            return self._bad(now)
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

    def _reading(self, s: _Source, now: float) -> Message:
        prev = s.last_ms
        ms = self._stamp(s, now)
        h = (now + self._tz_s) % _DAY / _HOUR
        values = {k: g(s, self, now, h) for k, g in s.gens}
        c = self.counts
        # A synthetic buoy first introduces itself (and now and then again) with a reading object that
        # carries its district and position, which a SenML pack cannot, so it registers with a place.
        if s.senml and (s.named or ("placed" in s.st and self._rnd() >= 0.1)):
            c["senml"] = c.get("senml", 0) + 1
            return s.topic, orjson.dumps(self._senml(s, prev, ms, values, h)), False, False
        c["reading"] = c.get("reading", 0) + 1
        if s.named:
            return s.topic, orjson.dumps({"ts": self._iso(ms), "values": values}), False, False
        s.st["placed"] = True
        body = {"ts": ms / 1000, "values": values, "district": s.district, "lat": s.lat, "lon": s.lon}
        return s.topic, orjson.dumps(body), False, False

    def _senml(self, s: _Source, prev: int, ms: int, values: dict[str, float], h: float) -> list[dict[str, Any]]:
        """An RFC 8428 pack: base name/time/unit, then one record per metric (units from the catalogue)."""
        pack: list[dict[str, Any]] = []
        first = True
        for k, v in values.items():
            rec: dict[str, Any] = {"n": k, "v": v}
            unit = self._metrics[k].unit
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
            rec = {"n": "tide_cm", "t": -gap_s, "v": _g_tide(s, self, t, h)}
            if pack[0]["bu"] != "cm":
                rec["u"] = "cm"
            pack.append(rec)
        return pack

    def _stamp(self, s: _Source, now: float) -> int:
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
            self._iso_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec + self._tz_s))
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
        return 3.0 + 2.5 * max(0.0, math.cos((h - 14.0) * _TAU / 24)) + 0.2 * self.city_rain(t)

    def _episode(self, now: float, peak: float, hours: float, low: float = 0.3) -> _Episode:
        mults = [self._r.uniform(low, 1.3) for _ in self._district_ids]
        return now, now + hours * _HOUR / self.scale, peak, mults, sum(mults) / len(mults)

    def _on_storm(self, now: float, first: bool) -> None:  # also schedules the next one
        r = self._r
        keep = now - 6 * _HOUR / self.scale  # water levels look back up to ~45 simulated minutes
        self._storms = [s for s in self._storms if s[1] > keep]
        peak = r.uniform(65, 90) if first else min(150.0, r.lognormvariate(math.log(30), 0.6))
        storm = self._episode(now, peak, r.uniform(1.5, 3.0) if first else r.uniform(0.5, 3.0), 0.7 if first else 0.3)
        self._storms.append(storm)
        self._at(now + r.expovariate(1.0) * _DAY / 3 / self.scale, self._on_storm, False)  # ~3 a simulated day
        span = storm[1] - now
        for di, mult in enumerate(storm[3]):  # heavy rain: people call for help
            heavy = peak * mult
            if heavy > 45 and r.random() < 0.7:
                self.spawn_ticket("banjir", di, now + r.uniform(0.4, 1.0) * span)
            if heavy > 40 and r.random() < 0.3:
                self.spawn_ticket("drainase", di, now + r.uniform(0.3, 1.5) * span)
            if heavy > 70 and r.random() < 0.25:
                self.spawn_ticket("longsor", di, now + r.uniform(0.5, 1.5) * span)

    def _on_smoke(self, now: float, _: Any) -> None:
        r = self._r
        self._smoke = [s for s in self._smoke if s[1] > now]
        self._smoke.append(self._episode(now, r.uniform(40, 200), r.uniform(1, 5)))
        self._at(now + r.expovariate(1.0) * _DAY / 0.6 / self.scale, self._on_smoke, None)

    # ----------------------------------------------------------------- sources going offline

    def _outage_gap(self) -> float:
        # Each source drops out about every three simulated days.
        return 3 * _DAY / self.scale / len(self.sources)

    def _on_outage(self, now: float, _: Any) -> Message | None:
        r = self._r
        self._at(now + r.expovariate(1.0) * self._outage_gap(), self._on_outage, None)
        if self._offline >= max(1, len(self.sources) // 10):
            return None
        s = self.sources[int(self._rnd() * len(self.sources))]
        if not s.online:
            return None
        s.online = False
        self._offline += 1
        self._at(now + r.uniform(1, 6) * _HOUR / self.scale, self._on_back, s)
        self.counts["status"] = self.counts.get("status", 0) + 1
        return s.status_topic, b"offline", True, False  # as its Last Will would say

    def _on_back(self, now: float, s: _Source) -> Message:
        s.online = True
        self._offline -= 1
        self.counts["status"] = self.counts.get("status", 0) + 1
        return s.status_topic, b"online", True, False

    # ----------------------------------------------------------------- tickets

    def _on_ticket_arrival(self, now: float, _: Any) -> None:
        r = self._r
        self._at(now + r.expovariate(1.0) * self._ticket_gap, self._on_ticket_arrival, None)
        if self._svc_ids:
            svc = self._svc_ids[_pick(self._svc_cum, self._rnd())]
            self.spawn_ticket(svc, _pick(self._dist_cum, self._rnd()), now)

    def spawn_ticket(self, service: str, di: int, at: float) -> None:
        """Open a ticket for `service` in district `di` at real time `at` and schedule its life."""
        entry = self._services.get(service)
        if entry is None:
            return
        svc, agency, prefix = entry
        r = self._r
        tk = _Ticket()
        n = self._counters.get(prefix, self._counter_base)
        self._counters[prefix] = n + 1
        year = time.gmtime(at + self._tz_s).tm_year
        tk.tid = f"{prefix}-{year}-{n % 1_000_000:06d}"
        tk.agency, tk.service, tk.agency_name = agency.id, svc.id, agency.name
        tk.name = svc.name.id
        choices = _PRIORITY.get(svc.id, (("normal", 1),))
        tk.priority = r.choices([c for c, _ in choices], [w for _, w in choices])[0]
        tk.di = di
        d = self.profile.districts[di]
        tk.district = d.id
        tk.lat = round(d.center.lat + r.gauss(0, 0.02), 5)
        tk.lon = round(d.center.lon + r.gauss(0, 0.02), 5)
        tk.place = r.choice(_PLACES.get(d.id, (d.name,)))
        tk.title = r.choice(_TITLES.get(svc.id, (svc.name.id + " di {p}",))).format(p=tk.place)
        tk.sla = max(1, round(svc.sla_minutes / self.scale))  # the SLA on the compressed clock
        tk.open311 = agency.id not in _EMERGENCY_AGENCIES and r.random() < 0.3
        tk.topic = f"city/{self.city}/service/{agency.id}"
        tk.opened_ms = tk.last_ms = 0
        # Durations on the compressed clock, relative to the SLA: resolution is
        # lognormal around 0.58 SLA, so about 16 % of tickets run overdue.
        sla_s = tk.sla * 60.0
        resolve = sla_s * r.lognormvariate(-0.55, 0.55)
        steps = [(0.0, "open")]
        if r.random() < 0.06:
            steps.append((resolve * r.uniform(0.03, 0.15), "assigned"))
            steps.append((resolve * r.uniform(0.2, 0.5), "cancelled"))
        else:
            if r.random() < 0.9:
                steps.append((resolve * r.uniform(0.03, 0.15), "assigned"))
            steps.append((resolve * r.uniform(0.2, 0.5), "in_progress"))
            steps.append((resolve, "resolved"))
            if r.random() < 0.85 and not tk.open311:  # Open311 knows only open and closed: resolved says closed
                steps.append((resolve + sla_s * r.uniform(0.05, 0.25), "closed"))
        for dt, status in steps:
            self._at(at + dt, self._on_ticket_event, (tk, status))

    def _on_ticket_event(self, now: float, arg: tuple[_Ticket, str]) -> Message:
        tk, status = arg
        ms = int(now * 1000)
        if ms <= tk.last_ms:
            ms = tk.last_ms + 1
        tk.last_ms = ms
        if status == "open":
            tk.opened_ms = ms
            tk.due_ms = ms + tk.sla * 60_000
        c = self.counts
        if tk.open311:
            c["open311"] = c.get("open311", 0) + 1
            return tk.topic, orjson.dumps(self._open311(tk, status, ms)), False, False
        c["ticket"] = c.get("ticket", 0) + 1
        ev: dict[str, Any] = {
            "ticket_id": tk.tid, "service": tk.service, "status": status, "priority": tk.priority,
            "district": tk.district, "ts": self._iso(ms), "sla_minutes": tk.sla,
        }  # fmt: skip
        if status == "open":
            ev.update(title=tk.title, lat=tk.lat, lon=tk.lon)
        return tk.topic, orjson.dumps(ev), False, False

    def _open311(self, tk: _Ticket, status: str, ms: int) -> dict[str, Any]:
        """The same step as an Open311 GeoReport v2 request, as another system would send it."""
        closed = status in ("resolved", "closed", "cancelled")
        ev = {
            "service_request_id": tk.tid, "service_code": tk.service, "service_name": tk.name,
            "status": "closed" if closed else "open", "requested_datetime": self._iso(tk.opened_ms),
            "updated_datetime": self._iso(ms), "expected_datetime": self._iso(tk.due_ms),
            "agency_responsible": tk.agency_name, "district": tk.district,  # district: our extension
        }  # fmt: skip
        if status in _OPEN311_NOTES:
            ev["status_notes"] = _OPEN311_NOTES[status]
        if status == "open":
            ev.update(description=tk.title, address_string=tk.place, lat=tk.lat, long=tk.lon)
        return ev

    # ----------------------------------------------------------------- bad messages

    def _bad(self, now: float) -> Message:
        kind = self._bad_kinds[int(self._rnd() * len(self._bad_kinds))]
        c = self.counts
        c["bad"] = c.get("bad", 0) + 1
        c["bad:" + kind] = c.get("bad:" + kind, 0) + 1
        topic, payload = getattr(self, "_bad_" + kind)(now, self.sources[int(self._rnd() * len(self.sources))])
        return topic, payload, False, True

    def _good_values(self, s: _Source, now: float) -> dict[str, float]:
        h = (now + self._tz_s) % _DAY / _HOUR
        return {k: g(s, self, now, h) for k, g in s.gens}

    def _bad_malformed(self, now: float, s: _Source) -> tuple[str, bytes]:
        body = orjson.dumps({"ts": now, "values": self._good_values(s, now)})
        cut = self._r.choice((len(body) - 2, len(body) // 2, 1))
        return s.topic, body[:cut] if self._rnd() < 0.7 else body.replace(b'"ts"', b"ts", 1)

    def _bad_encoding(self, now: float, s: _Source) -> tuple[str, bytes]:
        # Latin-1 where UTF-8 is due: what an old logger writes for "°C".
        return s.topic, b'{"ts": %.3f, "values": {"air_temp_c": 28.4}, "note": "suhu 28\xb0C"}' % now

    def _bad_nan(self, now: float, s: _Source) -> tuple[str, bytes]:
        metric = s.gens[0][0]
        lit = self._r.choice((b"NaN", b"Infinity", b"-Infinity"))
        return s.topic, b'{"ts": %.3f, "values": {"%s": %s}}' % (now, metric.encode(), lit)

    def _bad_not_object(self, now: float, s: _Source) -> tuple[str, bytes]:
        return s.topic, self._r.choice((b"42", b"null", b"true", b'"tinggi air 120 cm"', b"182.5"))

    def _bad_wrong_type(self, now: float, s: _Source) -> tuple[str, bytes]:
        metric = s.gens[0][0]
        body = self._r.choice(
            (
                {"ts": now, "values": {metric: "120 cm"}},
                {"ts": now, "values": [metric, 120]},
                {"ts": True, "values": {metric: 1.0}},
                {"ts": now, "values": {metric: 1.0}, "lat": "2.05", "lon": 128.3},
                {"ts": now, "values": {metric: {"value": 1.0}}},
            )
        )
        return s.topic, orjson.dumps(body)

    def _bad_out_of_range(self, now: float, s: _Source) -> tuple[str, bytes]:
        # One impossible value among good ones: the good ones are stored, this one refused.
        ms = self._stamp(s, now)
        values = self._good_values(s, now)
        k = self._r.choice(list(values))
        lo, hi = self._metrics[k].valid
        values[k] = round(hi + (hi - lo) * self._r.uniform(0.1, 2.0), 1) if self._rnd() < 0.7 else lo - 1 - abs(lo)
        return s.topic, orjson.dumps({"ts": ms / 1000, "values": values})

    def _bad_unknown_metric(self, now: float, s: _Source) -> tuple[str, bytes]:
        # Under "accept" an unknown but well-formed metric id is registered, so send one that is no id at all.
        name = self._r.choice(("kadar_radon_bqm3", "salinitas_psu")) if self._quarantine_unknown else "Tinggi Air (cm)"
        return s.topic, orjson.dumps({"ts": now, "values": {name: 12.5}})

    def _bad_future(self, now: float, s: _Source) -> tuple[str, bytes]:
        ahead = self._r.uniform(1, 400) * _DAY
        return s.topic, orjson.dumps({"ts": round(now + ahead, 3), "values": self._good_values(s, now)})

    def _bad_no_offset(self, now: float, s: _Source) -> tuple[str, bytes]:
        naive = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + self._tz_s))
        return s.topic, orjson.dumps({"ts": naive, "values": self._good_values(s, now)})

    def _bad_oversized(self, now: float, s: _Source) -> tuple[str, bytes]:
        body = {"ts": now, "values": self._good_values(s, now), "debug": "x" * _OVERSIZE}
        return s.topic, orjson.dumps(body)

    def _bad_sql_topic(self, now: float, s: _Source) -> tuple[str, bytes]:
        sid = self._r.choice(("x'; DROP TABLE readings;--", "1' OR '1'='1", "awlr\"); DELETE FROM sources;--"))
        return f"city/{self.city}/sensor/{sid}", orjson.dumps({"ts": now, "values": self._good_values(s, now)})

    def _bad_unknown_city(self, now: float, s: _Source) -> tuple[str, bytes]:
        city = self._r.choice(("halmahera-utara", "ternate", "tidore"))
        return f"city/{city}/sensor/{s.id}", orjson.dumps({"ts": now, "values": self._good_values(s, now)})

    def _bad_topic_shape(self, now: float, s: _Source) -> tuple[str, bytes]:
        # Shapes the ingestor still receives (city/+/sensor/#, city/+/service/#), so it can quarantine them.
        topic = self._r.choice(
            (f"city/{self.city}/sensor/{s.id}/extra", f"city/{self.city}/sensor", f"city/{self.city}/service/x/y/z",
             f"city/{self.city.upper()}/sensor/{s.id}", f"city/{self.city}/sensor/{s.id.upper()}")
        )  # fmt: skip
        return topic, orjson.dumps({"ts": now, "values": self._good_values(s, now)})

    def _bad_senml_mixed(self, now: float, s: _Source) -> tuple[str, bytes]:
        # A pack with one bad record among good ones: the good ones are stored.
        s = self._multi[int(self._rnd() * len(self._multi))]
        prev = s.last_ms
        ms = self._stamp(s, now)
        h = (now + self._tz_s) % _DAY / _HOUR
        values = self._good_values(s, now)
        pack = self._senml(s, prev, ms, values, h)
        r = self._r
        i = r.randrange(1, len(pack)) if len(pack) > 1 else 0
        k = pack[i]["n"]
        bad = r.choice(
            ({"n": k, "v": "tinggi"}, {"n": k, "u": "ft", "v": 1.0}, {"n": k, "v": 1e9}, {"n": "Tinggi Air!", "v": 1.0})
        )  # fmt: skip
        if len(pack) > 1:
            pack[i] = bad
        else:
            pack.append(bad)
        return s.topic, orjson.dumps(pack)

    def _bad_ticket(self, now: float, s: _Source) -> tuple[str, bytes]:
        r = self._r
        body = r.choice(
            (
                {"ticket_id": "112-2026-999999", "status": "selesai", "service": "ambulans"},
                {"status": "open", "service": "ambulans", "title": "Tanpa nomor tiket"},
                {"ticket_id": "PUPR-2026-999999", "status": "open", "priority": "sangat penting"},
                {"ticket_id": "x y z", "status": "open"},
                {"ticket_id": "DLH-2026-999999", "status": "open", "ts": "kemarin sore"},
            )
        )
        agency = r.choice(self.profile.agencies).id if self.profile.agencies else "layanan-112"
        return f"city/{self.city}/service/{agency}", orjson.dumps(body)

    def _bad_status(self, now: float, s: _Source) -> tuple[str, bytes]:
        return s.status_topic, self._r.choice((b"rebooting", b"1", b'{"status": "maybe"}'))


# Bad message kinds and their weights.
_BAD_KINDS = (
    ("malformed", 3), ("encoding", 2), ("nan", 2), ("not_object", 2), ("wrong_type", 3), ("out_of_range", 3),
    ("unknown_metric", 2), ("future", 2), ("no_offset", 2), ("oversized", 1), ("sql_topic", 2), ("unknown_city", 2),
    ("topic_shape", 2), ("senml_mixed", 3), ("ticket", 2), ("status", 1),
)  # fmt: skip


def _cumulative(weights: list[float]) -> list[float]:
    total = sum(weights) or 1.0
    acc, out = 0.0, []
    for w in weights:
        acc += w / total
        out.append(acc)
    return out


def _pick(cum: list[float], x: float) -> int:
    for i, c in enumerate(cum):
        if x < c:
            return i
    return len(cum) - 1


# --------------------------------------------------------------------------- publishing


@dataclass
class SimStats:
    """What a run did. `acked` counts PUBACKs: what the broker took, not what publish() returned."""

    sent: int = 0  # model messages handed to paho (start statuses not included)
    acked: int = 0  # PUBACKs, start statuses included
    bad: int = 0
    statuses: int = 0  # `online` statuses published at start
    failed: int = 0  # publish() refused by paho (not queued)
    refused: int = 0  # PUBACK with an MQTT 5 failure reason (e.g. not authorised)
    elapsed_s: float = 0.0  # publishing at the paced rate (start statuses and draining not included)
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def undelivered(self) -> int:
        return self.sent + self.statuses - self.acked

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


class _Publisher:
    """A paho QoS 1 publisher that never has more than `max_outstanding` messages unacknowledged."""

    def __init__(self, settings: Settings, stats: SimStats, stop: threading.Event, max_outstanding: int) -> None:
        self._stats = stats
        self._stop = stop
        self._max = max_outstanding
        self._outstanding = 0
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self._refusal: str | None = None
        ep = settings.mqtt
        self._where = f"{ep.host}:{ep.port}"
        self._ep = ep
        self._keepalive = settings.mqtt_keepalive_s
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"satupintu-sim-{os.getpid()}-{random.getrandbits(24):06x}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        if ep.username:
            c.username_pw_set(ep.username, ep.password)
        c.reconnect_delay_set(settings.mqtt_reconnect_min_s, settings.mqtt_reconnect_max_s)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self.client = c

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self._refusal = str(rc)
            log.error("the broker at %s refused the simulator: %s", self._where, rc)
            return
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if self._connected.is_set() and not self._stop.is_set():
            log.warning("lost the broker at %s (%s); paho reconnects and resends", self._where, rc)
        self._connected.clear()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        with self._cond:
            self._outstanding -= 1
            self._stats.acked += 1
            if rc.is_failure:
                self._stats.refused += 1
            self._cond.notify_all()

    def connect(self, timeout: float = 10.0) -> None:
        self.client.connect_async(self._ep.host, self._ep.port, self._keepalive)
        self.client.loop_start()
        deadline = time.monotonic() + timeout
        while not self._connected.wait(0.1):
            if self._stop.is_set():
                raise KeyboardInterrupt  # a signal while connecting: nothing to drain
            if self._refusal or time.monotonic() > deadline:
                self.client.loop_stop()
                why = f"refused: {self._refusal}" if self._refusal else f"no answer within {timeout:.0f} s"
                raise ConnectionError(f"cannot publish to the MQTT broker at {self._where} ({why})")

    def publish(self, topic: str, payload: bytes, retain: bool) -> bool:
        """Queue one QoS 1 message; waits while `max_outstanding` are unacknowledged. False if not queued."""
        with self._cond:
            while self._outstanding >= self._max:
                if self._stop.is_set() and not self._connected.is_set():
                    return False
                self._cond.wait(0.5)
            self._outstanding += 1
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        # NO_CONN still queues a QoS 1 message: paho sends it after reconnecting.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            with self._cond:
                self._outstanding -= 1
            self._stats.failed += 1
            return False
        return True

    def close(self, drain_timeout: float) -> None:
        """Wait for outstanding publishes to be acknowledged, then disconnect."""
        deadline = time.monotonic() + drain_timeout
        with self._cond:
            while self._outstanding > 0 and time.monotonic() < deadline:
                self._cond.wait(0.1)
            left = self._outstanding
        if left:
            log.warning("%d messages still unacknowledged after %.0f s; disconnecting anyway", left, drain_timeout)
        self.client.disconnect()
        self.client.loop_stop()


def _install_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGTERM and SIGINT finish the run cleanly; a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("received %s: draining outstanding messages", signal.Signals(signum).name)
        stop.set()

    old = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        old[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)
    return old


def run_simulator(settings: Settings, profile: Profile, *, rate: float, bad_share: float = 0.0,
                  duration: float | None = None, count: int | None = None, extra_sources: int = 0,
                  seed: int | None = None, max_outstanding: int = 1000,
                  connect_timeout: float = 10.0) -> SimStats:  # fmt: skip
    """Publish the city's traffic at `rate` messages/s until `duration` s or `count` messages, or a signal.

    Each source's `online` status is published (retained) first; those are not
    counted in `count`. Returns after every message is acknowledged (or a
    drain timeout), with the stats also logged.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    model = CityModel(
        profile,
        seed=seed,
        extra_sources=extra_sources,
        bad_share=bad_share,
        unknown_metric=settings.ingest_unknown_metric,
    )
    stats = SimStats()
    stop = threading.Event()
    pub = _Publisher(settings, stats, stop, max_outstanding)
    old = _install_signals(stop)
    t0 = time.monotonic()
    try:
        pub.connect(connect_timeout)
        for topic, payload, retain, _ in model.initial_statuses():
            if stop.is_set() or not pub.publish(topic, payload, retain):
                break
            stats.statuses += 1
        log.info(
            "simulating %s: %d sources at %g msg/s%s (bad share %g) to %s",
            profile.city.id, len(model.sources), rate, f", {count} messages" if count else "", bad_share, pub._where,
        )  # fmt: skip
        stats.elapsed_s = _pace(model, pub, stats, stop, rate, duration, count)
    except KeyboardInterrupt:
        log.info("interrupted: draining outstanding messages")
    finally:
        stop.set()
        stats.elapsed_s = stats.elapsed_s or time.monotonic() - t0
        try:
            pub.close(drain_timeout=max(10.0, max_outstanding / 500))
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)
    stats.by_kind = dict(model.counts)
    stats.bad = model.counts.get("bad", 0)
    log.info(
        "simulator sent %d (%.0f/s, %d bad) plus %d statuses; %d acknowledged, %d failed, %d refused; by kind: %s",
        stats.sent, stats.rate, stats.bad, stats.statuses, stats.acked, stats.failed, stats.refused,
        {k: v for k, v in stats.by_kind.items() if not k.startswith("bad:")},
    )  # fmt: skip
    return stats


def _pace(model: CityModel, pub: _Publisher, stats: SimStats, stop: threading.Event, rate: float,
          duration: float | None, count: int | None) -> float:  # fmt: skip
    """A token bucket: one message per tick at demo rates, a 10 ms chunk per tick at high rates.

    Returns the seconds spent."""
    chunk = max(1, int(rate * 0.01)) if rate >= 5000 else 1
    cap = max(chunk, rate * 0.05)  # at most 50 ms of catch-up after a stall
    start = last = time.monotonic()
    next_log = start + 30.0
    tokens = 0.0
    limit = count if count is not None else -1
    next_msg = model.next_message
    publish = pub.publish
    while not stop.is_set() and stats.sent != limit:
        t = time.monotonic()
        if duration is not None and t - start >= duration:
            break
        tokens = min(tokens + (t - last) * rate, cap)
        last = t
        if tokens < chunk:
            time.sleep(min((chunk - tokens) / rate, 0.05))
            continue
        n = int(tokens)
        if limit >= 0:
            n = min(n, limit - stats.sent)
        tokens -= n
        now = time.time()
        for _ in range(n):
            topic, payload, retain, _bad = next_msg(now)
            if not publish(topic, payload, retain):
                break
            stats.sent += 1
        if t >= next_log:
            next_log = t + 30.0
            rate_now = stats.sent / (t - start)
            log.info("simulator: %d sent, %d acknowledged, %.0f msg/s", stats.sent, stats.acked, rate_now)
    return time.monotonic() - start
