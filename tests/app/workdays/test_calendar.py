"""The working-day calendar: the week, Indonesian holidays and cuti bersama, regional days, office hours."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.workdays.calendar import MON_SAT, WorkCalendar

WIT = ZoneInfo("Asia/Jayapura")  # Pulau Morotai, UTC+9


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=WIT).timestamp() * 1000)


def at(ms_: int) -> datetime:
    return datetime.fromtimestamp(ms_ / 1000, WIT)


def test_idul_fitri_and_its_cuti_bersama_are_not_worked() -> None:
    cal = WorkCalendar(WIT)
    # Idul Fitri 1447 H: 21-22 March 2026, with cuti bersama on 20, 23 and 24 March (and Nyepi on the 18th-19th).
    for d in (18, 19, 20, 23, 24):
        assert not cal.is_working_day(date(2026, 3, d)), d
    assert cal.holiday(date(2026, 3, 21)) is not None
    assert cal.is_working_day(date(2026, 3, 17))
    assert cal.is_working_day(date(2026, 3, 25))
    # A complaint on Tuesday 17 March at 10:00 with 3 working days is due on Friday 27 March at 10:00, not on the 20th.
    assert at(cal.add(ms(2026, 3, 17, 10), 3)) == datetime(2026, 3, 27, 10, tzinfo=WIT)
    assert cal.elapsed(ms(2026, 3, 17, 10), ms(2026, 3, 27, 10)) == pytest.approx(3.0)


def test_a_long_weekend_pushes_the_due_time_past_it() -> None:
    cal = WorkCalendar(WIT)
    # Ascension Day, Thursday 14 May 2026, and its cuti bersama on Friday the 15th: a four-day weekend.
    assert at(cal.add(ms(2026, 5, 13, 9), 1)) == datetime(2026, 5, 18, 9, tzinfo=WIT)
    # Received during the long weekend: the count starts on Monday morning.
    assert at(cal.add(ms(2026, 5, 16, 12), 1)) == datetime(2026, 5, 19, 0, tzinfo=WIT)
    # Without the national calendar the same request is due the next day.
    assert at(WorkCalendar(WIT, national=False).add(ms(2026, 5, 13, 9), 1)) == datetime(2026, 5, 14, 9, tzinfo=WIT)


def test_saturday_counts_in_a_six_day_week() -> None:
    five, six = WorkCalendar(WIT), WorkCalendar(WIT, week=MON_SAT)
    friday = ms(2026, 11, 6, 9)
    assert at(five.add(friday, 1)) == datetime(2026, 11, 9, 9, tzinfo=WIT)
    assert at(six.add(friday, 1)) == datetime(2026, 11, 7, 9, tzinfo=WIT)


def test_regional_days_off_are_skipped() -> None:
    # A regency's own day (here a made-up hari jadi on Wednesday 11 November 2026).
    cal = WorkCalendar(WIT, regional=frozenset({date(2026, 11, 11)}))
    assert cal.holiday(date(2026, 11, 11)) == "regional"
    assert at(cal.add(ms(2026, 11, 10, 9), 1)) == datetime(2026, 11, 12, 9, tzinfo=WIT)


def test_office_hours_count_only_the_window() -> None:
    cal = WorkCalendar(WIT, office=(time(8), time(16)))
    assert cal.day_ms() == 8 * 3_600_000
    # 15:00 on Monday + 1 working day: 15:00 on Tuesday.
    assert at(cal.add(ms(2026, 11, 2, 15), 1)) == datetime(2026, 11, 3, 15, tzinfo=WIT)
    # After closing time: the count starts when the office opens, and ends when it closes.
    assert at(cal.add(ms(2026, 11, 2, 18), 1)) == datetime(2026, 11, 3, 16, tzinfo=WIT)
    # Half a working day from Monday 12:00: Tuesday 08:00 (4 h left on Monday).
    assert at(cal.add(ms(2026, 11, 2, 12), 0.5)) == datetime(2026, 11, 2, 16, tzinfo=WIT)
    assert cal.elapsed(ms(2026, 11, 2, 12), ms(2026, 11, 3, 12)) == pytest.approx(1.0)
    # A night and a weekend count for nothing.
    assert cal.elapsed(ms(2026, 11, 6, 16), ms(2026, 11, 9, 8)) == 0


def test_bad_calendars_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        WorkCalendar(WIT, week=frozenset())
    with pytest.raises(ValueError, match="open before"):
        WorkCalendar(WIT, office=(time(16), time(8)))
    assert WorkCalendar(WIT).add(ms(2026, 1, 5, 9), 0) == ms(2026, 1, 5, 9)
    assert WorkCalendar(WIT).elapsed(ms(2026, 1, 5, 9), ms(2026, 1, 4, 9)) == 0
