"""The digest's activities section: running now (with pace), ended in the period (hit or missed,
ROI), reviews still due. Read from what the daily look and the reviews stored (a few queries
whatever the number of activities), never recomputed from the metric points."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from models.activities.goals import window_of
from models.activities.running import RUNNING
from models.activities.tables import ActivityProgress, ActivityReview
from models.requests.tables import Request

ROWS = 10  # per list; the rest are counted


def activity_stats(session: Session, *, team_id: str, first: date, last: date, zone: ZoneInfo,
                   settle_days: int = 2) -> dict | None:
    """The activities of the period `first`–`last` (local dates in `zone`); None when there are none."""
    run = session.connection().execute
    rows = run(sa.select(Request.id, Request.number, Request.title, Request.status, Request.fields).where(
        Request.team_id == team_id, Request.kind == "activity", Request.status.in_((*RUNNING, "reviewed")))
        .order_by(Request.number)).all()
    running, ended, due = [], [], []
    for row in rows:
        goals = (row.fields or {}).get("goals")
        window = window_of(row.fields or {}, zone) if goals else None
        if window is None:
            continue
        item = {"id": row.id, "ref": f"REQ-{row.number}", "title": row.title, "end": window.end.isoformat(),
                "goals": len(goals)}
        if window.start <= last < window.end:
            running.append(item)
        elif first <= window.end <= last:
            ended.append(item)
        if row.status != "reviewed" and window.end + timedelta(days=settle_days) <= last:
            due.append(item)
    if not (running or ended or due):
        return None
    ids = [i["id"] for i in running + ended] or [-1]
    p = ActivityProgress.__table__.alias("p")
    q = ActivityProgress.__table__.alias("q")
    latest = sa.select(sa.func.max(q.c.day)).where(q.c.request_id == p.c.request_id, q.c.day <= last) \
        .scalar_subquery()
    progress: dict[int, list] = {}
    for request_id, pace, hit in run(sa.select(p.c.request_id, p.c.pace_pct, p.c.hit).where(
            p.c.request_id.in_(ids), p.c.day == latest).order_by(p.c.request_id, p.c.goal)):
        progress.setdefault(request_id, []).append((pace, hit))
    reviews = {r.request_id: r for r in run(sa.select(ActivityReview.request_id, ActivityReview.hit,
                                                      ActivityReview.roi_pct).where(
        ActivityReview.request_id.in_([i["id"] for i in ended] or [-1])))}
    for item in running:
        paces = [pace for pace, _hit in progress.get(item["id"], []) if pace is not None]
        item["pace_pct"] = round(min(paces)) if paces else None  # the slowest goal sets the pace
    for item in ended:
        review = reviews.get(item["id"])
        hits = [hit for _pace, hit in progress.get(item["id"], []) if hit is not None]
        item["hit"] = review.hit if review is not None and review.hit is not None else (all(hits) if hits else None)
        item["roi_pct"] = round(review.roi_pct, 1) if review is not None and review.roi_pct is not None else None
        item["reviewed"] = review is not None
    for items in (running, ended, due):
        for item in items:
            item.pop("id", None)
    return {"running": running[:ROWS], "running_count": len(running), "ended": ended[:ROWS],
            "ended_count": len(ended), "hit": sum(1 for i in ended if i["hit"]),
            "missed": sum(1 for i in ended if i["hit"] is False), "due": due[:ROWS], "due_count": len(due)}
