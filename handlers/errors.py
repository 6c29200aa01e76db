"""One place for what no rule foresaw: log the traceback under a reference, show the user the reference.

Nothing unforeseen becomes an HTTP 500 for Slack to show as a bare failure: when the listener had
not acknowledged yet, the acknowledgement itself carries the message (a submitted modal gets a
small modal pushed over it, so what the user typed is still there beneath); otherwise the message
goes through the response_url when the payload has one.
"""

from __future__ import annotations

import logging
import secrets

from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError

import templates
from handlers.common import Services

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
        body = body or {}
        if isinstance(error, BoltUnhandledRequestError):  # Bolt answers 404: one line, not a code sample
            log.warning("nothing answered a %s payload (no listener for it, or none acknowledged within 3 s)",
                        str(body.get("type") or body.get("command") or "?")[:40])
            return None
        reference = new_reference()
        log.error("unexpected error, reference %s", reference, exc_info=error)
        response_url = body.get("response_url") or next(
            (r.get("response_url") for r in body.get("response_urls") or []), None
        )
        team_id, user_id = _who(body)
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
