"""The city profile: a city described as data (districts, agencies, services, metrics, sources)."""

from __future__ import annotations

import re
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.workdays.calendar import MON_FRI, MON_SAT, WorkCalendar

ID_PATTERN = r"^[a-z0-9_-]{1,64}$"
ID_RE = re.compile(ID_PATTERN)
PILLARS = ("governance", "branding", "economy", "living", "society", "environment")
SEVERITIES = ("critical", "major", "minor", "warning")
Pillar = Literal["governance", "branding", "economy", "living", "society", "environment"]
Severity = Literal["critical", "major", "minor", "warning"]

SHIPPED_DIR = Path(__file__).parent / "profiles"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A label in both UI languages."""

    id: str
    en: str


class LatLon(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class District(_Strict):
    """A kecamatan: where sources and tickets are placed on the map."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    center: LatLon
    kemendagri: str | None = Field(
        None, pattern=r"^\d{2}\.\d{2}\.\d{2}$", description="Kemendagri kecamatan code, e.g. 82.07.01"
    )
    outline: list[tuple[float, float]] = Field(default_factory=list, description="[lat, lon] ring, optional")


class Agency(_Strict):
    """An OPD (organisasi perangkat daerah) that owns services."""

    id: str = Field(pattern=ID_PATTERN)
    short: str
    name: str
    pillar: Pillar = "governance"


class Service(_Strict):
    """A public service an agency delivers, with its SLA target (in minutes, or in working days)."""

    id: str = Field(pattern=ID_PATTERN)
    agency: str = Field(pattern=ID_PATTERN)
    name: Text
    sla_minutes: int | None = Field(None, gt=0, description="SLA in calendar minutes (emergencies)")
    sla_working_days: float | None = Field(
        None, gt=0, le=365, description="SLA in working days (standar pelayanan): see app.workdays.calendar"
    )
    week: Literal["mon-fri", "mon-sat"] = Field("mon-fri", description="The working week of the service")
    office_hours: tuple[time, time] | None = Field(None, description="[open, close] local time; none: the whole day")
    pillar: Pillar = "society"
    # Open311 GeoReport v2 (app.open311): how citizens' apps see the service.
    description: str | None = Field(None, max_length=500)
    keywords: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_sla(self) -> Service:
        if (self.sla_minutes is None) == (self.sla_working_days is None):
            raise ValueError(f"service {self.id!r} has exactly one of 'sla_minutes' or 'sla_working_days'")
        if self.office_hours is not None and self.office_hours[0] >= self.office_hours[1]:
            raise ValueError(f"service {self.id!r}: office hours open before they close")
        return self


LAPOR_STAGES = ("verifikasi", "tindak_lanjut", "selesai")


class Lapor(_Strict):
    """SP4N-LAPOR! stage targets in working days (Permenpan-RB 62/2018): each counted from entering the stage."""

    verifikasi: float = Field(3, gt=0, le=365)
    tindak_lanjut: float = Field(5, gt=0, le=365)
    selesai: float = Field(10, gt=0, le=365)


class Workdays(_Strict):
    """The regency's calendar beside the national one: its own days off, and the LAPOR! stage targets."""

    regional_days: list[date] = Field(default_factory=list, description="The regency's own days off (hari jadi...)")
    national_holidays: bool = Field(True, description="Indonesian holidays and cuti bersama (the holidays package)")
    lapor: Lapor = Field(default_factory=Lapor)


class Open311Config(_Strict):
    """How the city answers Open311 GeoReport v2 (app.open311)."""

    hidden_agencies: list[str] = Field(
        default_factory=list,
        description="Agencies Open311 neither lists nor accepts requests for (emergency lines, patient referrals)",
    )
    contact: str = Field("", max_length=300, description="Discovery's contact: who answers for the API")
    key_service: str = Field("", max_length=300, description="Discovery's key_service: how an app gets an api_key")


class Threshold(_Strict):
    """A level that, once crossed, raises an alarm of the given severity."""

    severity: Severity
    above: float | None = None
    below: float | None = None

    @model_validator(mode="after")
    def _one_side(self) -> Threshold:
        if (self.above is None) == (self.below is None):
            raise ValueError("a threshold has exactly one of 'above' or 'below'")
        return self


class Metric(_Strict):
    """A catalogue entry: what a metric means, its unit, its sane range and when it is late."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    name: Text
    unit: str
    valid: tuple[float, float] = Field(description="[min, max]: values outside are refused as implausible")
    thresholds: list[Threshold] = Field(default_factory=list)
    pillar: Pillar = "environment"
    expected_interval_s: int = Field(300, gt=0)
    key: bool = Field(False, description="Shown on the trend charts of the operator window")
    alarm_hysteresis: float | None = Field(
        None, ge=0, description="How far back past a threshold the value must fall to leave it; default 2% of `valid`"
    )
    alarm_duration_s: int = Field(0, ge=0, le=86400, description="How long a threshold must hold before raising")

    @field_validator("valid")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] >= v[1]:
            raise ValueError("valid range must be [min, max] with min < max")
        return v


class Source(_Strict):
    """A known device or station; unknown ones are registered on first sight."""

    id: str = Field(pattern=ID_PATTERN)
    kind: str
    name: str
    district: str = Field(pattern=ID_PATTERN)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    metrics: list[str]
    interval_s: int | None = Field(None, gt=0, description="Overrides the metrics' expected interval")


class City(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    province: str
    kind: Literal["kabupaten", "kota"] = "kabupaten"
    kemendagri: str | None = Field(
        None,
        pattern=r"^\d{2}\.\d{2}$",
        description="Kemendagri regency/city code (Pulau Morotai: 82.07): the key to BMKG, BPS and Satu Data",
    )
    timezone: str
    center: LatLon
    zoom: float = 9.5
    outline: list[list[tuple[float, float]]] = Field(
        default_factory=list, description="Land polygons as [lat, lon] rings: the plain map when there are no tiles"
    )
    outline_credit: str | None = Field(
        None, max_length=120, description="Whose data the outline is, shown on the plain map (its licence asks it)"
    )

    @field_validator("timezone")
    @classmethod
    def _real_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


class QuakeRule(_Strict):
    """An earthquake concerns the regency at `severity` when it is this strong and this close (or may cause a tsunami)."""

    severity: Severity
    within_km: float = Field(gt=0, description="Distance from the epicentre to the regency's outline")
    min_magnitude: float | None = Field(None, description="At least this magnitude; None: any")
    tsunami: bool = Field(False, description="Only when BMKG says a tsunami is possible ('berpotensi tsunami')")


class WarningRules(_Strict):
    """When a CAP alert concerns the regency (regional warnings, app.alerts.relevance), with a BPBD's defaults."""

    quakes: list[QuakeRule] = Field(
        default_factory=lambda: [
            QuakeRule(severity="critical", within_km=500, min_magnitude=6.0),
            QuakeRule(severity="critical", within_km=1000, tsunami=True),
            QuakeRule(severity="major", within_km=300, min_magnitude=5.0),
        ],
        description="Earthquakes (CAP alerts with a `magnitude` parameter): the first matching rule, most severe first",
    )
    area_buffer_km: float = Field(
        0.0, ge=0, le=500, description="A CAP area this close to the outline concerns the regency (0: it must touch it)"
    )
    cap_severity: dict[str, Severity] = Field(
        default_factory=lambda: {  # type: ignore[arg-type]
            "Extreme": "critical",
            "Severe": "major",
            "Moderate": "minor",
            "Minor": "warning",
            "Unknown": "warning",
        },
        description="CAP severity of a relevant area alert -> the alarm's severity (Awas, Siaga, Waspada, Perhatian)",
    )


# --- alarm management (issue 17): situations, flood, chattering, stale alarms, escalation ----------------------


class Hazard(_Strict):
    """A kind of hazard: alarms on these metrics in one district within a window are one situation."""

    id: str = Field(pattern=ID_PATTERN)
    name: Text
    metrics: list[str] = Field(min_length=1)


def _default_hazards() -> list[Hazard]:
    return [
        Hazard(id="rain", name=Text(id="Hujan lebat", en="Heavy rain"), metrics=["rain_mm_h"]),
        Hazard(id="river", name=Text(id="Banjir sungai", en="River flood"), metrics=["water_level_cm"]),
        Hazard(id="wind", name=Text(id="Angin kencang", en="Strong wind"), metrics=["wind_speed_ms"]),
        Hazard(id="sea", name=Text(id="Gelombang tinggi", en="High waves"), metrics=["wave_height_m", "tide_cm"]),
    ]


def _per_severity(*, critical: int, major: int) -> dict[Severity, int]:
    return {"critical": critical, "major": major}


class AlarmManagement(_Strict):
    """How alarms are grouped, suppressed in a flood, caught chattering, called stale and escalated."""

    situation_window_s: int = Field(1800, gt=0, description="An alarm joins a situation raised within this of its last")
    situation_min_alarms: int = Field(2, ge=1, description="Fewer alarms than this are shown as themselves")
    hazards: list[Hazard] = Field(default_factory=_default_hazards)
    flood_count: int = Field(10, ge=2, description="This many alarms raised within flood_window_s is a flood")
    flood_window_s: int = Field(600, gt=0)
    flood_suppress_below: Severity = Field("major", description="In a flood, the panel hides open alarms below this")
    chatter_count: int = Field(3, ge=2, description="Raised this often within chatter_window_s for one rule+source")
    chatter_window_s: int = Field(60, gt=0)
    chatter_shelve_minutes: int = Field(60, ge=0, description="How long a chattering rule+source is shelved; 0: flag")
    stale_after_s: int = Field(86400, gt=0, description="An alarm open longer than this is stale")
    escalate_after_s: dict[Severity, int] = Field(
        default_factory=lambda: _per_severity(critical=300, major=900),
        description="Still active (unacknowledged) this long after raised: page the rota's level 1",
    )
    escalate_level2_after_s: dict[Severity, int] = Field(
        default_factory=lambda: _per_severity(critical=900, major=2700), description="... and its level 2"
    )
    escalate_agency: dict[str, str] = Field(
        default_factory=dict, description="rule_id -> the agency whose rota is paged (else the rota's default)"
    )


class Profile(_Strict):
    """A whole city profile as loaded from YAML."""

    city: City
    districts: list[District]
    agencies: list[Agency]
    services: list[Service]
    metrics: list[Metric]
    sources: list[Source] = Field(default_factory=list)
    alarm_rules: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Rules beyond the metrics' thresholds (rate, silence, sla, ticket_count); see app.alarms.rules",
    )
    warnings: WarningRules = Field(
        default_factory=WarningRules, description="When a regional warning (CAP alert) concerns the city"
    )
    workdays: Workdays = Field(default_factory=Workdays)
    open311: Open311Config = Field(default_factory=Open311Config)
    duty_rota: dict[str, Any] | None = Field(
        None, description="Shifts and contacts per agency and escalation level; validated by app.rota.rota_of"
    )
    # Incidents (issue 13): standard operating procedures per incident type; see app.incidents.sops.
    sops: list[dict[str, Any]] = Field(
        default_factory=list, description="SOPs per incident type, with their default match; see app.incidents.sops"
    )
    alarm_management: AlarmManagement = Field(default_factory=AlarmManagement)

    @model_validator(mode="after")
    def _alarm_management_consistent(self) -> Profile:
        am = self.alarm_management
        metrics = {m.id for m in self.metrics}
        for h in am.hazards if "hazards" in am.model_fields_set else ():  # the defaults fit any city
            unknown = sorted(set(h.metrics) - metrics)
            if unknown:
                raise ValueError(f"hazard {h.id!r} names unknown metric(s) {unknown}")
        agencies = {a.id for a in self.agencies}
        for rule_id, agency in am.escalate_agency.items():
            if agency not in agencies:
                raise ValueError(f"escalate_agency of {rule_id!r} names unknown agency {agency!r}")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        for label, items in (
            ("district", self.districts),
            ("agency", self.agencies),
            ("service", self.services),
            ("metric", self.metrics),
            ("source", self.sources),
        ):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"duplicate {label} id {item.id!r}")
                seen.add(item.id)
        agencies = {a.id for a in self.agencies}
        districts = {d.id for d in self.districts}
        metrics = {m.id for m in self.metrics}
        for d in self.districts:
            if d.kemendagri and self.city.kemendagri and not d.kemendagri.startswith(self.city.kemendagri + "."):
                raise ValueError(f"district {d.id!r} code {d.kemendagri} is not within {self.city.kemendagri}")
        for s in self.services:
            if s.agency not in agencies:
                raise ValueError(f"service {s.id!r} names unknown agency {s.agency!r}")
        for src in self.sources:
            if src.district not in districts:
                raise ValueError(f"source {src.id!r} names unknown district {src.district!r}")
            for m in src.metrics:
                if m not in metrics:
                    raise ValueError(f"source {src.id!r} names unknown metric {m!r}")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.city.timezone)

    def metric(self, metric_id: str) -> Metric | None:
        return self._index()["metrics"].get(metric_id)

    def service(self, service_id: str) -> Service | None:
        return self._index()["services"].get(service_id)

    def source(self, source_id: str) -> Source | None:
        return self._index()["sources"].get(source_id)

    def calendar(self, service: Service | None = None) -> WorkCalendar:
        """The working-day calendar of `service` (its week and office hours), or the regency's office week."""
        key = (service.week, service.office_hours) if service else ("mon-fri", None)
        cals: dict[Any, WorkCalendar] = self.__dict__.setdefault("_cals", {})
        cal = cals.get(key)
        if cal is None:
            cal = cals[key] = WorkCalendar(
                self.tz,
                week=MON_SAT if key[0] == "mon-sat" else MON_FRI,
                regional=frozenset(self.workdays.regional_days),
                office=key[1],
                national=self.workdays.national_holidays,
            )
        return cal

    def due_ms(self, service_id: str | None, opened_ms: int) -> int | None:
        """When a ticket of `service_id` opened at `opened_ms` breaches the profile's SLA; None when none is known."""
        svc = self.service(service_id) if service_id else None
        if svc is None:
            return None
        if svc.sla_working_days is not None:
            return self.calendar(svc).add(opened_ms, svc.sla_working_days)
        return None if svc.sla_minutes is None else opened_ms + svc.sla_minutes * 60_000

    def stage_due_ms(self, service_id: str | None, stage: str, since_ms: int) -> int | None:
        """When a ticket that entered LAPOR! `stage` at `since_ms` is late in it (working days of the service)."""
        target = getattr(self.workdays.lapor, stage, None) if stage in LAPOR_STAGES else None
        if target is None:
            return None
        return self.calendar(self.service(service_id) if service_id else None).add(since_ms, target)

    def has_district(self, district_id: str) -> bool:
        return district_id in self._index()["districts"]

    def has_agency(self, agency_id: str) -> bool:
        return agency_id in self._index()["agencies"]

    def _index(self) -> dict[str, dict[str, Any]]:
        # Profiles are frozen, so the lookup tables are built once per instance.
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {
                "metrics": {m.id: m for m in self.metrics},
                "services": {s.id: s for s in self.services},
                "sources": {s.id: s for s in self.sources},
                "districts": {d.id: d for d in self.districts},
                "agencies": {a.id: a for a in self.agencies},
            }
            object.__setattr__(self, "_idx", idx)  # a cache on a frozen model
        return idx


class ProfileError(ValueError):
    """The profile file is missing or does not describe a valid city."""


def load_profile_file(path: Path) -> Profile:
    """Read and validate one profile file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(f"profile file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"profile {path} is not valid YAML: {exc}") from exc
    try:
        return Profile.model_validate(data)
    except ValueError as exc:
        raise ProfileError(f"profile {path} is invalid: {exc}") from exc


@lru_cache(maxsize=8)
def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name (`morotai`) or a profile file by path."""
    if (province := _is_province(name_or_path)) is not None:
        raise ProfileError(
            f"{name_or_path} is a province profile ({province}): it names several cities; load it with "
            "load_deployment (one profile per city)"
        )
    if ID_RE.match(name_or_path) and (SHIPPED_DIR / f"{name_or_path}.yaml").exists():
        return load_profile_file(SHIPPED_DIR / f"{name_or_path}.yaml")
    path = Path(name_or_path)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return load_profile_file(path)
    shipped = ", ".join(sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml")))
    raise ProfileError(f"no shipped profile named {name_or_path!r} (shipped: {shipped}) and no such file")


# --- Smart Province (issue 15): a province profile lists its regencies' profiles ---------------------------


class Province(_Strict):
    """A province as a deployment names it: its Kemendagri code and the cities (profiles) it coordinates."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    kemendagri: str = Field(pattern=r"^\d{2}$", description="Kemendagri province code (Maluku Utara: 82)")
    center: LatLon
    zoom: float = 7.5


class ProvinceFile(_Strict):
    """A province profile file: the province and the shipped names or paths of its cities' profiles."""

    province: Province
    cities: list[str] = Field(min_length=1)


class Deployment(_Strict):
    """The cities one deployment serves, each with its own profile (time zone, catalogue, rules, SLAs)."""

    province: Province | None = None
    cities: tuple[Profile, ...]

    @property
    def home(self) -> Profile:
        """The first city: what a caller gets when it names none (and the only one of a one-city deployment)."""
        return self.cities[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.city.id for p in self.cities)

    @property
    def multi(self) -> bool:
        """Whether this deployment serves more than one city (a province user is then read-only by default)."""
        return len(self.cities) > 1

    def get(self, city_id: str) -> Profile | None:
        """The profile of `city_id`, or None when this deployment does not serve it."""
        return next((p for p in self.cities if p.city.id == city_id), None)

    @model_validator(mode="after")
    def _distinct(self) -> Deployment:
        ids = [p.city.id for p in self.cities]
        if len(set(ids)) != len(ids):
            raise ValueError(f"a city is listed twice: {', '.join(ids)}")
        if self.province:
            for p in self.cities:
                code = p.city.kemendagri
                if code and not code.startswith(self.province.kemendagri + "."):
                    raise ValueError(
                        f"city {p.city.id!r} code {code} is not within province {self.province.kemendagri}"
                    )
        return self


def _is_province(name_or_path: str) -> Path | None:
    """The file of a province profile, when name_or_path names one."""
    path = SHIPPED_DIR / f"{name_or_path}.yaml" if ID_RE.match(name_or_path) else Path(name_or_path)
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    return path if isinstance(data, dict) and "province" in data and "cities" in data else None


@lru_cache(maxsize=8)
def load_deployment(spec: str) -> Deployment:
    """The cities of SATUPINTU_PROFILE: one city profile, a province profile, or a comma list of city profiles."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ProfileError("no profile named")
    province = None
    if len(names) == 1 and (path := _is_province(names[0])) is not None:
        try:
            pf = ProvinceFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise ProfileError(f"province profile {path} is invalid: {exc}") from exc
        province, names = pf.province, pf.cities
    try:
        return Deployment(province=province, cities=tuple(load_profile(n) for n in names))
    except ValueError as exc:
        if isinstance(exc, ProfileError):
            raise
        raise ProfileError(f"profiles {', '.join(names)} do not make one deployment: {exc}") from exc
