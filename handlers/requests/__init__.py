"""Requirement requests in Slack: /request, the shortcuts, the modal, the triage card, App Home."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

import templates
from handlers.common import Services, rule_error_message
from handlers.requests import config, filing, finding, triage
from models.errors import RuleError

# /request subcommand → (function, acks first?). Modal openers and exports ack at once and answer
# later (trigger_id is good for 3 s; exports take a while); quick answers go back in the ack.
SUBCOMMANDS = {
    "new": (filing.open_new_modal, True),
    "edit": (filing.open_edit_modal, True),
    "config": (config.open_config_modal, True),
    "export": (finding.export, True),
    "list": (finding.list_reply, False),
    "show": (finding.show_reply, False),
}


def job_sources(services: Services) -> list:
    return [*config.job_sources(services)]


def run_subcommand(services: Services, function, *, command: dict, words: list[str]) -> dict | None:
    """Run one subcommand; a broken rule becomes its translated message."""
    try:
        return function(services, command=command, words=words)
    except RuleError as error:
        language = services.language_of(command["team_id"], command["user_id"])
        return rule_error_message(error, language=language)


def register(app: AsyncApp, services: Services) -> None:
    @app.command("/request")
    async def request_command(ack, command):
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else "new"
        if sub not in SUBCOMMANDS:
            language = await services.in_thread(services.language_of, command["team_id"], command["user_id"])
            await ack(templates.render("requests/usage.yaml.j2", language=language,
                                       unknown=None if sub == "help" else words[0]))
            return
        function, ack_first = SUBCOMMANDS[sub]
        if ack_first:
            await ack()
        reply = await services.in_thread(run_subcommand, services, function, command=command, words=words[1:])
        if not ack_first:
            await ack(reply)
        elif reply:
            await services.in_thread(services.delivery.respond, command["response_url"], reply)

    filing.register(app, services)
    triage.register(app, services)
    finding.register(app, services)
    config.register(app, services)
