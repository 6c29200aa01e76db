"""Weekly metric digests in Slack: /metric, /digest, the new-digest modal, the weekly job."""

from __future__ import annotations

import functools
import re

from slack_bolt.async_app import AsyncApp

from handlers.common import Services
from handlers.digests import digest_commands, importing, metric_commands, sending, template_editing
from handlers.digests.api import MetricsApi
from handlers.listeners import ack_with, command_listener
from templates import sandbox

__all__ = ["MetricsApi", "job_sources", "register"]


def job_sources(services: Services) -> list:
    return sending.job_sources(services)


def _with_language(functions: dict) -> dict:
    """/digest subcommands, each given the caller's language."""

    def given_language(function):
        @functools.wraps(function)
        def run(services: Services, *, command: dict, words: list[str]):
            return function(services, command=command, words=words,
                            language=services.language_of(command["team_id"], command["user_id"]))

        return run

    return {word: given_language(function) for word, function in functions.items()}


def _with_rest(functions: dict) -> dict:
    """/metric subcommands, each given the raw text after the subcommand (CSV lines keep their line
    breaks, quoted labels their spaces) and the caller's language."""

    def given_rest(function):
        @functools.wraps(function)
        def run(services: Services, *, command: dict, words: list[str]):
            parts = re.split(r"\s+", (command.get("text") or "").strip(), maxsplit=1)
            return function(services, command=command, rest=parts[1] if len(parts) > 1 else "",
                            language=services.language_of(command["team_id"], command["user_id"]))

        return run

    return {word: given_rest(function) for word, function in functions.items()}


def register(app: AsyncApp, services: Services) -> None:
    if services.settings.digest_templates_dir:
        sandbox.start_in_background()  # the first check of a team template must not wait for it
    m, d = metric_commands, digest_commands
    # Imports and lookups may take a moment: every /metric subcommand answers through response_url.
    app.command("/metric")(command_listener(
        services, usage_template="digests/usage.yaml.j2", default="help", usage_context={"which": "metric"},
        ack_then=_with_rest({"define": m.define, "record": m.record, "list": m.list_metrics, "show": m.show,
                             "import": m.import_csv}),
        ack_with={}))
    # Rendering a week, posting and checking a template take a while: only list answers in the ack.
    app.command("/digest")(command_listener(
        services, usage_template="digests/usage.yaml.j2", default="help", usage_context={"which": "digest"},
        ack_then=_with_language({"new": d.open_new, "edit": d.edit, "pause": d.pause, "resume": d.resume,
                                 "delete": d.delete, "preview": d.preview, "send": d.send_now, "resend": d.resend,
                                 "template": template_editing.template_command}),
        ack_with=_with_language({"list": d.list_digests})))

    app.view("metric_import")(ack_with(services, importing.submit_import))
    app.view("digest_new")(ack_with(services, d.submit_new))
    app.view("digest_template")(ack_with(services, template_editing.submit))
    services.delivery.late[sending.CHART] = functools.partial(sending.chart_args, services)
