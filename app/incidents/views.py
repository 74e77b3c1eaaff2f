"""Incidents as the API answers them: rows to response models, in the asked language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from app.http.timefmt import from_ms
from app.incidents.store import State
from app.profile import Severity

StepStatus = Literal["open", "done", "skipped"]


class StepOut(BaseModel):
    step: str = Field(description="The step's id in its SOP: POST /api/v1/incidents/{id}/steps/{step}")
    seq: int
    text: str = Field(description="In the requested language")
    agency: str | None
    mandatory: bool
    within_min: int | None = Field(description="Target from the incident's start, minutes")
    due_at: datetime | None
    status: StepStatus
    late: bool = Field(description="Past its target (still open, or done after it)")
    escalated_at: datetime | None = Field(description="When the clock found it late and escalated it to the rota")
    level2_after_min: int | None = Field(description="Still open this long after it went late: to the rota's level 2")
    escalated_level2_at: datetime | None = Field(description="When it was escalated to the rota's level 2")
    done_at: datetime | None = Field(description="Done or skipped at")
    done_by: str | None
    note: str | None = Field(description="The note of a done step; the reason of a skipped one")


class LinkOut(BaseModel):
    kind: Literal["alarm", "ticket"]
    ref: str = Field(description="The alarm id or the ticket id")
    linked_at: datetime
    linked_by: str


class LogOut(BaseModel):
    at: datetime
    by: str | None = Field(description="Who; null for the clock")
    kind: Literal["opened", "note", "state", "step", "link", "handover", "late"]
    text: str | None
    detail: dict[str, Any]


class Incident(BaseModel):
    id: int
    type: str = Field(description="The SOP's id: banjir, longsor, gempa, tsunami, kebakaran, kecelakaan, ...")
    title: str
    severity: Severity
    state: State
    district: str | None
    lat: float | None
    lon: float | None
    agencies: list[str]
    owner: str
    opened_by: str
    sop_version: int
    opened_at: datetime
    first_action_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    steps: list[StepOut]
    steps_open_mandatory: int
    steps_late: int


class IncidentDetail(Incident):
    links: list[LinkOut]
    log: list[LogOut] = Field(description="Oldest first")


def step_out(s: Mapping[Any, Any], opened_ms: int, lang: str, now_ms: int) -> StepOut:
    due = opened_ms + s["within_min"] * 60_000 if s["within_min"] is not None else None
    end = s["done_ms"] if s["done_ms"] is not None else now_ms
    late = s["late_ms"] is not None or (due is not None and end > due and s["status"] != "skipped")
    return StepOut(
        step=s["step_id"],
        seq=s["seq"],
        text=s["text_en"] if lang == "en" else s["text_id"],
        agency=s["agency"],
        mandatory=s["mandatory"],
        within_min=s["within_min"],
        due_at=from_ms(due),
        status=s["status"],
        late=late,
        escalated_at=from_ms(s["late_ms"]),
        level2_after_min=s["level2_after_min"],
        escalated_level2_at=from_ms(s["late2_ms"]),
        done_at=from_ms(s["done_ms"]),
        done_by=s["done_by"],
        note=s["note"],
    )


def incident_out(row: Mapping[Any, Any], steps: Sequence[Mapping[Any, Any]], lang: str, now_ms: int) -> Incident:
    outs = [step_out(s, row["opened_ms"], lang, now_ms) for s in steps]
    return Incident(
        id=row["id"],
        type=row["type"],
        title=row["title"],
        severity=row["severity"],
        state=row["state"],
        district=row["district"],
        lat=row["lat"],
        lon=row["lon"],
        agencies=orjson.loads(row["agencies"]),
        owner=row["owner"],
        opened_by=row["opened_by"],
        sop_version=row["sop_version"],
        opened_at=from_ms(row["opened_ms"]),
        first_action_at=from_ms(row["first_action_ms"]),
        closed_at=from_ms(row["closed_ms"]),
        updated_at=from_ms(row["updated_ms"]),
        steps=outs,
        steps_open_mandatory=sum(s.mandatory and s.status == "open" for s in outs),
        steps_late=sum(s.late for s in outs),
    )


def log_out(e: Mapping[Any, Any]) -> LogOut:
    return LogOut(
        at=from_ms(e["at_ms"]), by=e["actor"], kind=e["kind"], text=e["text"], detail=orjson.loads(e["detail"])
    )


def link_out(k: Mapping[Any, Any]) -> LinkOut:
    return LinkOut(kind=k["kind"], ref=k["ref"], linked_at=from_ms(k["linked_ms"]), linked_by=k["linked_by"])
