"""Logging: human-readable text (the default) or, with LOG_FORMAT=json, one JSON object a line
(python-json-logger) carrying what lets an operator follow one interaction across threads:
team, user, listener, Slack's request id (envelope id in Socket Mode, event id for events),
the outbox key of a message being sent, the key of a scheduled job being run.

The context lives in contextvars: set where the work starts (metrics.instrument for a payload,
delivery for a message, the scheduler for a run) and carried into worker threads by
Services.in_thread. Log lines never carry a request body, a token or a user's free text at
INFO or above: only ids, keys, method names and Slack's error codes.
"""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("team", "user", "listener", "request_id", "outbox_key", "job_key")
CONTEXT: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"tandem_log_{name}", default=None) for name in FIELDS
}


def bind(**values: str | None) -> None:
    """Set context fields for what this task or thread does from now on."""
    for name, value in values.items():
        CONTEXT[name].set(value)


def bind_payload(body: dict, kind: str) -> None:
    """The context of a Slack payload: ids only (never its text)."""
    event = body.get("event") or {}
    view = body.get("view") or {}
    actions = body.get("actions") or [{}]
    listener = {"command": body.get("command"), "action": actions[0].get("action_id"),
                "view": view.get("callback_id"), "shortcut": body.get("callback_id"),
                "event": event.get("type")}.get(kind)
    user = body.get("user_id") or event.get("user")
    if isinstance(body.get("user"), dict):
        user = body["user"].get("id") or user
    bind(team=body.get("team_id") or (body.get("team") or {}).get("id"), user=user,
         listener=f"{kind}:{listener}" if listener else kind,
         request_id=body.get("event_id") or CONTEXT["request_id"].get() or body.get("trigger_id"))


class bound:
    """`with bound(outbox_key=…):` context fields for a block of work on a long-lived thread."""

    def __init__(self, **values: str | None):
        self.values = values

    def __enter__(self) -> None:
        self.tokens = [(CONTEXT[name], CONTEXT[name].set(value)) for name, value in self.values.items()]

    def __exit__(self, *exc) -> None:
        for var, token in reversed(self.tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Copies the context fields onto every record (None when unset: JSON leaves those out)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class Formatter(JsonFormatter):
    def process_log_record(self, log_data: dict) -> dict:
        return {key: value for key, value in log_data.items() if value is not None}


def json_handler(stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(Formatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                   rename_fields={"levelname": "level", "name": "logger", "asctime": "time"}))
    handler.addFilter(ContextFilter())
    return handler


def configure(*, level: str, log_format: str) -> None:
    if log_format == "json":
        logging.basicConfig(level=level.upper(), handlers=[json_handler()], force=True)
    else:
        logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
