"""Fixtures for approval tests: a workspace with a triage channel and a configured chain, filing
an activity request through the real modal, and finding an approver's card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from clock import utcnow
from localslack.payloads import action, state_value
from models.approvals import ApprovalConfig, ApprovalDecision, ApprovalEvent, ApprovalRun
from models.approvals.chain import check_chain
from models.db import session_scope
from models.requests import Request
from tests.conftest import wait_until
from tests.outbox import drained
from tests.requests.conftest import OPS, Workspace
from tests.requests.conftest import workspace as requests_workspace  # noqa: F401  (a fixture)

LEAD1, LEAD2, BACKUP = "U0LEAD1", "U0LEAD2", "U0BACKUP"
PROD1, PROD2 = "U0PROD1", "U0PROD2"
TECH1, TECH2, TECH3 = "U0TECH1", "U0TECH2", "U0TECH3"
FIN1, FINANCE_GROUP = "U0FIN1", "S0FINANCE"
DEPUTY = "U0DEPUTY"
CHAIN = [
    {"name": "Ops lead", "approvers": [LEAD1, LEAD2], "mode": "any", "backup": BACKUP, "due_hours": 24},
    {"name": "Product", "approvers": [PROD1, PROD2], "mode": "all"},
    {"name": "Tech", "approvers": [TECH1, TECH2, TECH3], "mode": 2, "when": {"field": "support", "includes": "engineering"}},
    {"name": "Finance", "usergroup": FINANCE_GROUP, "when": {"field": "budget", "at_least": 10000}},
]


@pytest.fixture
def workspace(requests_workspace, slack, tandem) -> Workspace:  # noqa: F811
    """The request workspace plus approvers in Slack and the four-stage chain above."""
    for user in (LEAD1, LEAD2, BACKUP, PROD1, PROD2, TECH1, TECH2, TECH3, FIN1, DEPUTY):
        slack.add_user(user, name=user.lower(), locale="en-US")
    slack.add_usergroup(FINANCE_GROUP, "finance", [FIN1])
    set_chain(tandem, requests_workspace.team_id, CHAIN)
    return requests_workspace


def set_chain(tandem, team_id: str, chain: list[dict]) -> None:
    with session_scope(tandem.engine) as session:
        row = session.get(ApprovalConfig, team_id) or ApprovalConfig(team_id=team_id, updated_at=utcnow())
        row.stages = check_chain(chain)
        session.add(row)


START = int((datetime.now(UTC) + timedelta(days=5)).timestamp())  # one start for a whole run: edits keep it


def activity_values(*, title="Singles Day sale", support=("design",), budget=None, effect="GMV +20%",
                    start: int = START) -> dict:
    values = {
        "kind": {"request_kind": state_value("static_select", "activity")},
        "title": {"value": state_value("plain_text_input", title)},
        "starts_at": {"value": state_value("datetimepicker", start)},
        "ends_at": {"value": state_value("datetimepicker", start + 86400)},
        "details": {"value": state_value("plain_text_input", "20% off everything")},
        "support": {"value": state_value("multi_static_select", list(support))},
        "expected_effect": {"value": state_value("plain_text_input", effect)},
        "priority": {"value": state_value("static_select", "P1")},
    }
    if budget is not None:
        values["budget_amount"] = {"value": state_value("plain_text_input", str(budget))}
        values["budget_currency"] = {"value": state_value("static_select", "CNY")}
    return values


def modal_of(slack, user):
    return ((slack.views.get(user) or {}).get("modals") or [None])[-1]


def file_activity(sender, slack, tandem, requester=OPS, **values) -> Request:
    """/request, fill the activity form, submit it: as a requester does."""
    before = len((slack.views.get(requester) or {}).get("modals") or [])
    sender.command("/request", "", user_id=requester)
    view = wait_until(lambda: len((slack.views.get(requester) or {}).get("modals") or []) > before
                      and modal_of(slack, requester), message="the request form")
    response = sender.view_submission(requester, view, activity_values(**values))
    assert response.status == 200 and response.text in ("", "{}"), response.text
    slack.apply_view_response(view["id"], response.json())  # the modal closes, as Slack closes it
    with session_scope(tandem.engine) as session:
        return session.exec(select(Request).order_by(Request.id.desc())).first()


def cards(slack, user) -> list[dict]:
    """Approval cards in a user's DM, oldest first."""
    return [m for m in slack.messages(user) if "approval_card" in str(m["blocks"]) or
            m["text"].startswith("Approval needed")]


def card_for(slack, user, ref: str, stage: str) -> dict:
    return drained(lambda: next((m for m in cards(slack, user) if f"{ref} " in m["text"] and m["text"].endswith(
        f"· {stage}")), None), f"{user}'s card for {ref} {stage}")


def buttons(card: dict) -> set[str]:
    return {e.get("action_id") for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]}


def click(sender, slack, user, ref, stage, action_id="approval_approve"):
    return sender.action(user, [action(action_id)], message=card_for(slack, user, ref, stage))


def run_of(tandem, request) -> ApprovalRun:
    with session_scope(tandem.engine) as session:
        return session.exec(select(ApprovalRun).where(ApprovalRun.request_id == request.id)
                            .order_by(ApprovalRun.round.desc())).first()


def stored(tandem, request) -> Request:
    with session_scope(tandem.engine) as session:
        return session.get(Request, request.id)


def decisions(tandem, request) -> list[tuple]:
    with session_scope(tandem.engine) as session:
        rows = session.exec(select(ApprovalDecision).where(ApprovalDecision.request_id == request.id)
                            .order_by(ApprovalDecision.id))
        return [(d.stage_name, d.approver, d.actor, d.on_behalf_of, d.decision, d.reason) for d in rows]


def events(tandem, request) -> list[str]:
    with session_scope(tandem.engine) as session:
        return list(session.exec(select(ApprovalEvent.action).where(ApprovalEvent.request_id == request.id)
                                 .order_by(ApprovalEvent.id)))


def ephemerals(slack, user, count=1) -> list[dict]:
    return drained(lambda: len(found := [e for e in slack.ephemerals if e["user"] == user]) >= count and found,
                   f"an ephemeral message for {user}")
