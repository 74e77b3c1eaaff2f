"""A working-day calendar: the week, Indonesian holidays and cuti bersama, the regency's own days, office hours.

Service standards (*standar pelayanan*) and SP4N-LAPOR! count in working days.
Time is measured as *working time*: the part of each working day inside its
window (the whole day, or the office hours when a service sets them). One
working day is one window's length of working time, so:

- `add(start, n)` is the instant when `n` working days of working time have
  passed since `start`. A request at 10:00 on a Tuesday with 3 working days
  is due at 10:00 on the third working day after; one sent on a Sunday or after
  office hours starts counting when the next window opens, and is due when the
  n-th window closes.
- `elapsed(a, b)` is the working time between two instants, in working days
  (fractional): the median time to resolve on the public page.

National holidays and *cuti bersama* (the `government` category of the
`holidays` package: "Joint Holiday") come from the kept library, so a new year's
decree arrives with a package update; the regency's own days come from the
city profile. The calendar is pure: no clock, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from holidays import HolidayBase
from holidays.countries.indonesia import Indonesia

MON_FRI = frozenset(range(5))
MON_SAT = frozenset(range(6))
_MAX_DAYS = 3 * 366  # a due time further than this many calendar days away is a profile mistake
_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Which days are worked, and which hours of them count."""

    tz: ZoneInfo
    week: frozenset[int] = MON_FRI  # date.weekday(): Monday is 0
    regional: frozenset[date] = frozenset()  # the regency's own days off (profile)
    office: tuple[time, time] | None = None  # [open, close) local time; None: the whole day
    national: bool = True  # Indonesian national holidays and cuti bersama
    _cache: dict[int, HolidayBase] = field(default_factory=dict, compare=False, hash=False, repr=False)
    # Each date's working window (None: not worked), as it is asked for: a due time or an elapsed time walks the
    # same few weeks again and again (the public page's median walks one per resolved ticket).
    _windows: dict[date, tuple[int, int] | None] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if not self.week:
            raise ValueError("a working week needs at least one day")
        if self.office is not None and self.office[0] >= self.office[1]:
            raise ValueError("office hours open before they close")

    def holiday(self, d: date) -> str | None:
        """The name of the day off `d` is (national, cuti bersama or regional), or None on an ordinary day."""
        if d in self.regional:
            return "regional"
        if not self.national:
            return None
        year = self._cache.get(d.year)
        if year is None:
            year = self._cache[d.year] = Indonesia(
                years=d.year, categories=Indonesia.supported_categories, language="id"
            )
        return year.get(d)

    def is_working_day(self, d: date) -> bool:
        """Whether `d` is worked: in the week, and not a holiday."""
        return d.weekday() in self.week and self.holiday(d) is None

    def day_ms(self) -> int:
        """One working day of working time, in milliseconds."""
        if self.office is None:
            return 86_400_000
        o, c = self.office
        return (c.hour * 3600 + c.minute * 60 - o.hour * 3600 - o.minute * 60) * 1000

    def _window(self, d: date) -> tuple[int, int]:
        o, c = self.office or (time(0), None)
        start = datetime.combine(d, o, self.tz)
        end = datetime.combine(d, c, self.tz) if c is not None else datetime.combine(d + _DAY, time(0), self.tz)
        return int(start.timestamp() * 1000), int(end.timestamp() * 1000)

    def _days_from(self, ms: int) -> Iterable[tuple[int, int]]:
        d = datetime.fromtimestamp(ms / 1000, self.tz).date()
        windows = self._windows
        for _ in range(_MAX_DAYS):
            if d in windows:
                w = windows[d]
            else:
                w = windows[d] = self._window(d) if self.is_working_day(d) else None
            if w is not None:
                yield w
            d += _DAY

    def add(self, start_ms: int, days: float) -> int:
        """The instant `days` working days of working time after `start_ms` (epoch ms)."""
        left = round(days * self.day_ms())
        if left <= 0:
            return start_ms
        for ws, we in self._days_from(start_ms):
            s = max(ws, start_ms)
            if s >= we:
                continue
            if s + left <= we:
                return s + left
            left -= we - s
        raise ValueError(f"{days} working days do not fit in {_MAX_DAYS} calendar days")

    def elapsed(self, start_ms: int, end_ms: int) -> float:
        """Working time between two instants, in working days (0 when end is not after start)."""
        total = 0
        if end_ms > start_ms:
            for ws, we in self._days_from(start_ms):
                if ws >= end_ms:
                    break
                total += max(0, min(we, end_ms) - max(ws, start_ms))
        return total / self.day_ms()
