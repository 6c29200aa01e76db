"""What Slack sends, checked before Bolt sees it: signed, fresh, and shaped the way Slack documents.

web.py refuses an HTTP request whose timestamp or signature is wrong (401) or whose body is not a
payload Slack would send (400); Socket Mode acknowledges such an envelope and drops it. Either
way one short log line says why, with the payload's kind and size but none of its contents: a
stranger's bytes never reach the log. Payload shapes follow docs.slack.dev (slash commands,
interaction payloads, the Events API), as far as Tandem's listeners read them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.request import SocketModeRequest

log = logging.getLogger("tandem.inbound")
SIGNATURE_MAX_AGE = 300  # seconds; Slack's own advice for replay protection

Check = Callable[[object, str], "str | None"]


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # a fixed phrase and a path into the payload; never a value from it


# -- a small schema language: a dict of fields ("?name" optional, None allowed), [spec] for a
# -- non-empty list, or a check function (value, where) -> problem or None -------------------------
def text(maximum: int = 40_000, pattern: re.Pattern | None = None) -> Check:
    def check(value, where):
        if not isinstance(value, str):
            return f"{where}: expected a string"
        if len(value) > maximum:
            return f"{where}: longer than {maximum} characters"
        if pattern is not None and not pattern.fullmatch(value):
            return f"{where}: not in the expected form"
        return None

    return check


def kind(*types: type) -> Check:
    def check(value, where):
        if isinstance(value, bool) or not isinstance(value, types):
            return f"{where}: expected {' or '.join(t.__name__ for t in types)}"
        return None

    return check


def items(spec) -> Check:
    """A list, possibly empty, whose every item matches `spec`."""

    def check(value, where):
        if not isinstance(value, list):
            return f"{where}: expected a list"
        return next((p for i, item in enumerate(value) if (p := problem(item, spec, f"{where}[{i}]"))), None)

    return check


def each_value(spec) -> Check:
    """An object whose keys are chosen by the app (block ids, action ids): every value matches."""

    def check(value, where):
        if not isinstance(value, dict):
            return f"{where}: expected an object"
        return next((p for v in value.values() if (p := problem(v, spec, f"{where}.*"))), None)

    return check


def metadata(value, where) -> str | None:
    """Tandem writes private_metadata as a JSON object (or leaves it empty)."""
    if not isinstance(value, str):
        return f"{where}: expected a string"
    if value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return f"{where}: not JSON"
        if not isinstance(parsed, dict):
            return f"{where}: not a JSON object"
    return None


def problem(value, spec, where: str) -> str | None:
    """The first way `value` differs from `spec`, or None."""
    if callable(spec):
        return spec(value, where)
    if isinstance(spec, list):
        if not isinstance(value, list) or not value:
            return f"{where}: expected a non-empty list"
        return items(spec[0])(value, where)
    if not isinstance(value, dict):
        return f"{where}: expected an object"
    for key, sub in spec.items():
        name = key.lstrip("?")
        if value.get(name) is None:
            if key.startswith("?"):
                continue
            return f"{where}.{name}: missing"
        found = problem(value[name], sub, f"{where}.{name}")
        if found:
            return found
    return None


ID = text(32, re.compile(r"[A-Z0-9]+"))  # Slack ids: T…, U…/W…, C…/G…/D…, B…
NAME = text(255)  # action_id, block_id, callback_id: Slack allows 255 characters
OPTION = {"value": text(2000)}
TEAM, USER = {"id": ID}, {"id": ID}
ELEMENT_STATE = {
    "type": NAME, "?value": text(), "?selected_option": OPTION, "?selected_options": items(OPTION),
    "?selected_user": ID, "?selected_users": items(ID), "?selected_conversation": ID, "?selected_channel": ID,
    "?selected_date": text(10), "?selected_time": text(5), "?selected_date_time": kind(int), "?files": kind(list),
}
STATE = {"values": each_value(each_value(ELEMENT_STATE))}
VIEW = {"id": text(32), "?callback_id": NAME, "?private_metadata": metadata, "?state": STATE, "?hash": text(255),
        "?type": NAME, "?blocks": kind(list)}
ACTION = {"action_id": NAME, "?block_id": NAME, "?type": NAME, "?value": text(2000), "?selected_option": OPTION,
          "?selected_options": items(OPTION), "?selected_user": ID, "?selected_conversation": ID, "?selected_channel": ID,
          "?selected_date": text(10)}
MESSAGE = {"ts": text(32), "?text": text(), "?user": ID, "?thread_ts": text(32)}
INTERACTIONS = {
    "block_actions": {"actions": [ACTION], "?trigger_id": text(255), "?response_url": text(3000),
                      "?view": VIEW, "?message": MESSAGE, "?channel": {"id": ID}, "?container": kind(dict),
                      "?state": STATE},
    "view_submission": {"view": {**VIEW, "callback_id": NAME}, "?trigger_id": text(255),
                        "?response_urls": items({"response_url": text(3000)})},
    "view_closed": {"view": {**VIEW, "callback_id": NAME}},
    "shortcut": {"callback_id": NAME, "trigger_id": text(255)},
    "message_action": {"callback_id": NAME, "trigger_id": text(255), "message": MESSAGE, "channel": {"id": ID},
                       "?response_url": text(3000)},
}
COMMAND = {"command": text(64, re.compile(r"/[\w-]+")), "team_id": ID, "user_id": ID, "channel_id": ID,
           "?text": text(), "response_url": text(3000), "trigger_id": text(255)}
EVENT = {"type": NAME, "?user": ID, "?channel": ID, "?ts": text(32), "?thread_ts": text(32), "?text": text(),
         "?tab": NAME, "?subtype": NAME}
EVENTS = {
    "event_callback": {"team_id": ID, "event_id": text(64), "event": EVENT},
    "url_verification": {"challenge": text(255)},
    "app_rate_limited": {"team_id": ID},
}


def payload_problem(body) -> str | None:
    """Why a parsed payload (an Events API body, an interaction, a slash command's fields) is not
    one Slack sends, or None when it is."""
    if not isinstance(body, dict):
        return "the payload is not an object"
    if "command" in body:
        return problem(body, COMMAND, "command")
    kind_ = body.get("type")
    if not isinstance(kind_, str) or kind_ not in EVENTS and kind_ not in INTERACTIONS:
        return "type: not a payload type Tandem handles"
    if kind_ in EVENTS:
        return problem(body, EVENTS[kind_], kind_)
    return problem(body, {"team": TEAM, "user": USER, **INTERACTIONS[kind_]}, kind_)


def parse(body: bytes, content_type: str) -> tuple[object, str | None]:
    """(the payload, None) as Slack's docs describe the body (the form fields, or the JSON of
    payload=, or the JSON body), or (None, why it cannot be read)."""
    try:
        text_ = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, "the body is not UTF-8"
    if content_type.split(";")[0].strip().lower() == "application/json" or text_.startswith("{"):
        try:
            return json.loads(text_), None
        except ValueError:
            return None, "the body is not JSON"
    fields = dict(parse_qsl(text_, keep_blank_values=True))
    if "payload" not in fields:
        return fields, None
    try:
        return json.loads(fields["payload"]), None
    except ValueError:
        return None, "payload= is not JSON"


def signature_refusal(headers: dict[str, str], body: bytes, secret: str, *, now: float) -> Refusal | None:
    """Slack's request signing: v0=HMAC-SHA256 of "v0:{timestamp}:{body}", timestamp within 5 minutes."""
    stamp = headers.get("x-slack-request-timestamp", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return Refusal(401, "X-Slack-Request-Timestamp is not a number")
    if abs(now - int(stamp)) > SIGNATURE_MAX_AGE:
        return Refusal(401, "X-Slack-Request-Timestamp is more than 5 minutes off")
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("x-slack-signature", "")):
        return Refusal(401, "the signature does not match")
    return None


def http_payload(headers: dict[str, str], body: bytes, secret: str,
                 now: float | None = None) -> tuple[dict | None, Refusal | None]:
    """(the payload, None) of a signed, well-formed HTTP request to /slack/events, or (None, why it
    must not reach Bolt: 401 unsigned, 400 malformed). The one signature check and the one parse of
    the body: web.py hands Bolt this payload (VerifiedRequest)."""
    refusal = signature_refusal(headers, body, secret, now=time.time() if now is None else now)
    if refusal:
        return None, refusal
    payload, unreadable = parse(body, headers.get("content-type", ""))
    reason = unreadable or payload_problem(payload)
    return (None, Refusal(400, reason)) if reason else (payload, None)


class VerifiedRequest(AsyncBoltRequest):
    """A Bolt request over HTTP built from the payload http_payload() verified and parsed. Bolt would
    parse the raw body again, and its parser takes any form body containing "payload" (a slash
    command's text, a channel's name) for an interaction with no payload= field: an empty body that
    no listener matches. Bolt's own signature check is off in HTTP mode (bot.py), as web.py lets
    nothing unverified through."""

    def __init__(self, payload: dict, *, raw_body: str, headers: dict[str, str], query: str):
        super().__init__(body=payload, query=query, headers=headers, mode="socket_mode")  # a dict body
        self.raw_body, self.mode = raw_body, "http"


def log_refusal(refusal: Refusal, *, size: int, source: str) -> None:
    log.warning("refused a request from %s (%s bytes): %s %s", source, size, refusal.status, refusal.reason)


def socket_refusal(req: SocketModeRequest) -> Refusal | None:
    """Why a Socket Mode envelope must not reach Bolt: it is acknowledged (so Slack does not retry
    it) and dropped, with one log line."""
    reason = payload_problem(req.payload)
    if reason is None:
        return None
    refusal = Refusal(400, reason)
    log_refusal(refusal, size=len(json.dumps(req.payload, default=str)), source="Socket Mode")
    return refusal
