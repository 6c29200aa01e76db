"""People named in a slash command: `<@U123|olga>` (escaping on), `@U123`, or `@olga` as typed.

Where Slack escaped the mention we have the id. A plain `@olga` arrives when escaping is off (an
install made from an older manifest) or when the composer did not recognise the name; it is looked
up in users.list (handle, display name, real name; case does not matter), cached per workspace for a
few minutes. An unknown or ambiguous name is a RuleError the user reads, never a guess.
"""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.common import Services
from models import mentions
from models.errors import RuleError

DIRECTORY_TTL = 300.0  # seconds a users.list answer is reused; a name not found asks again after REFRESH
REFRESH = 30.0
log = logging.getLogger("tandem.people")
_lock = threading.Lock()  # Services.people is shared by the listener threads


def _members(services: Services, team_id: str, *, fresher_than: float) -> list[dict]:
    with _lock:
        fetched, members = services.people.get(team_id, (0.0, []))
    if time.monotonic() - fetched <= fresher_than:
        return members
    members, cursor = [], None
    try:
        while True:  # https://docs.slack.dev/reference/methods/users.list: paged by cursor
            page = services.delivery.call("users.list", limit=200, **({"cursor": cursor} if cursor else {}))
            members += page.get("members", [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("users.list failed (%r); cannot resolve a typed name", exc)
        raise RuleError("people.lookup_failed") from None
    with _lock:
        services.people[team_id] = (time.monotonic(), members)
    return members


def _matches(members: list[dict], name: str) -> list[str]:
    wanted = name.casefold()
    live = [m for m in members if not m.get("deleted") and not m.get("is_bot")]
    # A handle is unique in a workspace: it wins over display and real names, which need not be.
    exact = [m["id"] for m in live if str(m.get("name", "")).casefold() == wanted]
    if exact:
        return exact
    return [m["id"] for m in live
            if wanted in {str((m.get("profile") or {}).get(field) or m.get(field) or "").casefold()
                          for field in ("display_name", "real_name")}]


def resolve_user(services: Services, team_id: str, word: str) -> str:
    """The user id `word` names; RuleError people.unknown / people.ambiguous / people.not_a_person."""
    user = mentions.user_id(word)
    if user:
        return user
    name = word.strip()
    if not name.startswith("@") or len(name) < 2:
        raise RuleError("people.not_a_person", given=word)
    name = name[1:]
    found = _matches(_members(services, team_id, fresher_than=DIRECTORY_TTL), name)
    if not found:  # someone who joined a minute ago: ask Slack again, not too often
        found = _matches(_members(services, team_id, fresher_than=REFRESH), name)
    if not found:
        raise RuleError("people.unknown", given=word)
    if len(found) > 1:
        raise RuleError("people.ambiguous", given=word, candidates=found)
    return found[0]
