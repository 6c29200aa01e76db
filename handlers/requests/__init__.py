"""Requirement requests in Slack: /request, the shortcuts, the modal, the triage card, App Home."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.common import Services
from handlers.listeners import command_listener
from handlers.requests import activities, config, filing, finding, triage
from handlers.requests.finding import home_context
from handlers.requests.triage import on_message

__all__ = ["home_context", "job_sources", "on_message", "register"]

def job_sources(services: Services) -> list:
    return [*config.job_sources(services), *activities.job_sources(services)]


def register(app: AsyncApp, services: Services) -> None:
    app.command("/request")(command_listener(  # exports take a while: they answer later too
        services, usage_template="requests/usage.yaml.j2", default="new",
        ack_then={"new": filing.open_new_modal, "edit": filing.open_edit_modal, "config": config.open_config_modal,
                  "export": finding.export},
        ack_with={"list": finding.list_reply, "show": finding.show_reply}))

    filing.register(app, services)
    triage.register(app, services)
    finding.register(app, services)
    config.register(app, services)
