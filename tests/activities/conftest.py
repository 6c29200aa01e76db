"""Fixtures for activity tests: the approvals workspace (chain Ops lead → Product), metrics with
values, and an activity form with goal lines. Dates are whole UTC days (the workspace's zone is
UTC), the start five days ahead of the real clock; later days are driven by passing `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from clock import utcnow
from localslack.payloads import state_value
from models.db import session_scope
from models.digests import metrics
from models.digests.tables import Metric
from models.requests import Request
from tests.approvals.conftest import modal_of
from tests.approvals.conftest import workspace as approvals_workspace  # noqa: F401  (a fixture)
from tests.conftest import wait_until
from tests.requests.conftest import OPS, Workspace
from tests.requests.conftest import workspace as requests_workspace  # noqa: F401  (a fixture)

START = datetime.combine(utcnow().date() + timedelta(days=5), datetime.min.time(), UTC)
DAYS = 10
END = START + timedelta(days=DAYS - 1, hours=23)  # the window: START's date … its 10th day


@pytest.fixture
def workspace(approvals_workspace) -> Workspace:  # noqa: F811
    return approvals_workspace


def day(n: int):
    """The n-th day of the window (1 = the start day); 0 and below are the days before."""
    return START.date() + timedelta(days=n - 1)


def define(tandem, team_id: str, name: str) -> None:
    with session_scope(tandem.engine) as session:
        metrics.define_metric(session, team_id=team_id, actor=OPS, definition=metrics.parse_definition([name]),
                              now=utcnow())


def record(tandem, team_id: str, name: str, values: dict) -> None:
    """values: window day number → value (see `day`)."""
    with session_scope(tandem.engine) as session:
        metric = session.exec(select(Metric).where(Metric.team_id == team_id, Metric.name == name)).one()
        for n, value in values.items():
            metrics.record_point(session, metric=metric, day=day(n), value=value, actor=OPS, source="command",
                                 now=utcnow())


def goal_state(lines: list[tuple[str, str]], *, start: datetime = START, end: datetime = END, title="Member day"
               ) -> dict:
    values = {
        "kind": {"request_kind": state_value("static_select", "activity")},
        "title": {"value": state_value("plain_text_input", title)},
        "starts_at": {"value": state_value("datetimepicker", int(start.timestamp()))},
        "ends_at": {"value": state_value("datetimepicker", int(end.timestamp()))},
        "details": {"value": state_value("plain_text_input", "Double points for members")},
        "support": {"value": state_value("multi_static_select", ["design"])},
        "expected_effect": {"value": state_value("plain_text_input", "More orders")},
        "priority": {"value": state_value("static_select", "P1")},
        "budget_amount": {"value": state_value("plain_text_input", "5000")},
        "budget_currency": {"value": state_value("static_select", "CNY")},
    }
    for line, (metric, target) in enumerate(lines, start=1):
        values[f"goal{line}_metric"] = {"activity_goal_metric": state_value("static_select", metric)}
        values[f"goal{line}_target"] = {"value": state_value("plain_text_input", target)}
    return values


def open_form(sender, slack, user=OPS) -> dict:
    before = len((slack.views.get(user) or {}).get("modals") or [])
    sender.command("/request", "", user_id=user)
    return wait_until(lambda: len((slack.views.get(user) or {}).get("modals") or []) > before
                      and modal_of(slack, user), message="the request form")


def submit(sender, slack, view: dict, values: dict, user=OPS):
    """Submit the form: the ack's errors (block_id → words), or None when it closed."""
    response = sender.view_submission(user, view, values)
    assert response.status == 200, response.text
    return slack.apply_view_response(view["id"], response.json() if response.text not in ("", "{}") else None)


def last_request(tandem) -> Request:
    with session_scope(tandem.engine) as session:
        return session.exec(select(Request).order_by(Request.id.desc())).first()
