"""A local Slack: the Web API / Socket Mode / response_url server, payload builders and a signed
HTTP sender, modelled on Slack's docs and able to fail the way Slack does. The tests run Tandem
against it (tests/slack re-exports it) and so does the sandbox. See server.py for what LocalSlack
implements."""

from templates.blockkit import check_blocks, check_view

from . import payloads
from .latency import METHOD_TIERS, Latency
from .payloads import (
    action,
    app_home_opened,
    block_actions,
    event_callback,
    message_action,
    message_event,
    shortcut,
    slash_command,
    state_value,
    url_verification,
    view_closed,
    view_submission,
)
from .server import (
    ADMIN,
    ALICE,
    BOB,
    CHEN,
    GENERAL,
    ApiError,
    Call,
    LocalSlack,
    ResponsePost,
    ServerThread,
    UploadedFile,
)
from .signing import Response, SlackSender

__all__ = [
    "ADMIN",
    "ALICE",
    "BOB",
    "CHEN",
    "GENERAL",
    "ApiError",
    "Call",
    "METHOD_TIERS",
    "Latency",
    "LocalSlack",
    "Response",
    "ResponsePost",
    "ServerThread",
    "SlackSender",
    "UploadedFile",
    "action",
    "app_home_opened",
    "block_actions",
    "check_blocks",
    "check_view",
    "event_callback",
    "message_action",
    "message_event",
    "payloads",
    "shortcut",
    "slash_command",
    "state_value",
    "url_verification",
    "view_closed",
    "view_submission",
]
