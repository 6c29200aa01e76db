"""The clock, read only at the edge (handlers, the scheduler, delivery). Rules in models/ take `now`."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
