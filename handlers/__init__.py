"""Everything that speaks Slack. Each capability module has register(app, services)."""

from slack_bolt.async_app import AsyncApp

from handlers import approvals, digests, errors, events, help, outbox, requests, standups
from handlers.common import Services

__all__ = ["Services", "job_sources", "register"]


def register(app: AsyncApp, services: Services) -> None:
    errors.register(app, services)
    help.register(app, services)  # first: Bolt tries listeners in order, and /tandem help is the hot path
    outbox.register(app, services)
    requests.register(app, services)
    standups.register(app, services)
    approvals.register(app, services)
    digests.register(app, services)
    events.register(app, services)


def job_sources(services: Services) -> list:
    """Scheduler job sources of every capability: each reads its tables and yields Jobs."""
    return [*events.job_sources(services), *requests.job_sources(services), *standups.job_sources(services),
            *approvals.job_sources(services), *digests.job_sources(services)]
