"""The shapes of Tandem's Bolt listeners: a new listener is written one of these three ways.

Slack waits 3 seconds for the ack (and a trigger_id lives as long), so the shape is chosen by what
the ack carries, and it shows where the listener is registered:

    app.action("request_edit")(ack_then(services, filing.edit_from_button))
    app.view("request_form")(ack_with(services, filing.submit))
    app.command("/request")(command_listener(services, ack_then={"new": …}, ack_with={"list": …}, …))

- `ack_then(services, work)`: ack at once, then `work(services, body)` in a worker thread. For
  clicks, shortcuts and events: what the work has to say goes through the response_url, a modal
  or the outbox.
- `ack_with(services, submit)`: `submit(services, body)` runs first, in a worker thread, and
  returns an Outcome; the ack carries its fields (inline errors, an update; none closes the
  modal), then its notice is told privately and its follow-up runs. For modal submissions, and
  every one of them: it is where a replayed submission is answered once (handlers/submissions.py).
- Whatever runs before the ack (a submission's `submit`, an `ack_with` subcommand), and work that
  may open a modal (its payload has a trigger_id, which lives 3 s), runs under the ack budget
  (handlers/ack_budget.py): its Web API reads share ACK_BUDGET (0.8 s), then fall back.
- `command_listener`: a slash command's subcommands, each listed under its ack rule: `ack_then`
  for modal openers and slow work (the answer goes through the response_url), `ack_with` for
  quick answers carried by the ack. A broken rule becomes its translated message.

Bolt's lazy listeners (`ack=…, lazy=[…]`) are not used: Bolt runs a lazy function as a task of
its own on a copy of the request, and only logs its exceptions in one line, so the @app.error
handler (handlers/errors.py: a traceback under a reference, the reference shown to the user)
would never hear of a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import templates
from handlers.ack_budget import before_ack, note_trigger
from handlers.common import Services, plain, rule_error_message, tell, who
from handlers.submissions import once_per_submission
from models.errors import RuleError
from models.requests.forms import FormErrors
from templates.cutting import cut

INLINE_ERROR = 2000  # characters of an inline error under a field (a rule's words may quote a whole template error)


@dataclass
class Outcome:
    """How a modal submission ends: the ack (empty closes the modal), then maybe a notice and a follow-up."""

    ack: dict = field(default_factory=dict)
    notice: dict | None = None
    channel: str | None = None  # where the notice goes (ephemeral); else a DM
    then: Callable[[], None] | None = None  # slow work after the ack, in a worker thread

    @classmethod
    def errors(cls, errors: dict[str, str]) -> Outcome:
        """Keep the modal open with `errors` (block_id → plain text) under its fields."""
        return cls(ack={"response_action": "errors", "errors": errors})

    @classmethod
    def refused(cls, error: RuleError, *, language: str, block: str | None, channel: str | None = None) -> Outcome:
        """A broken rule, in words: under the field `block` (inline errors are plain text, cut after
        escaping: a rule's words may quote what a team wrote), or, when it is about no field, the
        modal closes and the words are told privately in `channel`."""
        message = rule_error_message(error, language=language)
        return cls.errors({block: plain(cut(message["text"], INLINE_ERROR))}) if block \
            else cls(notice=message, channel=channel)

    @classmethod
    def form_errors(cls, problems: FormErrors, *, template: str, language: str) -> Outcome:
        """Each field's problems, in the words of `template`, under that field."""
        listed = [(block, key, params) for block, (key, params) in problems.errors.items()]
        return cls.errors(templates.messages(template, language=language, errors=listed))


def ack_then(services: Services, work: Callable[[Services, dict], None]):
    """Ack at once, then `work(services, body)` in a worker thread."""

    async def listener(ack, body):
        note_trigger(body)
        await ack()
        # A payload with a trigger_id may open a modal within Slack's 3 s: its reads are bounded too.
        await services.in_thread(before_ack(work, in_ack=False) if body.get("trigger_id") else work, services, body)

    return listener


def ack_with(services: Services, submit: Callable[[Services, dict], Outcome]):
    """`submit(services, body)` in a worker thread; ack with its Outcome, then its notice and follow-up.
    Once per submission: a replayed submission gets the first one's ack, and nothing runs again."""

    async def listener(ack, body):
        outcome = await services.in_thread(before_ack(submit), services, body)
        await ack(**outcome.ack)
        if outcome.notice is not None:
            await services.in_thread(tell, services, user_id=who(body)[1], channel=outcome.channel,
                                     message=outcome.notice)
        if outcome.then is not None:
            await services.in_thread(outcome.then)

    return once_per_submission(services, listener)


def run_subcommand(services: Services, function, *, command: dict, words: list[str]) -> dict | None:
    """Run one slash subcommand; a broken rule becomes its translated message."""
    try:
        return function(services, command=command, words=words)
    except RuleError as error:
        return rule_error_message(error, language=services.language_of(command["team_id"], command["user_id"]))


def command_listener(services: Services, *, ack_then: dict, ack_with: dict, usage_template: str, default: str,
                     usage_context: dict | None = None):
    """The listener of a capability's slash command: `/request list …` → the subcommand "list",
    `function(services, command=…, words=[…])` returning its answer (or None). A word that is in
    neither table gets the capability's usage (rendered with `usage_context` too), translated."""

    async def listener(ack, command):
        words = (command.get("text") or "").split()
        sub = words[0].lower() if words else default
        if sub in ack_then:
            note_trigger(command)
            await ack()
            reply = await services.in_thread(before_ack(run_subcommand, in_ack=False), services, ack_then[sub],
                                             command=command, words=words[1:])
            if reply:
                await services.in_thread(services.delivery.respond, command["response_url"], reply)
        elif sub in ack_with:
            await ack(await services.in_thread(before_ack(run_subcommand), services, ack_with[sub], command=command,
                                               words=words[1:]))
        else:
            language = await services.in_thread(before_ack(services.language_of), command["team_id"],
                                                command["user_id"])
            await ack(templates.render(usage_template, language=language, unknown=None if sub == "help" else words[0],
                                       **(usage_context or {})))

    return listener
