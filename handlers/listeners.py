"""The shapes of Tandem's Bolt listeners."""

from __future__ import annotations

from dataclasses import dataclass, field

import templates
from handlers.common import Services, rule_error_message, tell, who
from models.errors import RuleError


@dataclass
class Outcome:
    """How a modal submission ends: the ack (empty closes the modal), then maybe a notice."""

    ack: dict = field(default_factory=dict)
    notice: dict | None = None
    channel: str | None = None  # where the notice goes (ephemeral); else a DM


def run_subcommand(services: Services, function, *, command: dict, words: list[str]) -> dict | None:
    """Run one slash subcommand; a broken rule becomes its translated message."""
    try:
        return function(services, command=command, words=words)
    except RuleError as error:
        return rule_error_message(error, language=services.language_of(command["team_id"], command["user_id"]))


def action_listener(services: Services, work):
    """A button's listener: ack at once (Slack waits 3 s), then `work(services, body, action)` in
    a worker thread; what it has to say goes through the response_url or a modal."""

    async def listener(ack, body, action):
        await ack()
        await services.in_thread(work, services, body, action)

    return listener


def view_listener(services: Services, submit):
    """A modal's submission listener: `submit(services, body=...)` in a worker thread returns the
    ack's fields (inline errors, an update) or None, which closes the modal."""

    async def listener(ack, body):
        answer = await services.in_thread(submit, services, body=body)
        await ack(**answer) if answer else await ack()

    return listener


def outcome_listener(services: Services, submit):
    """The listener of a modal whose `submit(services, body)` returns an Outcome: ack with it (inline
    errors, or close), then tell the notice privately."""

    async def listener(ack, body):
        outcome = await services.in_thread(submit, services, body)
        await ack(**outcome.ack)
        if outcome.notice is not None:
            await services.in_thread(tell, services, user_id=who(body)[1], channel=outcome.channel,
                                     message=outcome.notice)

    return listener


def subcommand_listener(services: Services, *, subcommands: dict, usage_template: str, default: str,
                        usage_context: dict | None = None):
    """The listener for a capability's slash command: `/request list …` → subcommands["list"].

    `subcommands` maps a word to (function, ack_first). Modal openers and slow work ack at once
    and answer through the response_url (trigger_id lives 3 s); quick answers go back in the ack.
    Anything else gets the capability's usage (rendered with `usage_context` too), translated.
    """

    async def listener(ack, command):
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else default
        if sub not in subcommands:
            language = await services.in_thread(services.language_of, command["team_id"], command["user_id"])
            await ack(templates.render(usage_template, language=language, unknown=None if sub == "help" else words[0],
                                       **(usage_context or {})))
            return
        function, ack_first = subcommands[sub]
        if ack_first:
            await ack()
        reply = await services.in_thread(run_subcommand, services, function, command=command, words=words[1:])
        if not ack_first:
            await ack(reply)
        elif reply:
            await services.in_thread(services.delivery.respond, command["response_url"], reply)

    return listener
