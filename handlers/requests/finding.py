"""Finding requests: /request list (with Next/Previous), /request show, /request export, App Home.

Lists are keyset pages (models/requests/queries.py), so a page costs the same with a thousand
requests or a hundred thousand. The export is built and sent by handlers/exports.py.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from slack_bolt.async_app import AsyncApp

import templates
from clock import utcnow
from handlers import exports
from handlers.common import Services, rule_error_message
from handlers.listeners import ack_then
from handlers.requests.common import as_template, may_triage
from models.db import session_scope
from models.errors import RuleError
from models.requests import Request, RequestComment, queries
from models.requests.lifecycle import get_config, get_request
from models.requests.queries import Filters

HOME_ITEMS = 5
FIELD_TEXT = 2800      # a field's text in /request show, after mrkdwn escaping (a section holds 3000)
TIMELINE_TEXT = 280    # a reason or comment in a timeline line, after escaping
TIMELINE_PER_SECTION = 5
TIMELINE_SECTIONS = 36  # what fits in a 50-block message next to the request itself
TIMELINE_HEAD = 5       # when a timeline is longer than that: its first entries, then the latest
CSV_COLUMNS = ("id", "kind", "title", "status", "priority", "requester", "assignee", "wanted_by", "labels",
               "created_at", "triaged_at", "done_at", "fields")
PAGE_BUTTON = re.compile(r"^request_list_(older|newer)$")


# -- /request list ----------------------------------------------------------------------------
def list_reply(services: Services, *, command: dict, words: list[str]) -> dict:
    team_id, user_id = command["team_id"], command["user_id"]
    filters = queries.parse_filters(words)
    language = services.language_of(team_id, user_id)
    return list_message(services, team_id=team_id, user_id=user_id, filters=filters, language=language)


def list_message(services: Services, *, team_id: str, user_id: str, filters: Filters, language: str,
                 before: int | None = None, after: int | None = None, replace: bool = False) -> dict:
    with session_scope(services.engine) as session:
        page = queries.list_page(session, team_id=team_id, user_id=user_id, filters=filters, before=before,
                                 after=after)
    return templates.render("requests/list.yaml.j2", language=language, items=[as_template(r) for r in page.items],
                            filter_text=filters.as_text(), has_newer=page.has_newer, has_older=page.has_older,
                            replace=replace)


def turn_page(services: Services, body: dict) -> None:
    """A Next/Previous click: the list message is replaced by the page it asks for."""
    services.delivery.respond(body["response_url"], page_reply(services, body))


def page_reply(services: Services, body: dict) -> dict:
    """The page before or after the number the Next/Previous button carries."""
    team_id, user_id = body["team"]["id"], body["user"]["id"]
    action = body["actions"][0]
    cursor, _, filter_text = (action.get("value") or "").partition("|")
    language = services.language_of(team_id, user_id)
    try:
        if not cursor.isdigit():
            raise RuleError("requests.bad_filter", given=cursor[:40])
        filters = queries.parse_filters(filter_text.split())
    except RuleError as error:
        return rule_error_message(error, language=language)
    older = PAGE_BUTTON.match(action["action_id"]).group(1) == "older"
    return list_message(services, team_id=team_id, user_id=user_id, filters=filters, language=language,
                        before=int(cursor) if older else None, after=None if older else int(cursor), replace=True)


# -- /request show ----------------------------------------------------------------------------
def show_reply(services: Services, *, command: dict, words: list[str]) -> dict:
    team_id, user_id = command["team_id"], command["user_id"]
    language = services.language_of(team_id, user_id)
    if not words:
        return templates.render("requests/show.yaml.j2", language=language, r=None)
    number = queries.parse_ref(words[0])
    with session_scope(services.engine) as session:
        request = get_request(session, team_id=team_id, number=number)
        duplicate_of = session.get(Request, request.duplicate_of).number if request.duplicate_of else None
        entries = [_timeline_entry(item) for item in queries.timeline(session, request_id=request.id)]
    r = as_template(request, duplicate_of_number=duplicate_of)
    r["fields"] = {k: clip(v, FIELD_TEXT) if isinstance(v, str) else v for k, v in r["fields"].items()}
    r.update(triaged_at=_unix(request.triaged_at), done_at=_unix(request.done_at),
             updated_at=_unix(request.updated_at))
    room = TIMELINE_SECTIONS * TIMELINE_PER_SECTION
    hidden = max(0, len(entries) - room)
    if hidden:
        entries = entries[:TIMELINE_HEAD] + entries[TIMELINE_HEAD + hidden:]
    return templates.render("requests/show.yaml.j2", language=language, r=r, timeline=entries,
                            head=TIMELINE_HEAD, hidden=hidden, per_section=TIMELINE_PER_SECTION)


def _timeline_entry(item) -> dict:
    if isinstance(item, RequestComment):
        return {"comment": True, "actor": item.author, "text": clip(item.text, TIMELINE_TEXT, one_line=True),
                "at": _unix(item.created_at)}
    return {"comment": False, "actor": item.actor, "action": item.action, "from_status": item.from_status,
            "to_status": item.to_status, "reason": clip(item.reason, TIMELINE_TEXT, one_line=True),
            "detail": dict(item.detail or {}), "at": _unix(item.created_at)}


def clip(text: str | None, limit: int, *, one_line: bool = False) -> str | None:
    """`text` cut so that, once escaped for mrkdwn, it takes at most `limit` characters."""
    if text is None:
        return None
    if one_line:
        text = " ".join(text.split())
    if len(templates.escape_mrkdwn(text)) <= limit:
        return text
    kept, size = [], 0
    for char in text:
        size += len(templates.escape_mrkdwn(char))
        if size > limit - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def _unix(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


# -- /request export --------------------------------------------------------------------------
def export(services: Services, *, command: dict, words: list[str]) -> dict:
    """Upload a CSV of the matching requests to the user's DM; the answer goes to response_url."""
    team_id, user_id = command["team_id"], command["user_id"]
    filters = queries.parse_filters(words)
    language = services.language_of(team_id, user_id)
    data, count = exports.build_csv(
        services, columns=CSV_COLUMNS, cells=csv_row, after=lambda request: request.number,
        read=lambda session, after: queries.export_chunk(session, team_id=team_id, user_id=user_id,
                                                         filters=filters, after=after, size=exports.CHUNK))
    if count:
        words_ = templates.messages("requests/export_file.yaml.j2", language=language, count=count,
                                    filter_text=filters.as_text())
        exports.send_to_dm(services, user_id, data, name="tandem-requests", title=words_["title"],
                           comment=words_["comment"])
    return templates.render("requests/export.yaml.j2", language=language, count=count,
                            filter_text=filters.as_text())


def csv_row(request: Request) -> list[str]:
    return [request.ref, request.kind, request.title, request.status, request.priority, request.requester,
            request.assignee or "", request.wanted_by.isoformat() if request.wanted_by else "",
            ", ".join(request.labels or []), _iso(request.created_at), _iso(request.triaged_at),
            _iso(request.done_at), json.dumps(request.fields or {}, ensure_ascii=False, sort_keys=True)]


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


# -- App Home ---------------------------------------------------------------------------------
def home_context(services: Services, team_id: str, user_id: str) -> dict:
    """The requests part of the Home tab: each section's count and its newest items."""
    with session_scope(services.engine) as session:
        config = get_config(session, team_id=team_id, now=utcnow())
        sections = {
            "mine": _home_section(session, team_id, user_id, Filters(mine=True, open=True)),
            "assigned": _home_section(session, team_id, user_id, Filters(assigned=True, open=True)),
        }
    if may_triage(services, config, user_id):  # may ask Slack for the triage channel's members: no transaction
        with session_scope(services.engine) as session:
            sections["triage"] = _home_section(session, team_id, user_id, Filters(statuses=("new",)))
    return {"requests_home": sections}


def _home_section(session, team_id: str, user_id: str, filters: Filters) -> dict:
    page = queries.list_page(session, team_id=team_id, user_id=user_id, filters=filters, size=HOME_ITEMS)
    return {"count": queries.count(session, team_id=team_id, user_id=user_id, filters=filters),
            "items": [as_template(r) for r in page.items], "filter_text": filters.as_text()}


# -- wiring -----------------------------------------------------------------------------------
def register(app: AsyncApp, services: Services) -> None:
    app.action(PAGE_BUTTON)(ack_then(services, turn_page))
