"""Slash command text the way Slack sends it, per the manifest's `should_escape`.

Slack's docs (https://docs.slack.dev/interactivity/implementing-slash-commands/, "Escape channels,
users, and links sent to your app"): with escaping on, a mention the composer recognised arrives as
`<@U012ABCDEF|ilya>` and a channel as `<#C012ABCDEF|general>`; with it off the text arrives as
typed, `@ilya` and `#general`. Tests write either form; this turns it into what Slack would send
for that command, so no test passes on text Slack never sends. A name Slack does not know stays
as typed in both cases (the worst plausible case: the app must answer it).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from .server import LocalSlack

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yaml"
_ESCAPED_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_ESCAPED_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
_TYPED_USER = re.compile(r"(?<![\w<|])@([\w.\-]+)")
_TYPED_CHANNEL = re.compile(r"(?<![\w<|&])#([\w\-]+)")


@cache
def should_escape(command: str) -> bool:
    """The command's should_escape in manifest.yaml (Slack's default when absent: off)."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    for entry in manifest["features"]["slash_commands"]:
        if entry["command"] == command:
            return bool(entry.get("should_escape", False))
    return False


def as_sent(slack: LocalSlack, command: str, text: str) -> str:
    with slack._lock:
        users = {uid: u["name"] for uid, u in slack._users.items() if not u["deleted"]}
        channels = {cid: c["name"] for cid, c in slack._convs.items() if c.get("name")}
    if slack.escape_overrides.get(command, should_escape(command)):
        by_name = {name: uid for uid, name in users.items()}
        by_channel = {name: cid for cid, name in channels.items()}
        text = _ESCAPED_USER.sub(lambda m: f"<@{m[1]}|{users.get(m[1], m[2] or m[1].lower())}>", text)
        text = _TYPED_USER.sub(lambda m: f"<@{by_name[m[1]]}|{m[1]}>" if m[1] in by_name else m[0], text)
        return _TYPED_CHANNEL.sub(lambda m: f"<#{by_channel[m[1]]}|{m[1]}>" if m[1] in by_channel else m[0], text)
    # Escaping off: what the person typed, i.e. the name shown in the composer.
    text = _ESCAPED_USER.sub(lambda m: "@" + users.get(m[1], m[2] or m[1]), text)
    return _ESCAPED_CHANNEL.sub(lambda m: "#" + channels.get(m[1], m[2] or m[1]), text)
