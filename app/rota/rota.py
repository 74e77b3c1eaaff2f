"""The duty rota as data and the one question asked of it: who is on duty at this moment?

A rota has shifts (weekdays and a start/end time in the city's time zone; a shift whose end is not after its
start runs past midnight and belongs to the day it starts) and contacts (a person or a desk of an agency, at an
escalation level, on some shifts or always, reached at a webhook or messaging-gateway address).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.profile import ID_PATTERN, Profile

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Channel = Literal["webhook", "whatsapp", "telegram", "sms"]


class RotaError(ValueError):
    """The profile's `duty_rota` block is not a valid rota."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(v: object) -> time:
    if isinstance(v, time):
        return v
    if isinstance(v, int):  # YAML 1.1 reads an unquoted 07:00 as a sexagesimal int (420)
        if not 0 <= v < 24 * 60:
            raise ValueError(f"time {v!r} out of range")
        return time(v // 60, v % 60)
    if isinstance(v, str):
        try:
            hh, mm = v.split(":")
            return time(int(hh), int(mm))
        except ValueError as exc:
            raise ValueError(f"time {v!r} is not HH:MM") from exc
    raise ValueError(f"time {v!r} is not HH:MM")


class Shift(_Strict):
    """A shift: on these weekdays from `start` to `end` (city time); `end <= start` runs past midnight."""

    id: str = Field(pattern=ID_PATTERN)
    days: tuple[Weekday, ...] = WEEKDAYS
    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _time(cls, v: object) -> time:
        return _hhmm(v)

    def covers(self, local: datetime) -> bool:
        """True when the naive-or-local datetime `local` falls in this shift."""
        t = local.time().replace(tzinfo=None)
        day = WEEKDAYS[local.weekday()]
        if self.end > self.start:  # within one day
            return day in self.days and self.start <= t < self.end
        # runs past midnight (or all day when end == start): the evening part is today's, the morning part
        # belongs to the shift that started yesterday
        if day in self.days and t >= self.start:
            return True
        yesterday = WEEKDAYS[(local - timedelta(days=1)).weekday()]
        return yesterday in self.days and t < self.end


class Contact(_Strict):
    """Someone the rota reaches: an agency's person or desk, at an escalation level, on some shifts."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    agency: str = Field(pattern=ID_PATTERN)
    level: int = Field(1, ge=1, le=9)
    shifts: tuple[str, ...] = Field((), description="Shift ids; empty: always on duty (on call)")
    channel: Channel = "webhook"
    address: str = Field(min_length=1, description="The webhook or gateway URL the escalation is POSTed to")
    phone: str | None = Field(None, description="For the gateway payload (WhatsApp/SMS), E.164")


class DutyRota(_Strict):
    """The whole rota of a city, with the city's time zone its shift times are read in."""

    timezone: str = "UTC"
    default_agency: str | None = Field(
        None, pattern=ID_PATTERN, description="Who answers when no contact of the asked agency is on duty"
    )
    shifts: tuple[Shift, ...] = ()
    contacts: tuple[Contact, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> DutyRota:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        shift_ids = [s.id for s in self.shifts]
        if len(set(shift_ids)) != len(shift_ids):
            raise ValueError("duplicate shift id in duty_rota")
        contact_ids = [c.id for c in self.contacts]
        if len(set(contact_ids)) != len(contact_ids):
            raise ValueError("duplicate contact id in duty_rota")
        for c in self.contacts:
            unknown = set(c.shifts) - set(shift_ids)
            if unknown:
                raise ValueError(f"contact {c.id!r} names unknown shift(s) {sorted(unknown)}")
        return self

    @property
    def levels(self) -> tuple[int, ...]:
        """The escalation levels that have at least one contact, lowest first."""
        return tuple(sorted({c.level for c in self.contacts}))


def rota_of(profile: Profile) -> DutyRota:
    """The profile's `duty_rota` block, validated against its agencies and read in the city's time zone."""
    cached = profile.__dict__.get("_duty_rota")
    if isinstance(cached, DutyRota):
        return cached
    raw = dict(profile.duty_rota or {})
    raw.setdefault("timezone", profile.city.timezone)
    try:
        rota = DutyRota.model_validate(raw)
    except ValueError as exc:
        raise RotaError(f"duty_rota is invalid: {exc}") from exc
    agencies = {c.agency for c in rota.contacts} | ({rota.default_agency} if rota.default_agency else set())
    unknown = sorted(a for a in agencies if not profile.has_agency(a))
    if unknown:
        raise RotaError(f"duty_rota names unknown agency(ies) {unknown}")
    object.__setattr__(profile, "_duty_rota", rota)  # a cache on a frozen model, like Profile._index
    return rota


def on_duty(rota: DutyRota | Profile, at: datetime, *, agency: str | None = None, level: int = 1) -> list[Contact]:
    """The contacts on duty at `at` (aware) for `agency` at escalation `level`, in the rota's order.

    A contact is on duty when it has no shifts (always on call) or one of its shifts covers `at` in the city's
    time zone. `agency=None` asks the rota's default agency (everyone when it has none); an agency with nobody
    on duty at that level falls back to the default agency. An empty list means nobody: the caller says so.
    """
    if at.tzinfo is None:
        raise ValueError("on_duty needs an aware datetime")
    r = rota_of(rota) if isinstance(rota, Profile) else rota
    local = at.astimezone(ZoneInfo(r.timezone))
    covering = {s.id for s in r.shifts if s.covers(local)}
    here = [c for c in r.contacts if c.level == level and (not c.shifts or covering.intersection(c.shifts))]
    wanted = agency or r.default_agency
    if wanted is None:
        return here
    mine = [c for c in here if c.agency == wanted]
    if mine or r.default_agency is None or wanted == r.default_agency:
        return mine
    return [c for c in here if c.agency == r.default_agency]
