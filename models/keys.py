"""The outbox's keys: the name every queued Slack call is kept under, built and read back only here.

A key is unique in the outbox, so queueing the same message twice (a Slack retry, a double
click, two replicas) leaves one row; and a key is how later messages find an earlier one: an
edit (chat.update by `$ref`), a thread reply (`$thread`), a link (`$permalink`), a reply in a
card's thread mapped back to its request. Keys are stored, so a format here is a schema: change
one only with the rows it names in mind.
"""

from __future__ import annotations

import re
from datetime import date

_REQUEST_CARD = re.compile(r"request:(\d+):card")


def edit(key: str, version: int) -> str:
    """Version `version` of the message posted under `key` (a chat.update of it)."""
    return f"{key}:v{version}"


# -- requests --------------------------------------------------------------------------------------
def request_card(request_id: int) -> str:
    """The request's card in the triage channel; its thread holds the request's history."""
    return f"request:{request_id}:card"


def request_of_card(key: str | None) -> int | None:
    """The request whose card was posted under `key`; None for any other message."""
    match = _REQUEST_CARD.fullmatch(key or "")
    return int(match.group(1)) if match else None


def request_filed_dm(request_id: int) -> str:
    return f"request:{request_id}:dm:filed"


def request_filed_home(request_id: int) -> str:
    return f"request:{request_id}:filed:home"


def request_change(request_id: int, event_id: int, what: str) -> str:
    """What one change (audit event) of a request tells: "thread", "dm", or "home:{user}"."""
    return f"request:{request_id}:event:{event_id}:{what}"


def requests_config_saved(team_id: str, view_id: str) -> str:
    return f"requests:config:{team_id}:{view_id}"


def sla_reminder(team_id: str, day: date) -> str:
    return f"requests:sla:{team_id}:{day.isoformat()}"


# -- approvals -------------------------------------------------------------------------------------
def approval_card(run_id: int, stage: int, seat: str) -> str:
    """The card of one approver's seat in a stage (sent to the approver, or to their deputy)."""
    return f"approval:{run_id}:{stage}:{seat}:card"


def handed_over(card: str, deputy: str = "") -> str:
    """A copy of a waiting card sent to a deputy when the delegation was set (with no deputy
    given: what the keys of all the card's copies start with)."""
    return f"{card}:to:{deputy}"


def approval_dm(run_id: int, about: str, user: str) -> str:
    """A DM about a run: `about` is "started", a decision's id, "reset:{round}", "{stage}:escalated"."""
    return f"approval:{run_id}:dm:{about}:{user}"


def approval_reminder(run_id: int, stage: int, seat: str) -> str:
    return f"approval:{run_id}:{stage}:remind:{seat}"


def approvals_config_saved(team_id: str, view_id: str) -> str:
    return f"approvals:config:{team_id}:{view_id}"


# -- standups --------------------------------------------------------------------------------------
def standup_dm(run_id: int, user_id: str, kind: str) -> str:
    """A prompt or nudge DM (kind "prompt", "nudge:60")."""
    return f"standup:run:{run_id}:{user_id}:{kind}"


def standup_answered(dm: str) -> str:
    """The prompt or nudge DM turned into "answered"."""
    return f"{dm}:answered"


def standup_report(run_id: int) -> str:
    return f"standup:run:{run_id}:report"


def standup_answer(run_id: int, user_id: str) -> str:
    """A person's answers in the report's thread (big standups)."""
    return f"{standup_report(run_id)}:answer:{user_id}"


def standup_saved(view_id: str, view_hash: str) -> str:
    return f"standups:saved:{view_id}:{view_hash}"


# -- digests ---------------------------------------------------------------------------------------
def digest_send(digest_id: int, period_start: date, slot: str) -> str:
    """A digest's first message for one week and slot; the rest of it is keyed from this one."""
    return f"digests:{digest_id}:{period_start.isoformat()}:{slot}"


def digest_part(first: str, index: int) -> str:
    """The digest's `index`-th message (1, 2, …), in the first one's thread."""
    return f"{first}:{index}"


def digest_owner_notice(first: str) -> str:
    """The owner told that the team template broke and the default was used."""
    return f"{first}:owner"


def digest_saved(digest_id: int, view_id: str) -> str:
    return f"digests:saved:{digest_id}:{view_id}"


def metric_import_report(view_id: str) -> str:
    return f"digests:import:{view_id}"
