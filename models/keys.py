"""The outbox's keys: the name every queued Slack call is kept under, built and read back only here.

A key is unique in the outbox, so queueing the same message twice (a Slack retry, a double
click, two replicas) leaves one row; and a key is how later messages find an earlier one: an
edit (chat.update by `$ref`), a thread reply (`$thread`), a link (`$permalink`), a reply in a
card's thread mapped back to its request. Keys are stored, so a format here is a schema: change
one only with the rows it names in mind.

Each builder is called with its fields in order: `keys.request_card(request.id)`.
"""

from __future__ import annotations

import re
from string import Formatter


class Key:
    """A key format; calling it with the format's fields, in order, builds a key."""

    def __init__(self, pattern: str):
        self.pattern = pattern
        self.fields = [name for _text, name, _spec, _conversion in Formatter().parse(pattern) if name]

    def __call__(self, *values) -> str:
        return self.pattern.format(**dict(zip(self.fields, values, strict=True)))

    def parse(self, key: str | None) -> dict[str, str] | None:
        """The fields of `key` if this format built it (no field holds a colon), else None."""
        regex = "".join(re.escape(text) + (f"(?P<{name}>[^:]+)" if name else "")
                        for text, name, _spec, _conversion in Formatter().parse(self.pattern))
        match = re.fullmatch(regex, key or "")
        return match.groupdict() if match else None


# Any posted message: version `version` of it (a chat.update by reference).
edit = Key("{key}:v{version}")

# requests
request_card = Key("request:{request_id}:card")  # the card in the triage channel; its thread is the history
request_filed_dm = Key("request:{request_id}:dm:filed")
request_filed_home = Key("request:{request_id}:filed:home")
request_change = Key("request:{request_id}:event:{event_id}:{what}")  # what: "thread", "dm", "home:{user}"
requests_config_saved = Key("requests:config:{team_id}:{view_id}")
sla_reminder = Key("requests:sla:{team_id}:{day}")  # day: the local date

# activities (requests of kind activity with goals)
activity_progress = Key("activity:{request_id}:progress:{day}")  # the day's line in the card's thread
activity_card = Key("{card}:progress:{day}")  # the card edited in place with the day's progress
activity_dm = Key("activity:{request_id}:dm:{what}:{user}")  # what: "at_risk", "no_data.0", "review.ask", …
activity_review_post = Key("activity:{request_id}:review:{where}")  # where: "thread", "triage"
activity_template_saved = Key("activity:{request_id}:template")

# approvals
approval_card = Key("approval:{run_id}:{stage}:{seat}:card")  # a seat's card (to the approver or their deputy)
approval_dm = Key("approval:{run_id}:dm:{about}:{user}")  # about: "started", a decision id, "reset:{round}", …
approval_reminder = Key("approval:{run_id}:{stage}:remind:{seat}")
approvals_config_saved = Key("approvals:config:{team_id}:{view_id}")

# standups
standup_dm = Key("standup:run:{run_id}:{user_id}:{kind}")  # kind: "prompt", "nudge:60"
standup_answered = Key("{dm}:answered")  # the prompt or nudge DM turned into "answered"
standup_report = Key("standup:run:{run_id}:report")
standup_answer = Key("standup:run:{run_id}:report:answer:{user_id}")  # in the report's thread (big standups)
standup_saved = Key("standups:saved:{view_id}:{view_hash}")

# digests
# The first message of a period's digest; period: 2026-W46, 2026-11, 2026-Q4 (sends recorded before
# 0013 keep the Monday's date in their stored message_key, and are found by it).
digest_send = Key("digests:{digest_id}:{period}:{slot}")
digest_part = Key("{first}:{index}")  # its index-th message (1, 2, …), in the first one's thread
digest_owner_notice = Key("{first}:owner")  # the owner told the team template broke
digest_saved = Key("digests:saved:{digest_id}:{view_id}")
digest_template_saved = Key("digests:template:{digest_id}:{view_id}")  # the owner told a template version was saved
metric_import_report = Key("digests:import:{view_id}")



def request_of_card(key: str | None) -> int | None:
    """The request whose card was posted under `key`; None for any other message."""
    fields = request_card.parse(key)
    return int(fields["request_id"]) if fields and fields["request_id"].isdigit() else None


def handed_over(card: str, deputy: str = "") -> str:
    """A copy of a waiting approval card sent to a deputy when the delegation was set (with no
    deputy given: what the keys of all the card's copies start with)."""
    return f"{card}:to:{deputy}"

# direct messages to Tandem (message.im)
dm_help = Key("dm_help:{team_id}:{user_id}:{hour}")  # hour: UTC "YYYYMMDDHH"; the answer to a DM
