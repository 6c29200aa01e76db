"""/approval show REQ-42 (timeline), /approval pending, /approval export (CSV), and App Home."""

from __future__ import annotations

import templates
from clock import utcnow
from handlers import exports
from handlers.approvals import running
from handlers.common import Services
from handlers.requests.handover import as_template
from models.approvals import queries
from models.db import session_scope
from models.errors import RuleError
from models.requests.lifecycle import get_request
from models.requests.queries import parse_ref

TIMELINE_ROWS = 40
PENDING_ROWS = 20
HOME_ROWS = 5
CSV_COLUMNS = ("request", "round", "stage", "stage_name", "approver", "actor", "on_behalf_of", "decision", "reason",
               "decided_at")


def show(services: Services, *, command: dict, words: list[str]) -> dict:
    team_id, user_id = command["team_id"], command["user_id"]
    if not words:
        raise RuleError("requests.bad_ref", given="")
    number = parse_ref(words[0])
    language = services.language_of(team_id, user_id)
    with session_scope(services.engine) as session:
        request = get_request(session, team_id=team_id, number=number)
        events = queries.timeline(session, request_id=request.id)
        rows = [{"at": int(e.created_at.timestamp()), "actor": e.actor, "on_behalf_of": e.on_behalf_of,
                 "action": e.action, "stage": e.stage_name, "reason": e.reason} for e in events]
        return templates.render("approvals/show.yaml.j2", language=language, r=as_template(request),
                                rows=rows[-TIMELINE_ROWS:], hidden=max(0, len(rows) - TIMELINE_ROWS))


def waiting(services: Services, *, team_id: str, user_id: str) -> list[dict]:
    now = utcnow()
    with session_scope(services.engine) as session:
        today = now.astimezone(running.zone(services, session, team_id)).date()
        found = queries.pending_for(session, team_id=team_id, user_id=user_id, now=now, today=today)
        return [{"r": as_template(item["request"]), "stage": item["stage"]["name"],
                 "due_at": int(item["run"].stage_due_at.timestamp()),
                 "behalf": [seat for seat in item["seats"] if seat != user_id]} for item in found]


def pending(services: Services, *, command: dict, words: list[str]) -> dict:
    team_id, user_id = command["team_id"], command["user_id"]
    items = waiting(services, team_id=team_id, user_id=user_id)
    return templates.render("approvals/pending.yaml.j2", language=services.language_of(team_id, user_id),
                            items=items[:PENDING_ROWS], total=len(items))


def home_context(services: Services, team_id: str, user_id: str) -> dict:
    items = waiting(services, team_id=team_id, user_id=user_id)
    return {"approvals_home": {"count": len(items), "items": items[:HOME_ROWS]}}


def export(services: Services, *, command: dict, words: list[str]) -> dict:
    """Upload a CSV of every decision to the user's DM; the answer goes to response_url."""
    team_id, user_id = command["team_id"], command["user_id"]
    language = services.language_of(team_id, user_id)
    data, count = exports.build_csv(
        services, columns=CSV_COLUMNS, cells=_csv_cells, after=lambda row: row[0].id,
        read=lambda session, after: queries.export_rows(session, team_id=team_id, after=after, size=exports.CHUNK))
    if count:
        words_ = templates.messages("approvals/export_file.yaml.j2", language=language, count=count)
        exports.send_to_dm(services, user_id, data, name="tandem-approvals", title=words_["title"],
                           comment=words_["comment"])
    return templates.render("approvals/notice.yaml.j2", language=language, kind="exported", count=count)


def _csv_cells(row) -> tuple:
    decision, number, round_ = row
    return (f"REQ-{number}", round_, decision.stage + 1, decision.stage_name, decision.approver, decision.actor,
            decision.on_behalf_of or "", decision.decision, decision.reason or "",
            decision.created_at.isoformat(timespec="seconds"))
