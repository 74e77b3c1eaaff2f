"""Alarm management on the alarm clock, both databases, a controlled clock: the flood audited at its start and
end, a chattering rule+source shelved and reported, an unacknowledged critical alarm paged to the duty rota's
webhook receiver at level 1 after `escalate_after_s` and at level 2 after `escalate_level2_after_s`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, text

from app.alarms.queries import history
from app.alarms.shelves import shelved_at
from app.alarms.situation_store import picture
from app.alarms.store import Lifecycle
from app.alarms.upkeep import upkeep
from app.alarms.webhooks import dispatch_due
from app.profile import Profile, load_profile
from app.rota import on_duty
from app.seed import sync_profile
from app.settings import Settings
from app.storage.engine import writing
from app.storage.migrate import upgrade
from tests.app.alarms.test_webhooks import Receiver

MORO = load_profile("morotai")
S = 1000
T0 = (int(time.time()) - 6 * 3600) * 1000  # in the past: the outbox's deliveries are due at once


def profile_paging(url: str) -> Profile:
    """Morotai with every rota contact's address at the test's receiver (path: the contact id)."""
    data = MORO.model_dump()
    for c in data["duty_rota"]["contacts"]:
        c["address"] = f"{url}/{c['id']}"
    return Profile.model_validate(data)


@pytest.fixture
def ready(engine: Engine) -> Engine:
    upgrade(engine)
    with writing(engine) as conn:
        sync_profile(conn=conn, profile=MORO)
    return engine


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def raise_at(
    engine: Engine, profile: Profile, at_ms: int, *, source: str, severity: str = "critical", metric: str = "rain_mm_h"
) -> int:
    with writing(engine) as conn:
        ch = Lifecycle(profile).raise_(
            conn,
            city="morotai",
            rule_id=f"threshold.{metric}",
            kind="threshold",
            subject=source,
            severity=severity,
            value=120.0,
            now_ms=at_ms,
            source_id=source,
            district="morotai-selatan",
            metric=metric,
            detail={"metric": metric, "op": "above", "value": 120, "level": 100, "unit": "mm/h", "source_name": source},
        )
    assert ch is not None
    return ch.alarm_id


def tick(engine: Engine, profile: Profile, at_ms: int) -> Any:
    with writing(engine) as conn:
        return upkeep(conn=conn, life=Lifecycle(profile), profile=profile, now_ms=at_ms)


def audit(engine: Engine, action: str) -> list[tuple]:
    with engine.connect() as c:
        return c.execute(
            text("SELECT ts_ms, actor, target, detail FROM audit_log WHERE action = :a ORDER BY id"), {"a": action}
        ).all()


def test_unacknowledged_critical_alarm_pages_level_one_then_level_two(
    ready: Engine, db_url: str, receiver: Receiver
) -> None:
    profile = profile_paging(receiver.url)
    settings = Settings(database_url=db_url)
    after1 = profile.alarm_management.escalate_after_s["critical"]
    after2 = profile.alarm_management.escalate_level2_after_s["critical"]
    alarm = raise_at(ready, profile, T0, source="arg-daruba")
    acked = raise_at(ready, profile, T0, source="aws-bandara-pitu")
    with writing(ready) as conn:
        Lifecycle(profile).acknowledge(conn, acked, by="op", comment=None, now_ms=T0 + 60 * S)

    assert tick(ready, profile, T0 + after1 * S - 1).paged == []
    assert tick(ready, profile, T0 + after1 * S).paged == [(alarm, 1)]
    assert tick(ready, profile, T0 + after1 * S + 10 * S).paged == []  # once per level
    assert dispatch_due(ready, settings).delivered == 1
    at1 = datetime.fromtimestamp((T0 + after1 * S) / 1000, tz=UTC)
    (duty,) = on_duty(profile, at1, level=1)  # Pusdalops BPBD of the shift on duty then
    path, body = receiver.paths[-1], receiver.got[-1][1]
    assert path == f"/alarms/{duty.id}"
    assert (body["type"], body["level"], body["contact"]["id"], body["alarm"]["id"]) == (
        "alarm.escalation",
        1,
        duty.id,
        alarm,
    )
    assert body["contact"]["channel"] == "whatsapp" and body["contact"]["phone"].startswith("+62")
    assert body["text"].startswith("AWAS: ") and "5 menit" in body["text"] and "tingkat 1" in body["text"]

    assert tick(ready, profile, T0 + after2 * S - 1).paged == []
    assert tick(ready, profile, T0 + after2 * S).paged == [(alarm, 2)]
    assert dispatch_due(ready, settings).delivered == 1
    assert receiver.paths[-1] == "/alarms/kalak-bpbd" and receiver.got[-1][1]["level"] == 2
    assert len(receiver.got) == 2  # the acknowledged alarm was never paged

    with ready.connect() as conn:
        steps = [(h["action"], h["value"]) for h in history(conn=conn, alarm_id=alarm)]
        assert steps == [("raised", 120.0), ("paged", 1.0), ("paged", 2.0)]
        assert picture(conn=conn, profile=profile, now_ms=T0 + after2 * S).paged == {alarm: 2}
    rows = audit(ready, "alarm.escalate")
    assert [(r.ts_ms, r.actor, r.target, orjson.loads(r.detail)["level"]) for r in rows] == [
        (T0 + after1 * S, "satupintu", str(alarm), 1),
        (T0 + after2 * S, "satupintu", str(alarm), 2),
    ]


def test_an_alarm_acknowledged_between_the_levels_is_not_paged_again(ready: Engine, receiver: Receiver) -> None:
    profile = profile_paging(receiver.url)
    alarm = raise_at(ready, profile, T0, source="arg-daruba", severity="major")
    assert tick(ready, profile, T0 + 900 * S).paged == [(alarm, 1)]
    with writing(ready) as conn:
        Lifecycle(profile).acknowledge(conn, alarm, by="op", comment="ke lokasi", now_ms=T0 + 1000 * S)
    assert tick(ready, profile, T0 + 3 * 3600 * S).paged == []
    minor = raise_at(ready, profile, T0, source="aws-wayabula", severity="minor")
    assert all(a != minor for a, _ in tick(ready, profile, T0 + 24 * 3600 * S).paged)  # minor never escalates


def test_chattering_rule_and_source_is_shelved_once_and_reported(ready: Engine) -> None:
    life = Lifecycle(MORO)
    for k in range(3):  # raised and cleared three times within a minute
        a = raise_at(ready, MORO, T0 + k * 20 * S, source="arg-daruba", severity="major")
        with writing(ready) as conn:
            life.clear(conn, a, now_ms=T0 + k * 20 * S + 5 * S)
    raise_at(ready, MORO, T0 + 10 * S, source="arg-leo-leo", severity="major")  # once: not chattering
    assert tick(ready, MORO, T0 + 41 * S).shelved == [("threshold.rain_mm_h", "arg-daruba")]
    assert tick(ready, MORO, T0 + 45 * S).shelved == []  # already shelved
    with ready.connect() as conn:
        shelves = shelved_at(conn=conn, city="morotai", now_ms=T0 + 50 * S)
        assert shelves.covers("threshold.rain_mm_h", "arg-daruba")
        assert not shelves.covers("threshold.rain_mm_h", "arg-leo-leo")
        pic = picture(conn=conn, profile=MORO, now_ms=T0 + 50 * S)
        assert [(r["rule_id"], r["source_id"], r["reason"], r["actor"]) for r in pic.chattering] == [
            ("threshold.rain_mm_h", "arg-daruba", "chattering", "satupintu")
        ]
        assert pic.chattering[0]["until_ms"] == T0 + 41 * S + 60 * 60 * S
    (row,) = audit(ready, "alarm.chattering")
    assert row.target == "threshold.rain_mm_h|arg-daruba" and orjson.loads(row.detail)["raised"] == 3


def test_flood_start_and_end_are_audited_once_each(ready: Engine) -> None:
    sources = [s.id for s in MORO.sources][:12]
    for i, src in enumerate(sources):  # 12 alarms, 20 s apart
        raise_at(ready, MORO, T0 + i * 20 * S, source=src, severity="minor" if i % 3 else "critical")
    assert tick(ready, MORO, T0 + 8 * 20 * S).flood is None  # 9 so far
    assert tick(ready, MORO, T0 + 9 * 20 * S).flood == "start"
    assert tick(ready, MORO, T0 + 11 * 20 * S).flood is None  # still the same flood
    with ready.connect() as conn:
        flood = picture(conn=conn, profile=MORO, now_ms=T0 + 11 * 20 * S).flood
    assert flood.active and flood.count == 12 and len(flood.suppressed) == 8  # the minor ones
    # the window (t - 10 min, t] holds fewer than 10 once the 3rd alarm (at 40 s) left it
    assert tick(ready, MORO, T0 + 40 * S + 600 * S - 1).flood is None
    assert tick(ready, MORO, T0 + 40 * S + 600 * S).flood == "end"
    assert tick(ready, MORO, T0 + 3600 * S).flood is None
    start, end = audit(ready, "alarm.flood.start"), audit(ready, "alarm.flood.end")
    assert [r.ts_ms for r in start] == [T0 + 180 * S] and [r.ts_ms for r in end] == [T0 + 640 * S]
    d = orjson.loads(start[0].detail)
    assert (d["count"], d["threshold"], d["window_s"], d["suppress_below"]) == (10, 10, 600, "major")
