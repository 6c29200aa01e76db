"""A digest's period (an ISO week, a calendar month or quarter: models/digests/period.py) in the
digest's zone, each metric's value per period and its change against the period before, and the
built-in request metrics. Plain data out; templates do all the words."""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from models.digests import builtin
from models.digests import period as periods
from models.digests.tables import Digest, Metric, MetricPoint
from models.requests import KINDS, Request, RequestEvent

CHART_WEEKS = periods.HISTORY["week"]
SHIPPED_ROWS = 15


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
    return values_of(session, metrics=metrics, spans=[periods.week_of(first + timedelta(weeks=i))
                                                      for i in range(weeks)])


def values_of(session: Session, *, metrics: list[Metric], spans: list[periods.Period]) -> dict:
    """metric id → its value in each of `spans` (consecutive periods, oldest first), one query."""
    rows = session.connection().execute(
        sa.select(MetricPoint.metric_id, MetricPoint.day, MetricPoint.value)
        .where(MetricPoint.metric_id.in_([m.id for m in metrics]), MetricPoint.day >= spans[0].start,
               MetricPoint.day < spans[-1].end))
    starts = [span.start for span in spans]
    by_span: dict[tuple, list] = defaultdict(list)
    for metric_id, day, value in rows:
        by_span[(metric_id, bisect.bisect_right(starts, day) - 1)].append((day, value))
    return {m.id: [aggregate(by_span.get((m.id, i), []), m.aggregation) for i in range(len(spans))]
            for m in metrics}


def change(current: float | None, previous: float | None) -> tuple[float | None, float | None]:
    """(delta, per cent) vs the previous period; per cent is None when the previous week was 0 or missing."""
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


# Sections other capabilities add to the digest: name → function(session, digest=, period=, zone=)
# returning plain data or None. The context carries them under "sections" (name → data, only the
# ones with something to say); a template shows each one it knows, e.g. the activities of a period.
SECTIONS: dict[str, object] = {}


def add_section(name: str, function) -> None:
    SECTIONS[name] = function


def period_context(period: periods.Period, zone_name: str, spans: list[periods.Period]) -> dict:
    start, end = period.bounds(ZoneInfo(zone_name))
    return {"kind": period.kind, "label": period.label, "start": period.start.isoformat(),
            "end": period.last_day.isoformat(), "zone": zone_name, "hours": round((end - start).total_seconds() / 3600),
            "labels": [span.label for span in spans],
            "previous": spans[-2].label if len(spans) > 1 else None}


def compute(session: Session, *, digest: Digest, monday: date | None = None, period: periods.Period | None = None,
            backfill: bool = False) -> dict:
    """Everything the digest template reads for `period` (or the ISO week starting `monday`) in the
    digest's zone, each metric compared with the period before it of the same kind."""
    period = period or periods.week_of(monday)
    zone = ZoneInfo(digest.timezone)
    start, end = period.bounds(zone)
    known = {m.name: m for m in session.exec(select(Metric).where(Metric.team_id == digest.team_id,
                                                                 Metric.name.in_(digest.metrics or [])))}
    spans = periods.history(period)
    included = [known[name] for name in digest.metrics or [] if name in known]  # skip metrics deleted since
    values = values_of(session, metrics=included, spans=spans) if included else {}
    metrics = []
    for metric in included:
        threshold = (digest.thresholds or {}).get(metric.name)
        metrics.append(metric_row(metric, values[metric.id], None if threshold is None else float(threshold),
                                  (digest.targets or {}).get(metric.name)))
    described = period_context(period, digest.timezone, spans)
    sections = {}
    for name, function in SECTIONS.items():
        data = function(session, digest=digest, period=period, zone=zone)
        if data is not None:
            sections[name] = data
    return {
        "digest": {"name": digest.name, "channel": digest.channel, "owner": digest.owner,
                   "cadence": getattr(digest, "cadence", None) or "weekly"},
        "period": described,
        # Team templates written for the weekly digest read `week`: the same facts, as they were.
        "week": {k: described[k] for k in ("label", "start", "end", "zone", "hours")} | {"weeks": described["labels"]},
        "backfill": backfill, "metrics": metrics, "sections": sections,
        "requests": request_stats(session, team_id=digest.team_id, start=start, end=end),
        "standups": builtin.standup_stats(session, team_id=digest.team_id, first=period.start, end=period.end),
        "approvals": builtin.approval_stats(session, team_id=digest.team_id, start=start, end=end,
                                            following=period.shifted(1), zone=zone),
    }
