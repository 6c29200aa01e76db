"""A digest's period: an ISO week, a calendar month or a calendar quarter, counted in the digest's
zone. Plain date maths; no clock (callers pass `now`).

A period is named the way people write it: `2026-W46`, `2026-11`, `2026-Q4`. Each cadence reports
the last complete period of its kind, compared with the one before it (period over period).

When a monthly or quarterly digest goes out: on the first business day (Monday to Friday, as in
models/business_time.py) after the period ended, at the digest's time: a month ending on a Friday
is reported on the Monday, not over the weekend. Weekly digests keep their weekday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.business_time import is_business_day
from models.errors import RuleError

CADENCES = ("weekly", "monthly", "quarterly")
KIND_OF = {"weekly": "week", "monthly": "month", "quarterly": "quarter"}
# How many periods the chart and each metric's history hold, per kind: two months of weeks, half
# a year of months, a year of quarters (then 4 is the same quarter last year).
HISTORY = {"week": 8, "month": 6, "quarter": 5}

WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    kind: str  # week, month, quarter
    start: date  # its first day
    end: date  # the day after its last

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, number, _ = self.start.isocalendar()
            return f"{year}-W{number:02d}"
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def shifted(self, count: int) -> Period:
        """The period `count` periods later (earlier when negative), of the same kind."""
        if self.kind == "week":
            return week_of(self.start + timedelta(weeks=count))
        months = {"month": 1, "quarter": 3}[self.kind] * count
        index = self.start.year * 12 + self.start.month - 1 + months
        return containing(self.kind, date(index // 12, index % 12 + 1, 1))

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[first day 00:00, the day after the last 00:00) in `zone`, as UTC (DST changes included)."""
        start = datetime.combine(self.start, time(0), tzinfo=zone)
        end = datetime.combine(self.end, time(0), tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period("week", monday, monday + timedelta(days=7))


def containing(kind: str, day: date) -> Period:
    """The period of `kind` that holds `day`."""
    if kind == "week":
        return week_of(day)
    if kind == "month":
        return Period("month", date(day.year, day.month, 1), _month_start(day.year, day.month + 1))
    first = (day.month - 1) // 3 * 3 + 1
    return Period("quarter", date(day.year, first, 1), _month_start(day.year, first + 3))


def parse(text: str) -> Period:
    """`2026-W46`, `2026-11` or `2026-Q4`; RuleError digests.bad_period otherwise."""
    given = (text or "").strip()
    try:
        if match := WEEK.match(given):
            return week_of(date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1))
        if match := MONTH.match(given):
            return containing("month", date(int(match.group(1)), int(match.group(2)), 1))
        if match := QUARTER.match(given):
            return containing("quarter", date(int(match.group(1)), (int(match.group(2)) - 1) * 3 + 1, 1))
    except ValueError:  # week 54, month 13, year 0
        pass
    raise RuleError("digests.bad_period", given=given[:20])


def kind_of(cadence: str) -> str:
    return KIND_OF.get(cadence, "week")


def last_complete(cadence: str, now: datetime, zone: ZoneInfo) -> Period:
    """The last period of the cadence's kind that has ended by `now` in `zone`."""
    today = now.astimezone(zone).date()
    return containing(kind_of(cadence), today).shifted(-1)


def first_business_day(day: date) -> date:
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def is_send_day(cadence: str, day: date) -> bool:
    """Whether a monthly or quarterly digest goes out on local date `day`: the first business day of
    a new month (of a new quarter). The scheduler wakes on days 1–3; this picks the one."""
    kind = kind_of(cadence)
    return kind != "week" and day == first_business_day(containing(kind, day).start)


def history(period: Period) -> list[Period]:
    """The periods a digest's chart and deltas read, oldest first, ending with `period`."""
    count = HISTORY[period.kind]
    return [period.shifted(offset) for offset in range(1 - count, 1)]
