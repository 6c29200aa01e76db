"""The one seam between requests and approvals. Requests own it; approvals plug into it.

Requests ask, through the `Approvals` that the approvals capability connects at start (when
none is connected there is no chain, and every request goes straight to triage):
  - `chain_for(services, team_id)`: the chain for an activity request, read before the
    transaction (it may ask Slack who is in a user group);
  - `route_filed(services, session, request, chain, *, now)`: a request was filed; True when it
    went into approval (then triage waits for `approved`);
  - `after_edit(services, session, request, changed, chain, *, actor, now)`: the requester edited
    it (changed: the names of the fields that changed); approvals may restart the chain.

Approvals answer with the functions below, in the transaction of their own change, and read a
request only as templates see it (`as_template`). Neither side imports the other's modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from delivery import REF
from handlers.common import Services
from handlers.requests import notify
from handlers.requests.common import as_template
from models import keys, outbox
from models.requests import Request
from models.requests.lifecycle import get_config, set_status

__all__ = ["Approvals", "approvals", "approved", "as_template", "connect", "no_approval_needed"]


@dataclass(frozen=True)
class Approvals:
    chain_for: Callable[[Services, str], list[dict]]
    route_filed: Callable[..., bool]
    after_edit: Callable[..., None]


NO_APPROVALS = Approvals(chain_for=lambda services, team_id: [], route_filed=lambda *args, **kwargs: False,
                        after_edit=lambda *args, **kwargs: None)
_approvals = NO_APPROVALS


def connect(plugged: Approvals) -> None:
    """Called by the approvals capability when it registers."""
    global _approvals
    _approvals = plugged


def approvals() -> Approvals:
    return _approvals


def approved(services: Services, session: Session, request: Request, *, now: datetime) -> None:
    """The last stage approved: the request enters product's triage queue as accepted; the card is posted now."""
    config = get_config(session, team_id=request.team_id, now=now)
    if not config.triage_channel:
        return
    card = notify.render_card(session, services, request)
    key = keys.request_card(request.id)
    if outbox.was_queued(session, key=key):
        services.delivery.queue(session, key=keys.edit(key, request.version), team_id=request.team_id,
                                method="chat.update", now=now, text=card["text"], blocks=card["blocks"],
                                **{REF: key})
    else:
        services.delivery.queue(session, key=key, team_id=request.team_id, method="chat.postMessage", now=now,
                                channel=config.triage_channel, text=card["text"], blocks=card["blocks"],
                                unfurl_links=False)


def no_approval_needed(services: Services, session: Session, request: Request, *, actor: str,
                       now: datetime) -> None:
    """After an edit no stage applies any more: the request goes to triage as if just filed."""
    if request.status == "in_approval":
        set_status(session, request, actor=actor, action="edited", to_status="new", now=now)
    notify.queue_filed(services, session, request, now=now)
