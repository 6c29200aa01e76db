"""Malformed and hostile payloads for every kind of listener, as Hypothesis strategies.

`base(kind, slack)` is a well-formed payload of each kind Tandem listens to, shaped like Slack's
own. `malformed()` draws one that breaks the shape Slack documents (a required field missing or
of the wrong type, an id that is no id, metadata that is not JSON, a body that is not a payload at
all); `encode()` turns a payload into the body Slack would POST.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import urllib.parse

from hypothesis import strategies as st
from sqlmodel import SQLModel

from tests.slack import payloads

KINDS = ("command", "block_actions", "view_submission", "shortcut", "message_action", "event")
HOSTILE_TEXT = st.lists(st.sampled_from(list("<>&\"'\\\n\t\x00 aZ9@#!|*_~`") +
                                        ["中文", "\u05e9\u05dc\u05d5\u05dd", "\u202e", "e\u0301", "👍🏽", "<!channel>",
                                         "<@U0ALICE>", "&amp;", "{{ x }}", "%s", "REQ-1", "2026-W47", "12"]),
                        max_size=40).map("".join)
NOT_AN_ID = st.sampled_from(["", "<!channel>", "u0alice", "U" * 40, "U0 ALICE", "Ü0ALICE", "U0ALICE\n", "0x1F"])
NOT_A_STRING = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.just([]),
                         st.lists(st.integers(), min_size=1, max_size=3), st.just({}),
                         st.dictionaries(st.sampled_from(["id", "value", "type"]), st.integers(), min_size=1))
NOT_AN_OBJECT = st.one_of(st.integers(), st.booleans(), HOSTILE_TEXT, st.lists(st.integers(), max_size=3))
NOT_A_LIST = st.one_of(st.integers(), HOSTILE_TEXT, st.just({}), st.dictionaries(HOSTILE_TEXT, st.integers(),
                                                                                   max_size=2))
NOT_JSON_OBJECT_TEXT = st.sampled_from(["{", "not json", "[1, 2]", "42", '"text"', "null", "{'a': 1}", "\x00"])


def base(kind: str, slack) -> dict:
    """A well-formed payload of `kind`, aimed at a real listener of Tandem."""
    user, channel = payloads.DEFAULT_USER, payloads.DEFAULT_CHANNEL
    if kind == "command":
        return payloads.slash_command("/request", "list", user, channel, slack=slack)
    if kind == "block_actions":
        return payloads.block_actions(user, [payloads.action("request_accept", "1:1", block_id="request_card:1:1")],
                                      channel_id=channel, slack=slack)
    if kind == "view_submission":
        view = {"id": "V0HOSTILE", "type": "modal", "callback_id": "request_form", "hash": "1.abc",
                "private_metadata": json.dumps({"mode": "new", "kind": "feature"}), "blocks": []}
        values = {"title": {"value": payloads.state_value("plain_text_input", "A title")},
                  "kind": {"request_kind": payloads.state_value("static_select", "feature")}}
        return payloads.view_submission(user, view, values, slack=slack)
    if kind == "shortcut":
        return payloads.shortcut("request_new", user, slack=slack)
    if kind == "message_action":
        message = {"type": "message", "ts": "1700000000.000100", "user": user, "text": "Checkout is broken"}
        return payloads.message_action("request_from_message", message, channel, user, slack=slack)
    return payloads.event_callback(payloads.app_home_opened(user), slack=slack)


# Where each kind must hold what: (path, what belongs there, required). Deleting a required field
# or putting anything else there makes a payload Slack never sends.
SHAPES = {
    "command": [(("team_id",), "id", True), (("user_id",), "id", True), (("channel_id",), "id", True),
                (("command",), "command", True), (("trigger_id",), "text", True), (("response_url",), "text", True)],
    "block_actions": [(("type",), "type", True), (("team",), "object", True), (("team", "id"), "id", True),
                      (("user",), "object", True), (("user", "id"), "id", True), (("actions",), "list", True),
                      (("actions", 0), "object", True), (("actions", 0, "action_id"), "text", True),
                      (("actions", 0, "value"), "text", False), (("response_url",), "text", False),
                      (("channel",), "object", False), (("trigger_id",), "text", False)],
    "view_submission": [(("view",), "object", True), (("view", "id"), "text", True),
                        (("view", "callback_id"), "text", True), (("view", "private_metadata"), "metadata", False),
                        (("view", "state"), "object", False), (("view", "state", "values"), "object", True),
                        (("view", "state", "values", "title"), "object", False),  # a block left out: the form
                        (("view", "state", "values", "title", "value"), "object", False),  # says "fill this in"
                        (("view", "state", "values", "title", "value", "value"), "text", False),
                        (("user", "id"), "id", True), (("team", "id"), "id", True)],
    "shortcut": [(("callback_id",), "text", True), (("trigger_id",), "text", True), (("user",), "object", True),
                 (("user", "id"), "id", True), (("team", "id"), "id", True)],
    "message_action": [(("message",), "object", True), (("message", "ts"), "text", True),
                       (("channel",), "object", True), (("channel", "id"), "id", True),
                       (("callback_id",), "text", True), (("trigger_id",), "text", True)],
    "event": [(("team_id",), "id", True), (("event_id",), "text", True), (("event",), "object", True),
              (("event", "type"), "text", True), (("event", "user"), "id", False), (("type",), "type", True)],
}
WRONG = {"id": st.one_of(NOT_AN_ID, NOT_A_STRING), "text": NOT_A_STRING, "object": NOT_AN_OBJECT,
         "list": st.one_of(NOT_A_LIST, st.just([]), st.lists(st.integers(), min_size=1, max_size=2)),
         "command": st.one_of(st.sampled_from(["request", "", "/", "/re quest", "/" + "x" * 70]), NOT_A_STRING),
         "type": st.one_of(st.sampled_from(["", "block_action", "interactive_message", "<script>"]), NOT_A_STRING),
         "metadata": st.one_of(NOT_JSON_OBJECT_TEXT, NOT_A_STRING)}


def _set(payload: dict, path: tuple, value, *, delete: bool) -> None:
    holder = payload
    for step in path[:-1]:
        holder = holder[step]
    if delete:
        del holder[path[-1]]
    else:
        holder[path[-1]] = value


@st.composite
def malformed(draw, slack) -> tuple[str, bytes, str]:
    """(kind, body, content type) of a signed request Slack would never send."""
    kind = draw(st.sampled_from(KINDS))
    if draw(st.integers(0, 9)) == 0:  # not a payload at all
        body = draw(st.sampled_from([b"not json", b"[1, 2, 3]", b"{", b"\xff\xfe\x00", b"null", b"42", b"",
                                     b"payload=%7B", b"payload=%5B1%5D", b"payload=", b"payload=null",
                                     b'{"type": "event_callback"}', b"command=%2Frequest&text=list"]))
        return kind, body, draw(st.sampled_from(["application/json", "application/x-www-form-urlencoded"]))
    payload = copy.deepcopy(base(kind, slack))
    path, what, required = draw(st.sampled_from(SHAPES[kind]))
    if kind == "command":  # form fields are strings: only their absence or their form can be wrong
        delete = what == "text" or draw(st.booleans())
        wrong = NOT_AN_ID if what == "id" else WRONG["command"].filter(lambda value: isinstance(value, str))
        _set(payload, path, None if delete else draw(wrong), delete=delete)
    else:
        delete = required and draw(st.booleans())
        _set(payload, path, None if delete else draw(WRONG[what]), delete=delete)
    return (kind,) + encode(kind, payload)


def encode(kind: str, payload) -> tuple[bytes, str]:
    """The body and content type Slack POSTs for a payload of `kind`."""
    if kind == "command":
        return urllib.parse.urlencode(payload).encode(), "application/x-www-form-urlencoded"
    if kind == "event":
        return json.dumps(payload).encode(), "application/json"
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def snapshot(engine) -> dict:
    """Every row of every table, to compare before and after."""
    with engine.connect() as connection:
        return {table.name: sorted(map(repr, connection.execute(table.select()).all()))
                for table in SQLModel.metadata.sorted_tables}


def signed(secret: str, body: bytes) -> dict:
    """post() arguments signing any bytes (slack_sdk's helper insists on UTF-8)."""
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"timestamp": stamp, "signature": "v0=" + mac}
