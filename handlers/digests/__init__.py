"""Weekly metric digests in Slack: /metric, /digest, the new-digest modal, the weekly job."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

import templates
from handlers.common import Services, rule_error_message
from handlers.digests import digest_commands, importing, metric_commands, sending
from handlers.digests.api import MetricsApi
from models.errors import RuleError

__all__ = ["MetricsApi", "job_sources", "register"]


def job_sources(services: Services) -> list:
    return sending.job_sources(services)


def _run(services: Services, function, command: dict, **kwargs) -> dict | None:
    language = services.language_of(command["team_id"], command["user_id"])
    try:
        return function(services, command=command, language=language, **kwargs)
    except RuleError as error:
        return rule_error_message(error, language=language)


def _usage(services: Services, command: dict, which: str, unknown: str | None) -> dict:
    language = services.language_of(command["team_id"], command["user_id"])
    return templates.render("digests/usage.yaml.j2", language=language, which=which, unknown=unknown)


def register(app: AsyncApp, services: Services) -> None:
    @app.command("/metric")
    async def metric_command(ack, command):
        parts = re.split(r"\s+", (command.get("text") or "").strip(), maxsplit=1)
        sub, rest = parts[0].lower(), parts[1] if len(parts) > 1 else ""
        function = metric_commands.SUBCOMMANDS.get(sub)
        if function is None:
            await ack(await services.in_thread(_usage, services, command, "metric",
                                               None if sub in ("", "help") else parts[0]))
            return
        await ack()  # imports and lookups may take a moment: answer through response_url
        reply = await services.in_thread(_run, services, function, command, rest=rest)
        if reply:  # None: a modal was opened instead
            await services.in_thread(services.delivery.respond, command["response_url"], reply)

    @app.command("/digest")
    async def digest_command(ack, command):
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else ""
        if sub not in digest_commands.SUBCOMMANDS:
            await ack(await services.in_thread(_usage, services, command, "digest",
                                               None if sub in ("", "help") else words[0]))
            return
        function, ack_first = digest_commands.SUBCOMMANDS[sub]
        if ack_first:
            await ack()
        reply = await services.in_thread(_run, services, function, command, words=words[1:])
        if not ack_first:
            await ack(reply)
        elif reply:
            await services.in_thread(services.delivery.respond, command["response_url"], reply)

    @app.view("metric_import")
    async def on_import(ack, body):
        errors = await services.in_thread(importing.submit_import, services, body)
        await ack(**errors) if errors else await ack()

    @app.view("digest_new")
    async def on_new(ack, body):
        errors = await services.in_thread(digest_commands.submit_new, services, body)
        await ack(**errors) if errors else await ack()
