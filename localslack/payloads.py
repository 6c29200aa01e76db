"""Builders for the payloads Slack sends to an app, shaped like Slack's own.

The same dicts travel both ways Slack delivers them:
- over HTTP (see signing.SlackSender): slash commands as form fields, interactions as
  `payload=<json>`, events as a JSON body;
- over Socket Mode (LocalSlack.socket_send): as the envelope's "payload".

Every builder takes an optional `slack` (a LocalSlack). With it, trigger_ids and
response_urls are minted by that LocalSlack (so views.open / response_url posts work and are
checked), names come from its users and channels, and team_id defaults to its team. Without
it, placeholder values are used.
"""

from __future__ import annotations

import copy
import secrets
import time
from typing import TYPE_CHECKING, Any

from . import escaping

if TYPE_CHECKING:
    from .server import LocalSlack

DEFAULT_USER = "U0ALICE"
DEFAULT_CHANNEL = "C0GENERAL"
DEFAULT_TEAM = "T0TEST"
API_APP_ID = "A0TEST"
# The deprecated verification token Slack still includes in payloads.
VERIFICATION_TOKEN = "legacy-verification-token"


# -- small helpers --------------------------------------------------------------------------


def _team_id(slack: LocalSlack | None, team_id: str | None) -> str:
    return team_id or (slack.team_id if slack else DEFAULT_TEAM)


def _team_domain(slack: LocalSlack | None) -> str:
    return slack.team_domain if slack else "tandem-test"


def _user_name(slack: LocalSlack | None, user_id: str) -> str:
    if slack is not None:
        with slack._lock:
            user = slack._users.get(user_id)
            if user:
                return user["name"]
    return user_id.lower()


def _channel_name(slack: LocalSlack | None, channel_id: str) -> str:
    if channel_id.startswith("D"):
        return "directmessage"
    if slack is not None:
        with slack._lock:
            conv = slack._convs.get(channel_id)
            if conv and conv.get("name"):
                return conv["name"]
    return channel_id.lower()


def _trigger_id(slack: LocalSlack | None, user_id: str, trigger_id: str | None) -> str:
    if trigger_id:
        return trigger_id
    if slack is not None:
        return slack.new_trigger_id(user_id)
    return f"{secrets.randbelow(10**6)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def _response_url(slack: LocalSlack | None, response_url: str | None, channel_id: str | None, user_id: str,
                  message_ts: str | None = None) -> str:
    if response_url:
        return response_url
    if slack is not None:
        return slack.new_response_url(channel_id=channel_id, user_id=user_id, message_ts=message_ts)
    return (
        f"https://hooks.slack.com/actions/{DEFAULT_TEAM}/{secrets.randbelow(10**12)}/{secrets.token_hex(12)}"
    )


def _user(slack: LocalSlack | None, user_id: str, team_id: str) -> dict:
    name = _user_name(slack, user_id)
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _team(slack: LocalSlack | None, team_id: str) -> dict:
    return {"id": team_id, "domain": _team_domain(slack)}


def _action_ts() -> str:
    return f"{time.time():.6f}"


# -- slash commands -------------------------------------------------------------------------


def slash_command(command: str, text: str = "", user_id: str = DEFAULT_USER,
                  channel_id: str = DEFAULT_CHANNEL, team_id: str | None = None,
                  response_url: str | None = None, trigger_id: str | None = None, *,
                  slack: LocalSlack | None = None, **extra: str) -> dict[str, str]:
    """The form fields of a slash command (all str), e.g. slash_command("/request", "new")."""
    team_id = _team_id(slack, team_id)
    if slack is not None:
        text = escaping.as_sent(slack, command, text)
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": _team_domain(slack),
        "channel_id": channel_id,
        "channel_name": _channel_name(slack, channel_id),
        "user_id": user_id,
        "user_name": _user_name(slack, user_id),
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": _response_url(slack, response_url, channel_id, user_id),
        "trigger_id": _trigger_id(slack, user_id, trigger_id),
    }
    fields.update({k: str(v) for k, v in extra.items()})
    return fields


# -- interactions ---------------------------------------------------------------------------


def _find_element(blocks: list, action_id: str) -> tuple[str | None, dict | None]:
    """(block_id, element) of the interactive element with this action_id in a surface."""
    for block in blocks or []:
        candidates = list(block.get("elements") or [])
        for key in ("accessory", "element"):
            if block.get(key):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None


def action(action_id: str, value: str | None = None, *, block_id: str | None = None, type: str = "button",
           **extra) -> dict:
    """One entry of block_actions' "actions". Missing block_id/text/value are filled from
    the message or view when block_actions is given one."""
    entry: dict[str, Any] = {"action_id": action_id, "type": type}
    if value is not None:
        entry["value"] = value
    if block_id is not None:
        entry["block_id"] = block_id
    entry.update(extra)
    return entry


def _complete_action(entry: dict, blocks: list) -> dict:
    entry = dict(entry)
    entry.setdefault("type", "button")
    block_id, element = _find_element(blocks, entry["action_id"])
    if element is not None:
        entry["type"] = element.get("type", entry["type"])
        if block_id:
            entry.setdefault("block_id", block_id)
        if element.get("type") == "button":
            entry.setdefault("text", element.get("text"))
            if element.get("value") is not None:
                entry.setdefault("value", element["value"])
            if element.get("style"):
                entry.setdefault("style", element["style"])
    entry.setdefault("block_id", secrets.token_hex(3))  # Slack generates ids for blocks without one
    entry.setdefault("action_ts", _action_ts())
    return entry


def block_actions(user_id: str = DEFAULT_USER, actions: list[dict] | None = None, message: dict | None = None,
                  view: dict | None = None, container: dict | None = None, channel_id: str | None = None,
                  response_url: str | None = None, trigger_id: str | None = None, *,
                  slack: LocalSlack | None = None, team_id: str | None = None,
                  state: dict | None = None) -> dict:
    """A block_actions payload: a click on a message (pass `message`, as stored by
    LocalSlack, and its channel_id) or in a view (pass `view`). Actions: see `action()`."""
    team_id = _team_id(slack, team_id)
    blocks = (message or view or {}).get("blocks") or []
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(slack, user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(slack, user_id, trigger_id),
        "team": _team(slack, team_id),
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [_complete_action(a, blocks) for a in (actions or [])],
    }
    if view is not None:
        view = copy.deepcopy(view)
        view["state"] = {"values": state if state is not None else view.get("state", {}).get("values", {})}
        payload["container"] = container or {"type": "view", "view_id": view.get("id")}
        payload["view"] = view  # in a view, the state travels inside it
    else:
        if channel_id is None and message is not None and slack is not None:
            channel_id = slack.channel_of_message(message["ts"])
        channel_id = channel_id or DEFAULT_CHANNEL
        message_ts = message["ts"] if message else None
        payload["container"] = container or {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": _channel_name(slack, channel_id)}
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        payload["state"] = {"values": state or {}}
        payload["response_url"] = _response_url(slack, response_url, channel_id, user_id, message_ts)
    return payload


def state_value(element_type: str, value: Any) -> dict:
    """One entry of view.state.values[block_id][action_id] as Slack sends it, e.g.
    state_value("plain_text_input", "hello"), state_value("static_select", "opt-1"),
    state_value("multi_users_select", ["U0BOB"]), state_value("datepicker", "2025-11-22")."""

    def option(v: str) -> dict:
        return {"text": {"type": "plain_text", "text": v, "emoji": True}, "value": v}

    key_by_type = {
        "users_select": "selected_user",
        "multi_users_select": "selected_users",
        "conversations_select": "selected_conversation",
        "multi_conversations_select": "selected_conversations",
        "channels_select": "selected_channel",
        "multi_channels_select": "selected_channels",
        "datepicker": "selected_date",
        "timepicker": "selected_time",
        "datetimepicker": "selected_date_time",
    }
    if element_type in ("static_select", "external_select", "radio_buttons"):
        return {"type": element_type, "selected_option": option(value) if value is not None else None}
    if element_type in ("multi_static_select", "multi_external_select", "checkboxes"):
        return {"type": element_type, "selected_options": [option(v) for v in value]}
    if element_type in key_by_type:
        return {"type": element_type, key_by_type[element_type]: value}
    # plain_text_input, number_input, email_text_input, url_text_input, ...
    return {"type": element_type, "value": value}


def view_submission(user_id: str, view: dict, values: dict | None = None, *, slack: LocalSlack | None = None,
                    team_id: str | None = None, trigger_id: str | None = None,
                    response_urls: list | None = None) -> dict:
    """A view_submission payload for `view` (as returned by views.open), with
    values = {block_id: {action_id: state_value(...)}}."""
    team_id = _team_id(slack, team_id)
    view = copy.deepcopy(view)
    view["state"] = {"values": values or {}}
    return {
        "type": "view_submission",
        "team": _team(slack, team_id),
        "user": _user(slack, user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(slack, user_id, trigger_id),
        "view": view,
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_closed(user_id: str, view: dict, is_cleared: bool = False, *, slack: LocalSlack | None = None,
                team_id: str | None = None) -> dict:
    """A view_closed payload (sent only for views opened with notify_on_close)."""
    team_id = _team_id(slack, team_id)
    return {
        "type": "view_closed",
        "team": _team(slack, team_id),
        "user": _user(slack, user_id, team_id),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": copy.deepcopy(view),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def shortcut(callback_id: str, user_id: str = DEFAULT_USER, *, slack: LocalSlack | None = None,
             team_id: str | None = None, trigger_id: str | None = None) -> dict:
    """A global shortcut payload."""
    team_id = _team_id(slack, team_id)
    return {
        "type": "shortcut",
        "token": VERIFICATION_TOKEN,
        "action_ts": _action_ts(),
        "team": _team(slack, team_id),
        "user": _user(slack, user_id, team_id),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": _trigger_id(slack, user_id, trigger_id),
    }


def message_action(callback_id: str, message: dict, channel_id: str | None = None,
                   user_id: str = DEFAULT_USER, *, slack: LocalSlack | None = None,
                   team_id: str | None = None, trigger_id: str | None = None, response_url: str | None = None
                   ) -> dict:
    """A message shortcut payload on `message` (as stored by LocalSlack)."""
    team_id = _team_id(slack, team_id)
    if channel_id is None and slack is not None:
        channel_id = slack.channel_of_message(message["ts"])
    channel_id = channel_id or DEFAULT_CHANNEL
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": _action_ts(),
        "team": _team(slack, team_id),
        "user": _user(slack, user_id, team_id),
        "channel": {"id": channel_id, "name": _channel_name(slack, channel_id)},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": _trigger_id(slack, user_id, trigger_id),
        "response_url": _response_url(slack, response_url, channel_id, user_id),
        "message_ts": message["ts"],
        "message": copy.deepcopy(message),
    }


# -- events ---------------------------------------------------------------------------------


def new_event_id() -> str:
    return "Ev" + secrets.token_hex(5).upper()


def event_callback(event: dict, event_id: str | None = None, team_id: str | None = None, *,
                   slack: LocalSlack | None = None, event_time: int | None = None) -> dict:
    """The Events API body ("event_callback") wrapping `event`."""
    team_id = _team_id(slack, team_id)
    bot_user = slack.bot_user_id if slack else "UBOT"
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": event_time or int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_hex(16),
    }


def url_verification(challenge: str = "challenge-token") -> dict:
    return {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}


def app_home_opened(user_id: str = DEFAULT_USER, tab: str = "home", view: dict | None = None) -> dict:
    """An app_home_opened event (wrap it with event_callback)."""
    event = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": f"D{user_id}",
        "tab": tab,
        "event_ts": _action_ts(),
    }
    if view is not None:
        event["view"] = copy.deepcopy(view)
    return event


def message_event(channel: str, text: str, user: str = DEFAULT_USER, *, ts: str | None = None,
                  thread_ts: str | None = None, channel_type: str | None = None) -> dict:
    """A message event (wrap it with event_callback). channel_type defaults from the id."""
    ts = ts or _action_ts()
    if channel_type is None:
        channel_type = {"D": "im", "G": "group"}.get(channel[:1], "channel")
    event = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event
