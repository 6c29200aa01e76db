"""A digest's week: ISO weeks in the digest's zone, each metric's weekly value and change,
and the built-in request metrics. Plain data out; templates do all the words."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from models.digests import builtin
from models.digests.tables import Digest, Metric, MetricPoint
from models.errors import RuleError
from models.requests import KINDS, Request, RequestEvent

WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
CHART_WEEKS = 8
SHIPPED_ROWS = 15


def parse_week(text: str) -> date:
    """`2026-W46` → the Monday that starts it."""
    match = WEEK.match(text.strip())
    try:
        if not match:
            raise ValueError
        return date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise RuleError("digests.bad_week", given=text[:20]) from None


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def bounds(monday: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) in `zone`, as UTC: 167 or 169 hours in a DST week."""
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def last_complete_week(now: datetime, zone: ZoneInfo) -> date:
    today = now.astimezone(zone).date()
    return today - timedelta(days=today.weekday() + 7)


def aggregate(values: list[tuple[date, float]], how: str) -> float | None:
    if not values:
        return None
    if how == "sum":
        return sum(v for _, v in values)
    if how == "average":
        return sum(v for _, v in values) / len(values)
    return max(values)[1]  # last: the latest day's value


def weekly_values(session: Session, *, metric: Metric, first: date, weeks: int) -> list[float | None]:
    """The metric's value for `weeks` ISO weeks from the one starting `first` (days are calendar days)."""
    return weekly_values_of(session, metrics=[metric], first=first, weeks=weeks)[metric.id]


def weekly_values_of(session: Session, *, metrics: list[Metric], first: date, weeks: int) -> dict:
    """metric id → its weekly values, for several metrics in one query (Core: no ORM objects)."""
    rows = session.connection().execute(
        sa.select(MetricPoint.metric_id, MetricPoint.day, MetricPoint.value)
        .where(MetricPoint.metric_id.in_([m.id for m in metrics]), MetricPoint.day >= first,
               MetricPoint.day < first + timedelta(weeks=weeks)))
    by_week: dict[tuple, list] = defaultdict(list)
    for metric_id, day, value in rows:
        by_week[(metric_id, (day - first).days // 7)].append((day, value))
    return {m.id: [aggregate(by_week.get((m.id, i), []), m.aggregation) for i in range(weeks)] for m in metrics}


def change(current: float | None, previous: float | None) -> tuple[float | None, float | None]:
    """(delta, per cent) vs the previous week; per cent is None when the previous week was 0 or missing."""
    if current is None or previous is None:
        return None, None
    delta = current - previous
    return delta, (delta / abs(previous) * 100 if previous else None)


def metric_row(metric: Metric, values: list[float | None], threshold: float | None,
               target: float | None = None) -> dict:
    current, previous = values[-1], values[-2] if len(values) > 1 else None
    delta, pct = change(current, previous)
    target = metric.target if target is None else target
    off_target = current is not None and target is not None and (
        current < target if metric.direction == "higher" else current > target)
    past_threshold = pct is not None and threshold is not None and abs(pct) > threshold
    good = None if not delta else (delta > 0) == (metric.direction == "higher")
    return {"name": metric.name, "label": metric.label, "unit": metric.unit, "value": current,
            "previous": previous, "delta": delta, "pct": None if pct is None else round(pct, 1),
            "arrow": "▲" if delta and delta > 0 else "▼" if delta and delta < 0 else "",
            "good": good, "target": target, "direction": metric.direction, "threshold": threshold,
            "off_target": off_target, "past_threshold": past_threshold, "history": values}


def _median(hours: list[float]) -> float | None:
    return round(statistics.median(hours), 1) if hours else None


def _hours(session: Session, begin, end):
    """Hours from `begin` to `end`, computed by the database (no datetimes to parse in Python)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.extract("epoch", end - begin) / 3600
    return (sa.func.julianday(end) - sa.func.julianday(begin)) * 24


def request_stats(session: Session, *, team_id: str, start: datetime, end: datetime) -> dict:
    """Requests opened, accepted, done, declined (by kind) and median hours to triage and to done."""
    counts = {what: dict.fromkeys(KINDS, 0) for what in ("opened", "accepted", "done", "declined")}
    run = session.connection().execute
    opened = run(
        select(Request.kind, sa.func.count()).where(Request.team_id == team_id, Request.created_at >= start,
                                                    Request.created_at < end).group_by(Request.kind))
    for kind, n in opened:
        counts["opened"][kind] = n
    moves = run(
        select(Request.kind, RequestEvent.action, sa.func.count())
        .join(Request, Request.id == RequestEvent.request_id)
        .where(RequestEvent.team_id == team_id, RequestEvent.created_at >= start, RequestEvent.created_at < end,
               RequestEvent.action.in_(("accept", "decline", "done")))
        .group_by(Request.kind, RequestEvent.action))
    names = {"accept": "accepted", "decline": "declined", "done": "done"}
    for kind, action, n in moves:
        counts[names[action]][kind] = n
    hours_to_triage, hours_to_done = _hours(session, Request.created_at, Request.triaged_at), \
        _hours(session, Request.created_at, Request.done_at)
    triaged = run(select(hours_to_triage).where(Request.team_id == team_id, Request.triaged_at >= start,
                                                Request.triaged_at < end)).scalars().all()
    is_shipped = (Request.team_id == team_id, Request.status == "done", Request.done_at >= start, Request.done_at < end)
    to_done = run(select(hours_to_done).where(*is_shipped)).scalars().all()
    shipped = run(select(Request.number, Request.title, Request.kind).where(*is_shipped)
                  .order_by(Request.done_at).limit(SHIPPED_ROWS)).all()
    return {
        "counts": counts, "totals": {what: sum(by_kind.values()) for what, by_kind in counts.items()},
        "median_triage_hours": _median(triaged), "median_done_hours": _median(to_done),
        "shipped": [{"ref": f"REQ-{n}", "title": t, "kind": k} for n, t, k in shipped],
        "shipped_more": max(0, len(to_done) - SHIPPED_ROWS),
    }


def compute(session: Session, *, digest: Digest, monday: date, backfill: bool = False) -> dict:
    """Everything the digest template reads for the ISO week starting `monday` in the digest's zone."""
    zone = ZoneInfo(digest.timezone)
    start, end = bounds(monday, zone)
    known = {m.name: m for m in session.exec(select(Metric).where(Metric.team_id == digest.team_id,
                                                                 Metric.name.in_(digest.metrics or [])))}
    first = monday - timedelta(weeks=CHART_WEEKS - 1)
    included = [known[name] for name in digest.metrics or [] if name in known]  # skip metrics deleted since
    values = weekly_values_of(session, metrics=included, first=first, weeks=CHART_WEEKS) if included else {}
    metrics = []
    for metric in included:
        threshold = (digest.thresholds or {}).get(metric.name)
        metrics.append(metric_row(metric, values[metric.id], None if threshold is None else float(threshold),
                                  (digest.targets or {}).get(metric.name)))
    return {
        "digest": {"name": digest.name, "channel": digest.channel, "owner": digest.owner},
        "week": {"label": week_label(monday), "start": monday.isoformat(),
                 "end": (monday + timedelta(days=6)).isoformat(), "zone": digest.timezone,
                 "hours": round((end - start).total_seconds() / 3600),
                 "weeks": [week_label(first + timedelta(weeks=i)) for i in range(CHART_WEEKS)]},
        "backfill": backfill, "metrics": metrics,
        "requests": request_stats(session, team_id=digest.team_id, start=start, end=end),
        "standups": builtin.standup_stats(session, team_id=digest.team_id, monday=monday),
        "approvals": builtin.approval_stats(session, team_id=digest.team_id, start=start, end=end, monday=monday,
                                            zone=zone),
        "activities": builtin.activity_stats(session, team_id=digest.team_id, first=monday,
                                             last=monday + timedelta(days=6)),
    }
