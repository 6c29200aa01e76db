"""Weekly metric digests in Slack: /metric, /digest, the new-digest modal, the weekly job."""

from __future__ import annotations

import functools
import re

from slack_bolt.async_app import AsyncApp

from handlers.common import Services
from handlers.digests import digest_commands, importing, metric_commands, sending
from handlers.digests.api import MetricsApi
from handlers.listeners import subcommand_listener, view_listener

__all__ = ["MetricsApi", "job_sources", "register"]


def job_sources(services: Services) -> list:
    return sending.job_sources(services)


def _with_language(function):
    """A /digest subcommand, given the caller's language."""

    @functools.wraps(function)
    def run(services: Services, *, command: dict, words: list[str]):
        return function(services, command=command, words=words,
                        language=services.language_of(command["team_id"], command["user_id"]))

    return run


def _with_rest(function):
    """A /metric subcommand, given the raw text after the subcommand (CSV lines keep their line
    breaks, quoted labels their spaces) and the caller's language."""

    @functools.wraps(function)
    def run(services: Services, *, command: dict, words: list[str]):
        parts = re.split(r"\s+", (command.get("text") or "").strip(), maxsplit=1)
        return function(services, command=command, rest=parts[1] if len(parts) > 1 else "",
                        language=services.language_of(command["team_id"], command["user_id"]))

    return run


def register(app: AsyncApp, services: Services) -> None:
    # Imports and lookups may take a moment: every /metric subcommand answers through response_url.
    app.command("/metric")(subcommand_listener(
        services, subcommands={name: (_with_rest(f), True) for name, f in metric_commands.SUBCOMMANDS.items()},
        usage_template="digests/usage.yaml.j2", default="help", usage_context={"which": "metric"}))
    app.command("/digest")(subcommand_listener(
        services, subcommands={name: (_with_language(f), ack_first)
                               for name, (f, ack_first) in digest_commands.SUBCOMMANDS.items()},
        usage_template="digests/usage.yaml.j2", default="help", usage_context={"which": "digest"}))

    app.view("metric_import")(view_listener(services, importing.submit_import))
    app.view("digest_new")(view_listener(services, digest_commands.submit_new))
