"""Alarm-system KPIs on both databases: a hand-made history whose every figure is worked out below by hand.

The period is [T0, T0 + 2 h): 12 ten-minute periods, counted from T0. What is raised in it (27 alarms):

- 12 `flood-01..12` (threshold.water_level_cm) at T0+10 min + i*10 s: all in period 1, so one flood
  period and the peak 10 minutes (12). Raised major (flood-01..09) or critical (flood-10..12); flood-01
  is escalated to critical later, which does not change its priority as annunciated (medium).
  flood-01..10 are acknowledged after 10, 20, ..., 90 and 1000 s; flood-01 is acknowledged again after
  its escalation (200 s), which does not count: the first acknowledgement does. All 12 stay open.
- `arg-chatter` (threshold.rain_mm, warning) raised/cleared 3 times: raised at +0, +20, +40 s, cleared
  at +5, +25, +50 s: 50 s from the first raise to the third clear <= 60 s: chattering.
- `arg-slow` (threshold.rain_mm, minor) the same 3 times, raised +0, +40, +70 s, cleared +10, +50,
  +80 s: 80 s > 60 s: not chattering.
- 9 `wind-1..9` (threshold.wind_speed_ms, warning) in period 8: 9 < 10, not a flood. Cleared later.

Before the period: `old-stale` raised T0-25 h and still open (stale: open over 24 h during the period);
`old-short` raised T0-23 h, cleared T0+30 min (open 23.5 h: not stale); `old-gone` raised T0-26 h and
cleared T0-30 min (open over 24 h, but not during the period). Shelves: one in force now, one ended, one
expired.

Hence, at NOW = T0 + 3 h:
- alarms_per_hour = 27 / 2 = 13.5 (target <= 6: not met); peak_10min = 12 (< 10: not met)
- flood_pct = 1 / 12 = 8.33 % (< 1: not met)
- top 10: arg-chatter 3, arg-slow 3, then 8 singletons (ties by rule then subject: flood-01..08), so
  14 / 27 = 51.85 % (<= 5: not met)
- chattering 1 (arg-chatter, its 3 alarms); stale 1 (old-stale)
- priority: low = 3 + 3 + 9 = 15 (55.56 %), medium = 9 (33.33 %), high = 3 (11.11 %): none met
- time to acknowledge: [10, 20, ..., 90, 1000] s: median (50 + 60) / 2 = 55; p90 by linear
  interpolation at rank 0.9 * 9 = 8.1: 90 + 0.1 * (1000 - 90) = 181 (<= 600: met)
- standing now: 12 flood + old-stale = 13 (< 10: not met); shelved now 1 (< 10: met)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from app.alarms import shelves
from app.alarms.kpis import AlarmKpis, alarm_kpis
from app.alarms.store import Lifecycle
from app.api.main import DEPENDS_ON
from app.http.timefmt import from_ms, now_ms
from app.profile import load_profile
from app.storage.migrate import upgrade
from tests.app.conftest import auth

LIFE = Lifecycle(load_profile("morotai"))
S = 1000
MIN = 60 * S
H = 60 * MIN
T0 = 1_780_000_000_000
END = T0 + 2 * H
NOW = T0 + 3 * H


def _raise(conn: Connection, rule: str, subject: str, severity: str, at: int) -> int:
    change = LIFE.raise_(
        conn,
        city="morotai",
        rule_id=rule,
        kind="threshold",
        subject=subject,
        severity=severity,
        value=1.0,
        detail={"metric": rule.removeprefix("threshold."), "value": 1.0, "level": 1.0, "source_id": subject},
        now_ms=at,
        source_id=subject,
    )
    assert change is not None
    return change.alarm_id


def seed(conn: Connection, t0: int, now: int) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    for i in range(12):
        at = t0 + 10 * MIN + i * 10 * S
        ids.setdefault("flood", []).append(
            _raise(conn, "threshold.water_level_cm", f"flood-{i + 1:02d}", "major" if i < 9 else "critical", at)
        )
    for i, delay_s in enumerate([10, 20, 30, 40, 50, 60, 70, 80, 90, 1000]):
        raised = t0 + 10 * MIN + i * 10 * S
        LIFE.acknowledge(conn, ids["flood"][i], by="op", comment=None, now_ms=raised + delay_s * S)
    first = ids["flood"][0]
    LIFE.change_severity(conn, first, severity="critical", value=2.0, detail=None, now_ms=t0 + 10 * MIN + 100 * S)
    LIFE.acknowledge(conn, first, by="op", comment=None, now_ms=t0 + 10 * MIN + 200 * S)
    for subject, severity, raises, clears in (
        ("arg-chatter", "warning", (0, 20, 40), (5, 25, 50)),
        ("arg-slow", "minor", (0, 40, 70), (10, 50, 80)),
    ):
        base = t0 + (40 if subject == "arg-chatter" else 60) * MIN
        for r, c in zip(raises, clears, strict=True):
            alarm = _raise(conn, "threshold.rain_mm", subject, severity, base + r * S)
            LIFE.clear(conn, alarm, now_ms=base + c * S)
            ids.setdefault(subject, []).append(alarm)
    for i in range(9):
        alarm = _raise(conn, "threshold.wind_speed_ms", f"wind-{i + 1}", "warning", t0 + 80 * MIN + i * 30 * S)
        LIFE.clear(conn, alarm, now_ms=t0 + 100 * MIN)
    ids["stale"] = [_raise(conn, "silence", "old-stale", "minor", t0 - 25 * H)]
    short = _raise(conn, "silence", "old-short", "minor", t0 - 23 * H)
    LIFE.clear(conn, short, now_ms=t0 + 30 * MIN)
    gone = _raise(conn, "silence", "old-gone", "minor", t0 - 26 * H)
    LIFE.clear(conn, gone, now_ms=t0 - 30 * MIN)
    shelves.add_shelf(
        conn=conn, city="morotai", rule_id="silence", source_id=None, minutes=60, by="a", reason="x", now_ms=now
    )
    ended = shelves.add_shelf(
        conn=conn, city="morotai", rule_id=None, source_id="wind-1", minutes=60, by="a", reason="x", now_ms=now
    )
    assert shelves.end_shelf(conn=conn, city="morotai", shelf_id=ended["id"], now_ms=now)
    shelves.add_shelf(
        conn=conn, city="morotai", rule_id=None, source_id="wind-2", minutes=60, by="a", reason="x", now_ms=now - 2 * H
    )
    return ids


@pytest.fixture
def seeded(engine: Engine) -> Iterator[tuple[AlarmKpis, dict[str, list[int]]]]:
    upgrade(engine)
    with engine.begin() as conn:
        ids = seed(conn, T0, NOW)
    with engine.connect() as conn:
        yield alarm_kpis(conn=conn, city="morotai", start_ms=T0, end_ms=END, now_ms=NOW), ids


def _kpis(k: AlarmKpis) -> dict[str, tuple[float | None, bool]]:
    return {x.key: (x.value, x.meets) for x in k.kpis}


def test_every_kpi_matches_the_hand_count(seeded: tuple[AlarmKpis, dict[str, list[int]]]) -> None:
    k, ids = seeded
    assert (k.raised, k.periods, k.flood_periods, k.peak_10min) == (27, 12, 1, 12)
    assert k.priority_counts == {"low": 15, "medium": 9, "high": 3}
    assert k.ack_delays_s == (10, 20, 30, 40, 50, 60, 70, 80, 90, 1000)
    assert [(f.subject, f.count) for f in k.top] == [
        ("arg-chatter", 3),
        ("arg-slow", 3),
        *((f"flood-{i:02d}", 1) for i in range(1, 9)),
    ]
    assert [(f.subject, f.alarm_ids) for f in k.chattering] == [("arg-chatter", tuple(ids["arg-chatter"]))]
    assert [(f.subject, f.alarm_ids) for f in k.stale] == [("old-stale", tuple(ids["stale"]))]
    assert _kpis(k) == {
        "alarms_per_hour": (13.5, False),
        "peak_10min": (12, False),
        "flood_pct": (8.33, False),
        "top10_share_pct": (51.85, False),
        "chattering": (1, False),
        "stale": (1, False),
        "priority_low_pct": (55.56, False),
        "priority_medium_pct": (33.33, False),
        "priority_high_pct": (11.11, False),
        "ack_median_s": (55.0, True),
        "ack_p90_s": (pytest.approx(181.0), True),
        "standing_now": (13, False),
        "shelved_now": (1, True),
    }


def test_a_quiet_period_meets_every_target(engine: Engine) -> None:
    # [T0-27 h, T0-24.5 h): 2.5 h, 15 periods. Raised in it: old-gone (T0-26 h, period 6) and old-stale
    # (T0-25 h, period 12), both minor (low): 2 / 2.5 = 0.8 an hour, peak 1. Neither is open 24 h by the
    # period's end (they would be at T0-2 h and T0-1 h): nothing stale; nothing acknowledged.
    upgrade(engine)
    with engine.begin() as conn:
        seed(conn, T0, NOW)
    start, end = T0 - 27 * H, T0 - 24 * H - 30 * MIN
    with engine.connect() as conn:
        k = alarm_kpis(conn=conn, city="morotai", start_ms=start, end_ms=end, now_ms=NOW)
    assert (k.raised, k.periods, k.flood_periods, k.peak_10min) == (2, 15, 0, 1)
    values = _kpis(k)
    assert values["alarms_per_hour"] == (0.8, True)  # 2 / 2.5 h
    assert values["priority_low_pct"] == (100.0, True)
    assert values["ack_p90_s"] == (None, True)  # nothing acknowledged
    assert values["top10_share_pct"] == (100.0, False)  # two alarms are their own top 10
    assert values["stale"] == (0, True) and values["chattering"] == (0, True) and values["flood_pct"] == (0.0, True)


def test_the_api_needs_a_token_checks_dates_and_exports_csv(client: TestClient, tokens: dict[str, str]) -> None:
    now = now_ms()
    t0 = now - 4 * H
    with client.app.state.engine.begin() as conn:
        seed(conn, t0, now)
        _raise(conn, "threshold.rain_mm", "=HYPERLINK(1)", "warning", t0 + 5 * MIN)  # a formula in a cell
    period = {"start": from_ms(t0).isoformat(), "end": from_ms(t0 + 2 * H).isoformat()}
    for path in ("/api/v1/alarm-kpis", "/api/v1/alarm-kpis.csv"):
        assert client.get(path, params=period).status_code == 401
        for bad in (
            {"start": period["end"], "end": period["start"]},
            {"start": "yesterday"},
            {"start": "2026-11-22T07:30:00"},  # no offset
        ):
            r = client.get(path, params=bad, headers=auth(tokens["viewer"]))
            assert r.status_code == 422, (path, bad, r.text)
    r = client.get("/api/v1/alarm-kpis", params=period, headers=auth(tokens["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["raised"] == 28 and body["flood_periods"] == 1
    assert [c["subject"] for c in body["chattering"]] == ["arg-chatter"]
    by_key = {x["key"]: x for x in body["kpis"]}
    assert by_key["peak_10min"] == {
        "key": "peak_10min",
        "value": 12,
        "unit": "alarms",
        "target": "< 10",
        "meets": False,
        "standard": "ISA-18.2",
    }
    r = client.get("/api/v1/alarm-kpis.csv", params=period, headers=auth(tokens["viewer"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "alarm-kpis" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["kpi"] for row in rows[:13]] == [x["key"] for x in body["kpis"]]
    assert {row["kpi"]: row["meets"] for row in rows[:13]}["shelved_now"] == "true"
    top = [row for row in rows if row["kpi"] == "top10_alarm"]
    assert len(top) == 10 and top[0]["subject"] == "arg-chatter" and top[0]["count"] == "3"
    assert "'=HYPERLINK(1)" in [row["subject"] for row in top]  # defused, not run by a spreadsheet


def test_the_cached_kpis_are_computed_again_on_an_alarm_notice_only() -> None:
    assert DEPENDS_ON("/api/v1/alarm-kpis") == {"alarms"}
    assert DEPENDS_ON("/api/v1/alarm-kpis.csv") == {"alarms"}
