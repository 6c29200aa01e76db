"""The digest's activities section: running now (with pace), ended in the period (hit or missed,
ROI), reviews still due. Read from what filing, the daily look and the reviews stored (a few
indexed queries whatever the number of activities), never recomputed from the metric points."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from models.activities.running import RUNNING
from models.activities.tables import ActivityProgress, ActivityReview, ActivityWindow
from models.digests.week import add_section
from models.requests.tables import Request

ROWS = 10  # per list; the rest are counted


def activity_stats(session: Session, *, team_id: str, first: date, last: date, settle_days: int = 2) -> dict | None:
    """The activities of the period `first`–`last`; None when there are none. An activity's days are
    the workspace's local days (ActivityWindow), whatever the digest's zone."""
    run = session.connection().execute
    w = ActivityWindow
    columns = (Request.id, Request.number, Request.title, w.last_day)
    near = run(sa.select(*columns, w.first_day).join(Request, Request.id == w.request_id).where(
        w.team_id == team_id, w.last_day >= first, w.first_day <= last,
        Request.status.in_((*RUNNING, "reviewed"))).order_by(Request.number)).all()
    running = [_item(r) for r in near if r.first_day <= last < r.last_day]
    ended = [_item(r) for r in near if first <= r.last_day <= last]
    waiting = (w.team_id == team_id, w.last_day <= last - timedelta(days=settle_days), Request.status.in_(RUNNING))
    due_count = run(sa.select(sa.func.count()).select_from(w).join(Request, Request.id == w.request_id)
                    .where(*waiting)).scalar_one()
    due = [_item(r) for r in run(sa.select(*columns).join(Request, Request.id == w.request_id).where(*waiting)
                                 .order_by(Request.number).limit(ROWS))] if due_count else []
    if not (running or ended or due_count):
        return None
    ids = [i["id"] for i in running + ended] or [-1]
    p = ActivityProgress.__table__.alias("p")
    q = ActivityProgress.__table__.alias("q")
    latest = sa.select(sa.func.max(q.c.day)).where(q.c.request_id == p.c.request_id, q.c.day <= last) \
        .scalar_subquery()
    # Per activity, on its latest day looked at: the slowest goal's pace, and whether every goal hit.
    progress = {request_id: (pace, hits == goals) for request_id, pace, hits, goals in run(
        sa.select(p.c.request_id, sa.func.min(p.c.pace_pct), sa.func.sum(sa.case((p.c.hit, 1), else_=0)),
                  sa.func.count()).where(p.c.request_id.in_(ids), p.c.day == latest).group_by(p.c.request_id))}
    reviews = {r.request_id: r for r in run(sa.select(ActivityReview.request_id, ActivityReview.hit,
                                                      ActivityReview.roi_pct).where(
        ActivityReview.request_id.in_([i["id"] for i in ended] or [-1])))}
    for item in running:
        pace = progress.get(item["id"], (None, None))[0]
        item["pace_pct"] = round(pace) if pace is not None else None  # the slowest goal sets the pace
    for item in ended:
        review = reviews.get(item["id"])
        item["hit"] = review.hit if review is not None and review.hit is not None else \
            progress.get(item["id"], (None, None))[1]
        item["roi_pct"] = round(review.roi_pct, 1) if review is not None and review.roi_pct is not None else None
        item["reviewed"] = review is not None
    for items in (running, ended, due):
        for item in items:
            item.pop("id", None)
    return {"running": running[:ROWS], "running_count": len(running), "ended": ended[:ROWS],
            "ended_count": len(ended), "hit": sum(1 for i in ended if i["hit"]),
            "missed": sum(1 for i in ended if i["hit"] is False), "due": due, "due_count": due_count}


def _item(row) -> dict:
    return {"id": row.id, "ref": f"REQ-{row.number}", "title": row.title, "end": row.last_day.isoformat()}


def section(session: Session, *, digest, period, zone) -> dict | None:
    """The digest's seam (models/digests/week.py SECTIONS): the activities of the digest's period
    (a week, a month or a quarter); templates/blocks/digests/sections/activities.yaml.j2 shows it."""
    return activity_stats(session, team_id=digest.team_id, first=period.start, last=period.last_day)


add_section("activities", section)
