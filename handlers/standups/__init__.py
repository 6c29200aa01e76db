"""Daily standups in Slack: /standup, the prompt buttons, the answer modal, the minute tick."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.common import Services
from handlers.listeners import subcommand_listener
from handlers.standups import answering, history, running, setup

# /standup subcommand → (function, acks first?): modal openers ack at once and answer later.
SUBCOMMANDS = {
    "new": (setup.open_new, True),
    "edit": (setup.open_edit, True),
    "edit-answer": (answering.edit_answer, True),
    "list": (setup.list_reply, False),
    "pause": (setup.pause, False),
    "resume": (setup.resume, False),
    "delete": (setup.delete, False),
    "away": (answering.away, False),
    "history": (history.history, False),
    "stats": (history.stats, False),
}


def job_sources(services: Services) -> list:
    return running.job_sources(services)


def register(app: AsyncApp, services: Services) -> None:
    app.command("/standup")(subcommand_listener(
        services, subcommands=SUBCOMMANDS, usage_template="standups/usage.yaml.j2", default="help"))

    setup.register(app, services)
    answering.register(app, services)
