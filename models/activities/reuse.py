"""Activity templates: a reviewed activity kept for the next one, and how each template has done."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from models.activities.tables import ActivityReview, ActivityTemplate
from models.db import insert_once
from models.errors import RuleError
from models.requests.tables import Request

KEPT_FIELDS = ("details", "expected_effect", "support", "budget_amount", "budget_currency")
LISTED = 50


def relative(goal: dict, baseline: float | None) -> dict:
    """A goal as a target relative to its baseline where it can be (the next activity has its own
    baseline): "DAU ≥ 12,000" against 10,000 becomes "DAU +20 %". Without a baseline it stays."""
    if goal["kind"] == "change" or not baseline or baseline <= 0:
        return dict(goal)
    pct = round((goal["target"] / baseline - 1) * 100, 1)
    return {"metric": goal["metric"], "kind": "change", "op": ">=" if pct >= 0 else "<=", "target": pct}


def save_template(session: Session, *, request: Request, actor: str, now: datetime) -> ActivityTemplate:
    """Keep a reviewed activity as a template (once per activity: RuleError when it is kept already)."""
    review = session.get(ActivityReview, request.id)
    if review is None or request.status != "reviewed":
        raise RuleError("requests.template_needs_review", ref=request.ref)
    if actor not in (request.requester, request.assignee):
        raise RuleError("requests.not_reviewer", ref=request.ref)
    goals = [relative(row["goal"], row.get("baseline")) for row in review.results]
    template = ActivityTemplate(team_id=request.team_id, name=request.title, created_by=actor, created_at=now,
                                fields={k: v for k, v in request.fields.items() if k in KEPT_FIELDS},
                                goals=goals, source_request_id=request.id)
    if not insert_once(session, template):
        raise RuleError("requests.template_exists", ref=request.ref)
    return template


def list_templates(session: Session, *, team_id: str) -> list[dict]:
    """Each template with how often it was used and its hit rate (reviewed uses whose goals were all hit)."""
    rows = session.exec(select(ActivityTemplate).where(ActivityTemplate.team_id == team_id)
                        .order_by(ActivityTemplate.id)).all()[:LISTED]
    outcomes: dict[int, list[bool]] = {}
    reviewed = session.exec(select(Request.fields, ActivityReview.hit).join(
        ActivityReview, ActivityReview.request_id == Request.id).where(Request.team_id == team_id)).all()
    for fields, hit in reviewed:
        used = (fields or {}).get("template_id")
        if used is not None and hit is not None:
            outcomes.setdefault(int(used), []).append(bool(hit))
    listed = []
    for t in rows:
        results = outcomes.get(t.id, [])
        source = session.get(Request, t.source_request_id)
        listed.append({"id": t.id, "name": t.name, "uses": t.uses, "reviewed": len(results),
                       "hit_pct": round(sum(results) / len(results) * 100) if results else None,
                       "source": source.ref if source else None, "goals": t.goals})
    return listed


def get_template(session: Session, *, team_id: str, template_id: int) -> ActivityTemplate:
    template = session.get(ActivityTemplate, template_id)
    if template is None or template.team_id != team_id:
        raise RuleError("requests.unknown_template")
    return template


def used(session: Session, *, team_id: str, template_id: int) -> None:
    """A request was filed from the template."""
    get_template(session, team_id=team_id, template_id=template_id)
    session.execute(sa.update(ActivityTemplate).where(ActivityTemplate.id == template_id)
                    .values(uses=ActivityTemplate.uses + 1))  # one UPDATE: concurrent uses all count
