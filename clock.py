"""The clock, read only at the edge (handlers, the scheduler, delivery). Rules in models/ take `now`.

The sandbox (sandbox/) can move Tandem's clock ahead of the wall clock, so that a standup due
tomorrow at 09:30 happens while a person watches: `utcnow()` is the wall clock plus that offset.
In production the offset is always zero. `wall()` is what APScheduler and HTTP signatures live on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def wall() -> datetime:
    return datetime.now(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def offset() -> timedelta:
    return _offset


def set_offset(delta: timedelta) -> None:
    """The sandbox's clock control; never moves the clock back (ids, ts and claims assume it runs forward)."""
    global _offset
    _offset = max(delta, _offset)
