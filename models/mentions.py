"""Slack ids as people type them: an escaped mention (`<@U123|olga>`, `<!subteam^S123|ops>`), an
`@U123`, or the bare id. One reading for every command and for the approvals YAML."""

from __future__ import annotations

import re

USER = re.compile(r"^<?@?([UW][A-Z0-9]{2,20})(\|[^>]*)?>?$")
GROUP = re.compile(r"^<?!?(?:subteam\^)?(S[A-Z0-9]{2,20})(\|[^>]*)?>?$")


def user_id(text) -> str | None:
    """The user id `text` names, or None."""
    match = USER.match(str(text).strip())
    return match.group(1) if match else None


def group_id(text) -> str | None:
    """The user group id `text` names, or None."""
    match = GROUP.match(str(text).strip())
    return match.group(1) if match else None
