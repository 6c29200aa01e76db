"""Everything that speaks Slack. Each capability module has register(app, services)."""

from slack_bolt.async_app import AsyncApp

from handlers import errors, help
from handlers.common import Services

__all__ = ["Services", "register"]


def register(app: AsyncApp, services: Services) -> None:
    errors.register(app, services)
    help.register(app, services)
