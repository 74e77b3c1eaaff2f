"""Standard operating procedures: their shape (from the profile or an admin), their default match, their store.

An SOP is an ordered checklist for one incident type. The profile's `sops`
block seeds the `incident_sops` table; an admin replaces one through the API,
which raises its version (each version's body is in the audit log) and makes it
the admin's: the profile no longer changes it. The caller owns the transaction.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection, RowMapping, and_, select, update

from app.profile import ID_PATTERN, Profile
from app.storage.dialect import insert_for
from app.storage.models import IncidentSopRow

S = IncidentSopRow.__table__
LEVEL2_AFTER_MIN = 30  # a late step still open half an hour later goes to the heads (the rota's level 2)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Words(_Strict):
    """A text in both UI languages."""

    id: str = Field(min_length=1, max_length=1000)
    en: str = Field(min_length=1, max_length=1000)


class Step(_Strict):
    """One step of the checklist."""

    id: str = Field(pattern=ID_PATTERN)
    text: Words
    agency: str | None = Field(None, pattern=ID_PATTERN, description="The agency responsible; none: the center")
    mandatory: bool = Field(True, description="Closing needs it done, or skipped with a reason")
    within_min: int | None = Field(None, gt=0, le=60 * 24 * 30, description="Target from the incident's start")
    escalate_level2_after_min: int | None = Field(
        None,
        ge=0,
        le=60 * 24 * 30,
        description="Minutes after it went late, still open, to tell the rota's level 2; 0: never; none: the SOP's",
    )


class Match(_Strict):
    """What an incident opened from an alarm or a ticket gets this SOP for, by default."""

    rule_kinds: list[str] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)


class Sop(_Strict):
    """A standard operating procedure for one incident type."""

    id: str = Field(pattern=ID_PATTERN)
    name: Words
    for_: Match = Field(default_factory=Match, alias="for")
    steps: list[Step] = Field(min_length=1, max_length=100)
    escalate_level2_after_min: int = Field(
        LEVEL2_AFTER_MIN,
        ge=0,
        le=60 * 24 * 30,
        description="Default for its steps: minutes after a step went late, still open, to tell the duty rota's "
        "level 2 (the heads); 0: never",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _unique_steps(self) -> Sop:
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise ValueError(f"SOP {self.id!r} repeats a step id")
        return self

    def level2_after_min(self, step: Step) -> int | None:
        """When a late `step` goes to level 2, in minutes after it went late; None: it never does (or it is
        never late, having no target)."""
        if step.within_min is None:
            return None
        n = step.escalate_level2_after_min
        n = self.escalate_level2_after_min if n is None else n
        return n or None

    def body(self) -> dict[str, Any]:
        """The SOP as stored and answered (the profile's shape)."""
        return self.model_dump(by_alias=True, exclude_none=True)


def check_agencies(sop: Sop, profile: Profile) -> None:
    """ValueError when a step names an agency the profile does not list."""
    for s in sop.steps:
        if s.agency is not None and not profile.has_agency(s.agency):
            raise ValueError(f"SOP {sop.id!r} step {s.id!r} names unknown agency {s.agency!r}")


def profile_sops(profile: Profile) -> list[Sop]:
    """The profile's SOPs, validated; ValueError naming the first wrong one."""
    out = [Sop.model_validate(raw) for raw in profile.sops]
    for sop in out:
        check_agencies(sop, profile)
    if len({s.id for s in out}) != len(out):
        raise ValueError("the profile repeats an SOP id")
    return out


# --- the store ----------------------------------------------------------------------


def sync_sops(*, conn: Connection, profile: Profile, now_ms: int) -> None:
    """Seed the profile's SOPs; follow the profile's later edits of those no admin has replaced."""
    rows = [
        {
            "city": profile.city.id,
            "sop_id": s.id,
            "body": orjson.dumps(s.body()).decode(),
            "origin": "profile",
            "version": 1,
            "updated_ms": now_ms,
            "updated_by": "profile",
        }
        for s in profile_sops(profile)
    ]
    if not rows:
        return
    ins = insert_for(conn, S)
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=[S.c.city, S.c.sop_id],
            set_={"body": ins.excluded.body, "updated_ms": ins.excluded.updated_ms},
            where=and_(S.c.origin == "profile", S.c.version == 1, S.c.body != ins.excluded.body),
        ),
        rows,
    )


def list_sops(*, conn: Connection, city: str) -> list[RowMapping]:
    """The city's SOPs, by id."""
    return list(conn.execute(select(S).where(S.c.city == city).order_by(S.c.sop_id)).mappings())


def get_sop(*, conn: Connection, city: str, sop_id: str) -> tuple[Sop, int] | None:
    """The SOP for an incident type and its version; None when the city has none."""
    row = conn.execute(select(S.c.body, S.c.version).where(S.c.city == city, S.c.sop_id == sop_id)).first()
    return None if row is None else (Sop.model_validate(orjson.loads(row.body)), row.version)


def save_sop(*, conn: Connection, city: str, sop: Sop, by: str, now_ms: int) -> int:
    """Create or replace an admin's SOP; its new version."""
    body = orjson.dumps(sop.body()).decode()
    old = conn.execute(select(S.c.id, S.c.version).where(S.c.city == city, S.c.sop_id == sop.id)).first()
    if old is None:
        conn.execute(
            S.insert().values(
                city=city, sop_id=sop.id, body=body, origin="admin", version=1, updated_ms=now_ms, updated_by=by
            )
        )
        return 1
    version = int(old.version) + 1
    conn.execute(
        update(S)
        .where(S.c.id == old.id)
        .values(body=body, origin="admin", version=version, updated_ms=now_ms, updated_by=by)
    )
    return version


def default_sop(
    *, conn: Connection, city: str, rule_kind: str | None = None, metric: str | None = None, service: str | None = None
) -> str | None:
    """The incident type an alarm (its rule kind and metric) or a ticket (its service) calls for; None if no SOP."""
    sops = [Sop.model_validate(orjson.loads(r["body"])) for r in list_sops(conn=conn, city=city)]
    # The most telling first: a metric (water level -> flood), a ticket's service, then an alarm rule's kind.
    for wanted, field in ((metric, "metrics"), (service, "services"), (rule_kind, "rule_kinds")):
        for s in sops:
            if wanted is not None and wanted in getattr(s.for_, field):
                return s.id
    return None
