"""The review (复盘): the results computed from the metrics, who may write it, saving it (a second
save edits the first), and the `reviewed` status it moves the request to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from models.activities.goals import catalogue, standing, window_of
from models.activities.running import RUNNING
from models.activities.tables import ActivityReview
from models.db import insert_once
from models.errors import RuleError
from models.requests.lifecycle import Change, get_request, set_status
from models.requests.tables import Request

TEXT_LIMIT = 3000
CURRENCY_UNITS = ("¥", "$", "€", "£", "CNY", "USD", "EUR", "GBP", "JPY", "HKD", "SGD", "元")
REVENUE_NAMES = ("GMV", "REVENUE", "SALES")


@dataclass
class ReviewForm:
    actual_cost: float | None
    worked: str
    not_worked: str
    next_time: str


def reviewable(session: Session, *, team_id: str, number: int, actor: str, zone: ZoneInfo, now: datetime
               ) -> Request:
    """The request if `actor` may review it now: an activity with goals, ended, approved, by its
    requester or its owner."""
    request = get_request(session, team_id=team_id, number=number)
    if request.kind != "activity" or not (request.fields or {}).get("goals"):
        raise RuleError("requests.review_no_goals", ref=request.ref)
    if actor not in (request.requester, request.assignee):
        raise RuleError("requests.not_reviewer", ref=request.ref)
    if request.status not in (*RUNNING, "reviewed"):
        raise RuleError("requests.review_status", ref=request.ref, status=request.status)
    window = window_of(request.fields, zone)
    if window is None or now.astimezone(zone).date() <= window.end:
        raise RuleError("requests.review_not_ended", ref=request.ref,
                        end=window.end.isoformat() if window else "")
    return request


def results(session: Session, request: Request, *, zone: ZoneInfo) -> list[dict]:
    """Per goal, at the end of the window: actual, target, baseline, change, hit."""
    window = window_of(request.fields, zone)
    rows = []
    for goal in request.fields["goals"]:
        s = standing(session, team_id=request.team_id, goal=goal, window=window, through=window.end)
        rows.append({"goal": goal, "value": s.value, "target_value": s.target_value, "baseline": s.baseline,
                     "change_pct": s.change_pct, "hit": s.hit})
    return rows


def roi(session: Session, request: Request, rows: list[dict], cost: float | None) -> dict | None:
    """ROI = (revenue gained − cost) / cost, where the revenue is the first goal on a money metric
    (a currency unit, or GMV/REVENUE/SALES) and the gain is its window value over the baseline (the
    whole value when there is no baseline). None when there is no such goal, no value or no cost."""
    if not cost or cost <= 0:
        return None
    units = catalogue(session, team_id=request.team_id)
    for row in rows:
        metric = row["goal"]["metric"]
        unit = units.get(metric, ("", ""))[1]
        if (unit in CURRENCY_UNITS or metric in REVENUE_NAMES) and row["value"] is not None:
            gain = row["value"] - (row["baseline"] or 0)
            return {"metric": metric, "gain": gain, "cost": cost, "pct": (gain - cost) / cost * 100}
    return None


def budget_of(request: Request) -> float | None:
    try:
        return float(request.fields["budget_amount"])
    except (KeyError, TypeError, ValueError):
        return None


def save_review(session: Session, request: Request, *, actor: str, form: ReviewForm, rows: list[dict],
                now: datetime) -> tuple[ActivityReview, Change | None]:
    """Store the review. The first save moves the request to `reviewed` (audit event: the Change);
    a later one edits the review and returns no Change."""
    for name in ("worked", "not_worked", "next_time"):
        if len(getattr(form, name)) > TEXT_LIMIT:
            raise RuleError("form.too_long", limit=TEXT_LIMIT, length=len(getattr(form, name)))
    measured = [r["hit"] for r in rows if r["hit"] is not None]
    hit = all(measured) if measured else None
    found = roi(session, request, rows, form.actual_cost)
    values = dict(author=actor, actual_cost=form.actual_cost, worked=form.worked, not_worked=form.not_worked,
                  next_time=form.next_time, results=_plain(rows), roi_pct=found["pct"] if found else None, hit=hit,
                  updated_at=now)
    review = ActivityReview(request_id=request.id, team_id=request.team_id, created_at=now, **values)
    if insert_once(session, review):
        change = set_status(session, request, actor=actor, action="reviewed", to_status="reviewed", now=now)
        return review, change
    review = session.get(ActivityReview, request.id)
    for name, value in values.items():
        setattr(review, name, value)
    review.version += 1
    session.add(review)
    session.flush()
    return review, None


def _plain(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items()} for row in rows]
