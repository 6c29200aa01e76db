"""One place for what no rule foresaw: log the traceback under a reference, show the user the reference."""

from __future__ import annotations

import logging
import secrets

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError

import templates
from handlers.common import Services

log = logging.getLogger("tandem.errors")


def new_reference() -> str:
    return "T-" + secrets.token_hex(3).upper()


def register(app: AsyncApp, services: Services) -> None:
    @app.error
    async def on_error(error, body):
        reference = new_reference()
        log.error("unexpected error, reference %s", reference, exc_info=error)
        body = body or {}
        response_url = body.get("response_url") or next(
            (r.get("response_url") for r in body.get("response_urls") or []), None
        )
        team_id = body.get("team_id") or (body.get("team") or {}).get("id")
        user_id = body.get("user_id") or (body.get("user") or {}).get("id")
        if not response_url or not team_id or not user_id:
            return  # events and modal submissions have no place to answer; the log has it
        try:
            language = await services.in_thread(services.language_of, team_id, user_id)
            message = templates.render("unexpected_error.yaml.j2", language=language, reference=reference)
            await services.in_thread(services.delivery.respond, response_url, message)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("could not tell the user about %s: %r", reference, exc)
