"""Fixtures for request tests: a workspace with a triage channel and a product team, and a quick
way to have a request filed (through the same rule + notification code the modal uses)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from clock import utcnow
from handlers.requests import notify
from handlers.requests.common import forget_members_cache
from models import keys
from models.db import session_scope
from models.requests import Request
from models.requests.forms import CleanForm
from models.requests.lifecycle import file_request, get_config
from tests.outbox import drained

TRIAGE = "C0TRIAGE"
PM1, PM2 = "U0PM1", "U0PM2"        # product team (members of the triage channel)
OPS, OPS_ZH = "U0OPS", "U0OPSZH"   # requesters (English, Chinese)
OUTSIDER = "U0OUTSIDER"            # neither


@dataclass
class Workspace:
    team_id: str
    triage: str = TRIAGE


@pytest.fixture
def workspace(tandem, slack) -> Workspace:
    """Triage channel C0TRIAGE whose members (PM1, PM2, the bot) are the product team."""
    forget_members_cache()
    slack.add_user(PM1, name="pm-one", locale="en-US")
    slack.add_user(PM2, name="pm-two", locale="en-US")
    slack.add_user(OPS, name="ops", locale="en-US")
    slack.add_user(OPS_ZH, name="ops-zh", locale="zh-CN", tz="Asia/Shanghai")
    slack.add_user(OUTSIDER, name="outsider", locale="en-US")
    slack.add_channel(TRIAGE, "product-triage", members=[PM1, PM2])
    with session_scope(tandem.engine) as session:
        config = get_config(session, team_id=slack.team_id, now=utcnow())
        config.triage_channel, config.product_team_mode = TRIAGE, "channel"
        session.add(config)
    return Workspace(team_id=slack.team_id)


FEATURE = {"problem": "Export is slow", "user_story": "As ops I export weekly", "expected_value": "2h saved"}


def file_quickly(tandem, team_id: str, requester: str = OPS, *, kind: str = "feature", title: str = "Faster export",
                 fields: dict | None = None, labels: list[str] | None = None, priority: str = "P2") -> Request:
    """File a request as the modal would (rule + queued card/DM), and wait until the card is posted."""
    form = CleanForm(kind=kind, title=title, priority=priority, wanted_by=None, labels=labels or [],
                     fields=dict(FEATURE if fields is None and kind == "feature" else fields or {}))
    with session_scope(tandem.engine) as session:
        change = file_request(session, team_id=team_id, requester=requester, form=form, now=utcnow())
        notify.queue_filed(tandem.services, session, change.request, now=utcnow())
        request = change.request
    tandem.services.delivery.kick()
    drained(lambda: card_of(tandem, request) is not None, f"the card of REQ-{request.number}")
    return request


def card_of(tandem, request: Request):
    """(channel, ts) of a request's triage card once it is posted."""
    from models.outbox import message_ref

    with session_scope(tandem.engine) as session:
        return message_ref(session, key=keys.request_card(request.id))
