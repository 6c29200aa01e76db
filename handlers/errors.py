"""One place for what no rule foresaw: log the traceback under a reference, show the user the reference.

Nothing unforeseen becomes an HTTP 500 for Slack to show as a bare failure: when the listener had
not acknowledged yet, the acknowledgement itself carries the message (a submitted modal gets a
small modal pushed over it, so what the user typed is still there beneath); otherwise the message
goes through the response_url when the payload has one.

When the database cannot be reached, the user is told so instead (translated without asking the
database: the language this process remembers for them, else the workspace default setting), in
the ack when it has not been sent yet (a slash command's reply, a modal's inline error), else
through the response_url, else in a modal opened with the trigger_id.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError

import templates
from handlers.common import Services
from models.db import database_unavailable, error_summary

log = logging.getLogger("tandem.errors")


def new_reference() -> str:
    return "T-" + secrets.token_hex(3).upper()


def _who(body: dict) -> tuple[str | None, str | None]:
    team, user = body.get("team"), body.get("user")
    team_id = body.get("team_id") or (team.get("id") if isinstance(team, dict) else None)
    user_id = body.get("user_id") or (user.get("id") if isinstance(user, dict) else None)
    return team_id, user_id


def register(app: AsyncApp, services: Services) -> None:
    @app.error
    async def on_error(error, body, response):
        if response is None:
            # Acked already. Bolt's asyncio runner looks for the ack every 10 ms and sets it back to None
            # once this handler returns (slack_bolt/listener/asyncio_runner.py): let it see the ack
            # first, or a listener that fails within 10 ms of acking loses its ack (HTTP 404).
            await asyncio.sleep(0.02)
        body = body or {}
        if isinstance(error, BoltUnhandledRequestError):  # Bolt answers 404: one line, not a code sample
            log.warning("nothing answered a %s payload (no listener for it, or none acknowledged within 3 s)",
                        str(body.get("type") or body.get("command") or "?")[:40])
            return None
        response_url = body.get("response_url") or next(
            (r.get("response_url") for r in body.get("response_urls") or []), None
        )
        team_id, user_id = _who(body)
        if database_unavailable(error):
            log.warning("the database is unreachable (%s); telling the user", error_summary(error))
            if not team_id or not user_id:
                return None  # an event: no one to tell (one that failed before its ack, Slack sends again)
            return await database_down(services, body, response, response_url=response_url,
                                       language=services.known_language(team_id, user_id)
                                       or services.settings.default_language)
        reference = new_reference()
        log.error("unexpected error, reference %s", reference, exc_info=error)
        if not team_id or not user_id or (response is None and not response_url):
            return None  # events have no one to answer; the log has it
        try:
            language = await services.in_thread(services.language_of, team_id, user_id)
            if response is not None and body.get("type") == "view_submission":
                view = templates.render("unexpected_error_modal.yaml.j2", language=language, reference=reference)
                return BoltResponse(status=200, body={"response_action": "push", "view": view})
            message = templates.render("unexpected_error.yaml.j2", language=language, reference=reference)
            if response is not None and body.get("command"):
                return BoltResponse(status=200, body=message)  # the slash command's answer
            if response_url:
                await services.in_thread(services.delivery.respond, response_url, message)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("could not tell the user about %s: %r", reference, exc)
        return BoltResponse(status=200, body="") if response is not None else None


async def database_down(services: Services, body: dict, response: BoltResponse | None, *,
                        response_url: str | None, language: str) -> BoltResponse | None:
    """Tell the user the database is unreachable; returns the ack when it is still to be sent."""
    message = templates.render("database_unreachable.yaml.j2", language=language, modal=False)
    unacked = response is not None
    if unacked and body.get("type") == "view_submission":
        field = next((block["block_id"] for block in body["view"].get("blocks") or []
                      if block.get("type") == "input" and block.get("block_id")), None)
        if field:  # the modal stays open with what was typed, to submit again shortly
            return BoltResponse(status=200, body={"response_action": "errors", "errors": {field: message["text"]}})
        modal = templates.render("database_unreachable.yaml.j2", language=language, modal=True)
        return BoltResponse(status=200, body={"response_action": "update", "view": modal})
    if unacked and body.get("command"):
        return BoltResponse(status=200, body=message)
    try:
        if response_url:
            await services.in_thread(services.delivery.respond, response_url, message)
        elif body.get("trigger_id"):  # a shortcut or an App Home button: no response_url, 3 s to open a modal
            modal = templates.render("database_unreachable.yaml.j2", language=language, modal=True)
            await services.in_thread(services.delivery.call, "views.open", trigger_id=body["trigger_id"], view=modal)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("could not tell the user the database is unreachable: %r", exc)
    return BoltResponse(status=200, body="") if unacked else None
