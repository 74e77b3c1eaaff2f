"""What the incident routes take in (validated, text cleaned) and the summary they answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from app.incidents.store import State
from app.profile import ID_PATTERN, Severity

TICKET_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
SITUATION_ID = r"^s-[0-9]{1,19}$"  # as /api/v1/situations names them: `s-` and the first alarm's id
_SITUATION = "A situation (GET /api/v1/situations): all its alarms are linked"


def _clean(v: str | None) -> str | None:
    """Text from outside, stripped; None when empty; a NUL byte refused (PostgreSQL cannot store it)."""
    if v is None:
        return None
    v = v.strip()
    if "\x00" in v:
        raise ValueError("text cannot contain NUL characters")
    return v or None


def _required(v: str, what: str) -> str:
    """Text from outside that must say something: cleaned as `_clean`, ValueError naming `what` when empty."""
    out = _clean(v)
    if not out:
        raise ValueError(f"{what} is empty")
    return out


class IncidentIn(BaseModel):
    """A new incident. `type` names an SOP; it may be left out when opened from an alarm, a situation or a
    ticket (their default SOP is taken). `severity` and where it is (`district`, `lat`/`lon`) default to what it
    was opened from (a situation's worst open severity and its district, else the first alarm's)."""

    type: str | None = Field(None, pattern=ID_PATTERN, examples=["banjir"])
    title: str = Field(min_length=1, max_length=200, examples=["Banjir Sungai Pilowo, Daruba"])
    severity: Severity | None = Field(
        None,
        description="critical = Awas, major = Siaga, minor = Waspada, warning = Perhatian; default: from the "
        "situation or alarm it is opened from",
    )
    district: str | None = Field(None, pattern=ID_PATTERN)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    alarm_ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(default_factory=list, max_length=100)
    ticket_ids: list[Annotated[str, Field(pattern=TICKET_ID)]] = Field(default_factory=list, max_length=100)
    situation_id: str | None = Field(None, pattern=SITUATION_ID, description=_SITUATION, examples=["s-12"])
    agencies: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(default_factory=list, max_length=30)
    note: str | None = Field(None, max_length=2000, description="How it came in (a phone call: who called)")

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return _required(v, "the title")

    @field_validator("note")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        return _clean(v)


class NoteIn(BaseModel):
    note: str | None = Field(None, max_length=2000)

    @field_validator("note")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        return _clean(v)


class StepIn(NoteIn):
    action: Literal["done", "skip"] = Field(description="`skip` needs a reason in `note`")


class StateIn(NoteIn):
    state: State = Field(description="open -> responding -> monitoring -> closed; cancelled needs a reason")


class OwnerIn(NoteIn):
    to: str = Field(min_length=1, max_length=100, description="The operator who takes the incident over")

    @field_validator("to")
    @classmethod
    def _name(cls, v: str) -> str:
        return _required(v, "the name of the operator who takes it over")


class LogIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)

    @field_validator("text")
    @classmethod
    def _printable(cls, v: str) -> str:
        return _required(v, "the note")


class LinksIn(BaseModel):
    alarm_ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(default_factory=list, max_length=100)
    ticket_ids: list[Annotated[str, Field(pattern=TICKET_ID)]] = Field(default_factory=list, max_length=100)
    situation_id: str | None = Field(None, pattern=SITUATION_ID, description=_SITUATION)


class SummaryOut(BaseModel):
    start: datetime
    end: datetime
    total: int
    open: int = Field(description="Of those, not closed nor cancelled now")
    by_type: dict[str, int]
    by_district: dict[str, int] = Field(description="`-`: no district")
    by_state: dict[str, int]
    first_action_median_min: float | None = Field(description="Opened to the first step done or skipped, or responding")
    first_action_p90_min: float | None
    close_median_min: float | None
    close_p90_min: float | None
    steps_total: int
    steps_late: int = Field(description="Steps the clock found past their target and escalated")
