"""Business time: Monday to Friday, counted in the workspace's zone (IANA, DST-aware)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def is_business_day(day: date) -> bool:
    return day.weekday() < 5


def add_business_hours(start: datetime, hours: float, zone: ZoneInfo) -> datetime:
    """`start` plus `hours` counted only on business days (whole days, in `zone`)."""
    moment, remaining = start.astimezone(zone), timedelta(hours=hours)
    while remaining > timedelta(0) or not is_business_day(moment):  # a deadline never falls on a weekend
        if not is_business_day(moment):  # weekend: jump to Monday 00:00
            moment = (moment + timedelta(days=7 - moment.weekday())).replace(hour=0, minute=0, second=0,
                                                                           microsecond=0)
            continue
        midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        step = min(remaining, midnight - moment)
        moment, remaining = moment + step, remaining - step
    return moment.astimezone(start.tzinfo)


def business_days_before(now: datetime, zone: ZoneInfo, days: int) -> datetime:
    """The moment `days` business days before `now`.

    Steps back one local calendar day at a time, counting only business days, keeping the local
    time of day: from Monday 10:00 one business day back is Friday 10:00.
    """
    moment, remaining = now.astimezone(zone), days
    while remaining > 0:
        moment -= timedelta(days=1)  # wall-clock arithmetic in the zone: 10:00 stays 10:00 across DST
        remaining -= is_business_day(moment)
    return moment.astimezone(UTC)
