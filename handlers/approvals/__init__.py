"""Approvals: not built yet; /approval says so until it is."""

from slack_bolt.async_app import AsyncApp

from handlers.common import Services
from handlers.help import not_yet_listener


def register(app: AsyncApp, services: Services) -> None:
    app.command("/approval")(not_yet_listener(services))


def job_sources(services: Services) -> list:
    return []
