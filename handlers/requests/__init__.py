"""Requirement requests in Slack: /request, the shortcuts, the modal, the triage card, App Home."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.common import Services
from handlers.listeners import subcommand_listener
from handlers.requests import config, filing, finding, triage
from handlers.requests.finding import home_context
from handlers.requests.triage import on_message

__all__ = ["home_context", "job_sources", "on_message", "register"]

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


def register(app: AsyncApp, services: Services) -> None:
    app.command("/request")(subcommand_listener(
        services, subcommands=SUBCOMMANDS, usage_template="requests/usage.yaml.j2", default="new"))

    filing.register(app, services)
    triage.register(app, services)
    finding.register(app, services)
    config.register(app, services)
