"""/digest template edit NAME (a modal with the template's text), history NAME and revert NAME VERSION.

The owner of a digest (or a workspace admin) edits its template in Slack; the text is checked
against the last complete period's data before it is saved (the same check as `template check`,
in the sandbox), and a broken one stays in the modal with the line and the error under the field
that holds it. Every save is a version (models/digests/versions.py).

Slack's text input holds at most 3,000 characters, so a longer template is shown in several
fields, cut at line ends; the fields are joined again with line breaks when saved.
"""

from __future__ import annotations

import json
from pathlib import Path

import templates
from clock import utcnow
from handlers.common import Services, admin_and_language, form_values, metadata_of, open_modal
from handlers.digests import digest_commands, rendering, sending
from handlers.listeners import Outcome
from models import keys
from models.db import session_scope
from models.digests import Digest, digests, versions
from models.errors import RuleError
from templates import sandbox

PART = 3000  # Slack's limit for one plain_text_input (max_length)
MAX_PARTS = versions.MAX_SOURCE // PART


def split_parts(source: str) -> list[str]:
    """The text in pieces of at most PART characters, cut only at line ends."""
    parts, lines = [], []
    for number, line in enumerate(source.split("\n"), start=1):
        if len(line) > PART:
            raise RuleError("digests.template_line_too_long", line=number, limit=f"{PART:,}")
        if lines and len("\n".join([*lines, line])) > PART:
            parts.append("\n".join(lines))
            lines = []
        lines.append(line)
    parts.append("\n".join(lines))
    if len(parts) > MAX_PARTS:
        raise RuleError("digests.template_too_long", length=f"{len(source):,}", limit=f"{versions.MAX_SOURCE:,}")
    return parts


def join_parts(parts: list[str]) -> str:
    return "\n".join(part for part in parts if part)


def field_of_line(parts: list[str], line: int) -> tuple[int, int]:
    """(the field holding the template's `line`, the line's number in that field)."""
    first = 1
    for index, part in enumerate(parts):
        count = part.count("\n") + 1 if part else 0
        if line < first + count:
            return index, line - first + 1
        first += count
    return max(len(parts) - 1, 0), line


def source_of(services: Services, digest: Digest, in_use) -> str:
    """The text the digest renders now: its Slack-edited version, or its named template's file."""
    if in_use is not None:
        return in_use.source
    directory = sending.team_dir(services)
    if digest.template != rendering.DEFAULT and rendering.exists(directory, digest.template):
        return (Path(directory) / rendering.template_file(digest.template)).read_text(encoding="utf-8")
    return (sandbox.DEFAULT_DIR / rendering.template_file(rendering.DEFAULT)).read_text(encoding="utf-8")


def template_command(services: Services, *, command: dict, words: list[str], language: str) -> dict | None:
    """/digest template check|edit|history|revert …"""
    action = words[0].lower() if words else ""
    if action == "check" and len(words) == 2:
        return digest_commands.template_check(services, command=command, words=words, language=language)
    if action == "edit" and len(words) == 2:
        return open_editor(services, command, words[1], language=language)
    if action == "history" and len(words) == 2:
        return show_history(services, command, words[1], language=language)
    if action == "revert" and len(words) == 3:
        return revert(services, command, words[1], words[2], language=language)
    raise RuleError("digests.template_usage")


def open_editor(services: Services, command: dict, name: str, *, language: str) -> dict | None:
    digest = digest_commands._own_digest(services, command, name)
    with session_scope(services.engine) as session:
        in_use = versions.current(session, digest=digest)
    parts = split_parts(source_of(services, digest, in_use))
    shown = parts + [""] * (len(parts) < MAX_PARTS)  # one empty field to grow into
    view = templates.render("digests/template_modal.yaml.j2", language=language, name=digest.name, parts=shown,
                            version=in_use.version if in_use else None, named=digest.template,
                            metadata=json.dumps({"digest": digest.id, "parts": len(shown)}))
    return open_modal(services, command["trigger_id"], view, language=language)


def submit(services: Services, body: dict) -> Outcome:
    """Check the text against the last period's data, then save it as a new version (the modal
    closes and the owner is told), or keep the modal open with the error under its field."""
    team_id, user_id = body["team"]["id"], body["user"]["id"]
    admin, language = admin_and_language(services, team_id, user_id)
    metadata, values = metadata_of(body["view"]), form_values(body["view"])
    parts = [(values.get(f"part{i}") or "").strip("\n") for i in range(int(metadata.get("parts") or 1))]
    source = join_parts(parts)
    try:
        with session_scope(services.engine) as session:
            digest = session.get(Digest, int(metadata["digest"]))
            if digest is None or digest.team_id != team_id:
                raise RuleError("digests.unknown_digest", name="?")
            digests.may_change(digest, actor=user_id, actor_is_admin=admin)
            session.expunge(digest)
        digest_commands.check_template(services, digest, language=language, source=versions.check_source(source))
        with session_scope(services.engine) as session:
            row = versions.save(session, digest_id=digest.id, source=source, actor=user_id, actor_is_admin=admin,
                                now=utcnow())
            if row is not None:
                told = digest_commands.notice(language, "template_saved", name=digest.name, version=row.version)
                # One confirmation per submitted modal, however often Slack retries the submission.
                services.delivery.queue(session, key=keys.digest_template_saved(digest.id, body["view"].get("id")),
                                        team_id=team_id, method="chat.postMessage", now=utcnow(), channel=user_id,
                                        text=told["text"], blocks=told["blocks"])
    except RuleError as error:
        block = 0
        if isinstance(error.params.get("line"), int):  # a broken line: under the field that holds it
            block, error.params["line"] = field_of_line(parts, error.params["line"])
        return Outcome.refused(error, language=language, block=f"part{block}")
    services.delivery.kick()
    return Outcome()


def show_history(services: Services, command: dict, name: str, *, language: str) -> dict:
    with session_scope(services.engine) as session:
        digest = digests.find_digest(session, team_id=command["team_id"], name=name)
        rows = [{"version": row.version, "by": row.saved_by, "at": row.saved_at, "from": row.reverted_from,
                 "in_use": row.version == digest.template_version}
                for row in versions.history(session, digest=digest)]
    return templates.render("digests/template_history.yaml.j2", language=language, name=digest.name,
                            named=digest.template, rows=rows[:40], more=max(0, len(rows) - 40))


def revert(services: Services, command: dict, name: str, version: str, *, language: str) -> dict:
    """An old version in use again, saved as the newest (checked first, as any save)."""
    digest = digest_commands._own_digest(services, command, name)
    admin, _ = admin_and_language(services, command["team_id"], command["user_id"])
    with session_scope(services.engine) as session:
        old = versions.find(session, digest=digest, version=version)
        source, number = old.source, old.version
    digest_commands.check_template(services, digest, language=language, source=source)
    with session_scope(services.engine) as session:
        row = versions.save(session, digest_id=digest.id, source=source, actor=command["user_id"],
                            actor_is_admin=admin, now=utcnow(), reverted_from=number)
    if row is None:
        return digest_commands.notice(language, "template_unchanged", name=digest.name, version=number)
    return digest_commands.notice(language, "template_reverted", name=digest.name, version=row.version, old=number)
