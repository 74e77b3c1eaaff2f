"""Service tickets: how often each service is called, in Indonesian, and each ticket's life from open to closed."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from app.profile import District, Profile, Service

from .clock import DAY

if TYPE_CHECKING:
    from .model import Message

# New tickets per simulated day (a regency of ~75,000 people); others: 1.
_TICKETS_PER_DAY = {
    "ambulans": 8.0,
    "darurat-umum": 5.0,
    "kebakaran": 1.0,
    "penyelamatan": 0.7,
    "banjir": 0.4,
    "longsor": 0.2,
    "layanan-puskesmas": 1.0,
    "rujukan-pasien": 2.0,
    "jalan-rusak": 2.0,
    "drainase": 1.5,
    "sampah-menumpuk": 3.0,
    "pencemaran": 0.5,
    "lampu-jalan-padam": 1.5,
    "lampu-lalu-lintas": 0.5,
    "ktp-el": 6.0,
    "akta-kelahiran": 4.0,
    "izin-usaha": 2.0,
    "pengaduan-perizinan": 1.0,
    "ketertiban-umum": 1.5,
    "air-mati": 1.0,
    "pipa-bocor": 1.0,
}
_PRIORITY = {  # (priority, weight) choices per service; others: normal
    "ambulans": (("critical", 7), ("high", 3)),
    "kebakaran": (("critical", 8), ("high", 2)),
    "penyelamatan": (("critical", 4), ("high", 6)),
    "darurat-umum": (("high", 6), ("normal", 4)),
    "banjir": (("high", 7), ("critical", 3)),
    "longsor": (("high", 7), ("critical", 3)),
    "rujukan-pasien": (("high", 7), ("critical", 3)),
    "lampu-lalu-lintas": (("high", 5), ("normal", 5)),
    "air-mati": (("normal", 6), ("high", 4)),
    "ktp-el": (("low", 5), ("normal", 5)),
    "akta-kelahiran": (("low", 6), ("normal", 4)),
    "izin-usaha": (("low", 3), ("normal", 7)),
    "jalan-rusak": (("normal", 8), ("high", 2)),
    "sampah-menumpuk": (("normal", 8), ("low", 2)),
}
_TITLES = {
    "ambulans": (
        "Kecelakaan lalu lintas di {p}",
        "Pasien sesak napas di {p}, butuh ambulans",
        "Ibu hamil akan melahirkan di {p}",
        "Warga jatuh dari pohon kelapa di {p}",
        "Warga pingsan di {p}",
    ),
    "darurat-umum": (
        "Pohon tumbang menutup jalan di {p}",
        "Kabel listrik putus di {p}",
        "Orang hilang di {p}",
        "Perahu nelayan mati mesin di perairan {p}",
    ),
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
}
_PLACES = {
    "morotai-selatan": (
        "Jl. Raya Daruba",
        "Jl. Pemuda Daruba",
        "Jl. Bandara Pitu",
        "Desa Gotalamo",
        "Desa Darame",
        "Desa Juanga",
        "Desa Pandanga",
        "Desa Totodoku",
        "Pasar Daruba",
        "Pelabuhan Daruba",
    ),
    "morotai-selatan-barat": ("Desa Wayabula", "Desa Ngele-Ngele Besar", "Desa Tiley", "Jl. Trans Wayabula"),
    "morotai-timur": ("Desa Sangowo", "Desa Daeo", "Desa Mira", "Jl. Trans Sangowo"),
    "morotai-utara": ("Desa Bere-Bere", "Desa Cendana", "Desa Aru", "Jl. Trans Bere-Bere"),
    "morotai-jaya": ("Desa Sopi", "Desa Loleo", "Desa Gorugo", "Desa Titigogoli"),
    "pulau-rao": ("Desa Leo-Leo Rao", "Desa Posi-Posi Rao", "Desa Aru Burung", "Desa Tanjung Saleh"),
}
_OPEN311_NOTES = {
    "assigned": "Diteruskan ke petugas",
    "in_progress": "Sedang ditangani petugas",
    "resolved": "Selesai ditangani",
    "closed": "Selesai ditangani",
    "cancelled": "Laporan ganda",
}
_EMERGENCY_AGENCIES = frozenset({"layanan-112", "damkar", "bpbd"})
# Where tickets come from: the regency seat dominates.
_DISTRICT_WEIGHT = {"morotai-selatan": 5.0, "morotai-selatan-barat": 1.5, "morotai-utara": 1.5}


def service_weights(profile: Profile) -> list[float]:
    """Simulated tickets a day of each of the profile's services, in profile order (relative weights)."""
    return [_TICKETS_PER_DAY.get(svc.id, 1.0) for svc in profile.services]


def district_weights(profile: Profile) -> list[float]:
    """How often tickets come from each of the profile's districts, in profile order (relative weights)."""
    return [_DISTRICT_WEIGHT.get(d.id, 1.0) for d in profile.districts]


def is_emergency(agency_id: str) -> bool:
    """Emergency desks take calls only, never Open311 requests."""
    return agency_id in _EMERGENCY_AGENCIES


def draw_priority(r: random.Random, service_id: str) -> str:
    """A ticket's priority, drawn from its service's mix (one draw)."""
    choices = _PRIORITY.get(service_id, (("normal", 1),))
    return r.choices([c for c, _ in choices], [w for _, w in choices])[0]


def draw_place(r: random.Random, district: District) -> str:
    """A place in the district that a ticket's title names (one draw)."""
    return r.choice(_PLACES.get(district.id, (district.name,)))


def draw_title(r: random.Random, service: Service, place: str) -> str:
    """A ticket's title for its service at `place` (one draw)."""
    return r.choice(_TITLES.get(service.id, (service.name.id + " di {p}",))).format(p=place)


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


def sla_as_minutes(svc: Service) -> int:
    """A service's SLA in minutes; working days as whole days (the compressed clock has no weekends or holidays)."""
    return svc.sla_minutes if svc.sla_minutes is not None else round((svc.sla_working_days or 1) * 1440)


class _Ticket:
    """One ticket a desk steps through its lifecycle (attributes set by `spawn`)."""

    __slots__ = (
        "agency",
        "agency_name",
        "di",
        "district",
        "due_ms",
        "last_ms",
        "lat",
        "lon",
        "name",
        "open311",
        "opened_ms",
        "place",
        "priority",
        "service",
        "sla",
        "tid",
        "title",
        "topic",
    )
    tid: str
    agency: str
    service: str
    name: str
    agency_name: str
    priority: str
    di: int
    district: str
    lat: float
    lon: float
    title: str
    place: str
    sla: int  # minutes on the compressed clock
    open311: bool
    topic: str
    opened_ms: int
    due_ms: int
    last_ms: int


class TicketDesk:
    """The city's service desks: new tickets at the profile's rates, each stepped through its lifecycle.

    Shares the model's random stream, timed-event queue, time stamp format and counts,
    so a seed gives the same tickets in the same order."""

    def __init__(
        self,
        profile: Profile,
        *,
        scale: float,
        size: float,
        r: random.Random,
        tz_s: float,
        schedule: Callable[[float, Callable[[float, Any], Message | None], Any], None],
        iso: Callable[[int], str],
        counts: dict[str, int],
    ) -> None:
        self._profile = profile
        self._city = profile.city.id
        self._scale = scale
        self._r = r
        self._rnd = r.random
        self._tz_s = tz_s
        self._at = schedule
        self._iso = iso
        self._counts = counts
        agencies = {a.id: a for a in profile.agencies}
        self._services = {}
        for svc in profile.services:
            a = agencies[svc.agency]
            prefix = re.sub(r"[^A-Za-z0-9]", "", a.short).upper() or svc.agency.upper()
            self._services[svc.id] = (svc, a, prefix)
        rates = list(zip((svc.id for svc in profile.services), service_weights(profile), strict=False))
        total = sum(w for _, w in rates) or 1.0
        self._svc_ids = [sid for sid, _ in rates]
        self._svc_cum = _cumulative([w for _, w in rates])
        # Real seconds between new tickets: the simulated daily count, compressed,
        # grown with the number of sources (a bigger synthetic city has more people).
        self._gap = DAY / (total * scale * max(1.0, size))
        self._dist_cum = _cumulative(district_weights(profile))
        self._counters: dict[str, int] = {}
        self._counter_base = 1

    def start(self, now: float) -> None:
        """Take the ticket numbering base from the start time and schedule the first arrival."""
        self._counter_base = int(now) // 10 % 900_000 + 1
        self._at(now + self._r.expovariate(1.0) * self._gap, self._on_arrival, None)

    def _on_arrival(self, now: float, _: Any) -> None:
        r = self._r
        self._at(now + r.expovariate(1.0) * self._gap, self._on_arrival, None)
        if self._svc_ids:
            svc = self._svc_ids[_pick(self._svc_cum, self._rnd())]
            self.spawn(svc, _pick(self._dist_cum, self._rnd()), now)

    def spawn(self, service: str, di: int, at: float) -> None:
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
        tk.priority = draw_priority(r, svc.id)
        tk.di = di
        d = self._profile.districts[di]
        tk.district = d.id
        tk.lat = round(d.center.lat + r.gauss(0, 0.02), 5)
        tk.lon = round(d.center.lon + r.gauss(0, 0.02), 5)
        tk.place = draw_place(r, d)
        tk.title = draw_title(r, svc, tk.place)
        tk.sla = max(1, round(sla_as_minutes(svc) / self._scale))  # the SLA on the compressed clock
        tk.open311 = not is_emergency(agency.id) and r.random() < 0.3
        tk.topic = f"city/{self._city}/service/{agency.id}"
        tk.opened_ms = tk.last_ms = 0
        # Durations on the compressed clock, relative to the SLA: resolution is
        # lognormal around 0.58 SLA, so about 16 % of tickets run overdue; urgent
        # ones (critical, high) are dispatched first: around 0.33 SLA, under 1 %
        # overdue (issue 17: each of those is an alarm for the operator).
        sla_s = tk.sla * 60.0
        mu, sigma = (-1.1, 0.45) if tk.priority in ("critical", "high") else (-0.55, 0.55)
        resolve = sla_s * r.lognormvariate(mu, sigma)
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
            self._at(at + dt, self._on_event, (tk, status))

    def _on_event(self, now: float, arg: tuple[_Ticket, str]) -> Message:
        tk, status = arg
        ms = int(now * 1000)
        if ms <= tk.last_ms:
            ms = tk.last_ms + 1
        tk.last_ms = ms
        if status == "open":
            tk.opened_ms = ms
            tk.due_ms = ms + tk.sla * 60_000
        c = self._counts
        if tk.open311:
            c["open311"] = c.get("open311", 0) + 1
            return tk.topic, orjson.dumps(self._open311(tk, status, ms)), False, False
        c["ticket"] = c.get("ticket", 0) + 1
        ev: dict[str, Any] = {
            "ticket_id": tk.tid,
            "service": tk.service,
            "status": status,
            "priority": tk.priority,
            "district": tk.district,
            "ts": self._iso(ms),
            "sla_minutes": tk.sla,
        }
        if status == "open":
            ev.update(title=tk.title, lat=tk.lat, lon=tk.lon)
        return tk.topic, orjson.dumps(ev), False, False

    def _open311(self, tk: _Ticket, status: str, ms: int) -> dict[str, Any]:
        """The same step as an Open311 GeoReport v2 request, as another system would send it."""
        closed = status in ("resolved", "closed", "cancelled")
        ev: dict[str, Any] = {
            "service_request_id": tk.tid,
            "service_code": tk.service,
            "service_name": tk.name,
            "status": "closed" if closed else "open",
            "requested_datetime": self._iso(tk.opened_ms),
            "updated_datetime": self._iso(ms),
            "expected_datetime": self._iso(tk.due_ms),
            "agency_responsible": tk.agency_name,
            "district": tk.district,  # district: our extension
        }
        if status in _OPEN311_NOTES:
            ev["status_notes"] = _OPEN311_NOTES[status]
        if status == "open":
            ev.update(description=tk.title, address_string=tk.place, lat=tk.lat, long=tk.lon)
        return ev
