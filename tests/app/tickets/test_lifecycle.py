"""A ticket's due times from the profile: SLA in working days around holidays, LAPOR! stage targets."""

from __future__ import annotations

from datetime import datetime

from app.profile import load_profile
from app.tickets.lifecycle import derive_ticket

P = load_profile("morotai")
WIT = P.tz


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=WIT).timestamp() * 1000)


def ev(status: str, ts: int, **kw: object) -> dict[str, object]:
    return {"status": status, "ts_ms": ts, "agency": "dinas-pupr", **kw}


def test_a_working_day_sla_skips_idul_fitri() -> None:
    # perbaikan-jalan: 10 working days. Opened Monday 16 March 2026, 09:00 WIT: Nyepi, Idul Fitri and its
    # cuti bersama take 18-24 March and Good Friday 3 April: 17, 25, 26, 27, 30, 31 March, 1, 2, 6, 7 April.
    t = derive_ticket([ev("open", ms(2026, 3, 16, 9), service="perbaikan-jalan")], P)
    assert t["due_ms"] == ms(2026, 4, 7, 9)  # 14 calendar days would have said 30 March


def test_office_hours_and_a_minute_sla_still_work() -> None:
    # pengaduan-adminduk: 5 working days within 08:00-16:00; sent on Friday 8 May 2026 at 20:00.
    # Counting starts Monday 11 May 08:00; Thursday 14 and Friday 15 May are Ascension and its cuti bersama;
    # 11, 12, 13, 18, 19 May: due on Tuesday 19 May when the office closes.
    t = derive_ticket([ev("open", ms(2026, 5, 8, 20), service="pengaduan-adminduk", agency="dukcapil")], P)
    assert t["due_ms"] == ms(2026, 5, 19, 16)
    # A calendar-minute SLA is unchanged, and an event's own sla_minutes and expected time still win.
    assert derive_ticket([ev("open", 0, service="jalan-rusak")], P)["due_ms"] == 10080 * 60_000
    assert derive_ticket([ev("open", 0, service="perbaikan-jalan", sla_minutes=5)], P)["due_ms"] == 5 * 60_000
    assert derive_ticket([ev("open", 0, service="perbaikan-jalan", due_ms=42)], P)["due_ms"] == 42


def test_the_stage_counts_from_when_the_ticket_entered_it() -> None:
    opened = ms(2026, 11, 2, 9)  # a Monday
    events = [
        ev("open", opened, service="perbaikan-jalan", stage="verifikasi"),
        ev("assigned", ms(2026, 11, 4, 9), stage="tindak_lanjut"),
        ev("in_progress", ms(2026, 11, 5, 9)),  # states no stage: the stage and its start stay
    ]
    t = derive_ticket(events, P)
    assert t["stage"] == "tindak_lanjut"
    assert t["stage_since_ms"] == ms(2026, 11, 4, 9)
    assert t["stage_due_ms"] == ms(2026, 11, 11, 9)  # 5 working days: Wed 4 -> Wed 11 November
    verif = derive_ticket(events[:1], P)
    assert verif["stage_due_ms"] == ms(2026, 11, 5, 9)  # 3 working days
    assert derive_ticket([ev("open", opened)], P)["stage"] is None
