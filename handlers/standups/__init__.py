"""Daily standups in Slack: /standup, the prompt buttons, the answer modal, the minute tick."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers.common import Services
from handlers.listeners import command_listener
from handlers.standups import answering, history, running, setup


def job_sources(services: Services) -> list:
    return running.job_sources(services)


def register(app: AsyncApp, services: Services) -> None:
    app.command("/standup")(command_listener(
        services, usage_template="standups/usage.yaml.j2", default="help",
        ack_then={"new": setup.open_new, "edit": setup.open_edit, "edit-answer": answering.edit_answer},
        ack_with={"list": setup.list_reply, "pause": setup.pause, "resume": setup.resume, "delete": setup.delete,
                  "away": answering.away, "history": history.history, "stats": history.stats}))

    setup.register(app, services)
    answering.register(app, services)
