"""Digest templates: Tandem's default and a team's own directory, rendered in Jinja's sandbox
with StrictUndefined, checked against Slack's limits, and split where a section or message is
too long for Slack. A broken template is a TemplateProblem naming the line and the error.

Whenever a team's directory is in play (its templates may include or replace any other), the
render runs in a child process under the limits of templates/sandbox.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

import templates
from models.errors import RuleError
from templates import sandbox
from templates.blockkit import SECTION_TEXT, check_surface
from templates.cutting import cut

DEFAULT = "default"
SLACK_EDITED = "edited-in-slack.yaml.j2"  # the file name a template kept in the database renders under
BLOCKS_PER_MESSAGE = 45  # under Slack's 50, leaving room for a continuation note


@dataclass
class TemplateProblem(Exception):
    template: str
    line: int | None
    error: str
    limit: str | None = None  # "time", "output", "size" or "memory" when a sandbox limit stopped it

    def __str__(self) -> str:
        return f"{self.template}, line {self.line}: {self.error}" if self.line else f"{self.template}: {self.error}"

    def refusal(self) -> RuleError:
        """The problem as the user reads it (digests/errors.yaml.j2)."""
        if self.limit:
            return RuleError("digests.template_limit", name=self.template, limit=self.limit, line=self.line or "?",
                             seconds=f"{sandbox.TIME_LIMIT:g}", output=f"{sandbox.OUTPUT_LIMIT:,}",
                             range=f"{sandbox.RANGE_LIMIT:,}", size=f"{sandbox.SIZE_LIMIT:,}",
                             megabytes=sandbox.MEMORY_LIMIT // 2**20)
        return RuleError("digests.template_broken", name=self.template, line=self.line or "?",
                         error=self.error[:1500])


def template_file(name: str) -> str:
    return f"{name}.yaml.j2"


def exists(team_dir: str, name: str) -> bool:
    return name == DEFAULT or bool(team_dir) and (Path(team_dir) / template_file(name)).is_file()


def render(team_dir: str, name: str, *, language: str, context: dict, source: str | None = None) -> list[dict]:
    """The digest as one or more messages (the first is the digest; the rest go in its thread).
    With `source`, that text (a template edited in Slack) is the template, `name` what it is called."""
    if source is None and not exists(team_dir, name):
        raise TemplateProblem(name, None, "no such template")
    arguments = (team_dir, SLACK_EDITED if source is not None else template_file(name), language, context, source)
    try:  # a team's template may do anything: render it in the sandbox's child process
        outcome, *found = sandbox.render_in_child(*arguments) if team_dir or source is not None \
            else sandbox.render_text(*arguments)
    except sandbox.LimitExceeded as stopped:
        raise TemplateProblem(name, None, str(stopped), limit=stopped.limit) from None
    if outcome == "problem":
        raise TemplateProblem(name, *found)
    try:
        payload = yaml.load(found[0], Loader=templates._YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise TemplateProblem(name, None, f"the output is not valid YAML (output line "
                              f"{mark.line + 1 if mark else '?'}): {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("blocks", []), list):
        raise TemplateProblem(name, None, "the output must be a mapping with text and blocks")
    messages = split(payload)
    for message in messages:
        problems = check_surface(message)
        if problems:
            raise TemplateProblem(name, None, "; ".join(problems))
    return messages


def _split_text(text: str, limit: int) -> list[str]:
    """Cut at line ends (or hard, for a line longer than the limit), each piece at most `limit`."""
    pieces, current = [], ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            piece = cut(line, limit, end="") or line[:limit]  # not inside an entity or a character
            pieces.append(piece)
            line = line[len(piece):]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            candidate = line
        current = candidate
    if current:
        pieces.append(current)
    return pieces


def split(payload: dict) -> list[dict]:
    """Long section texts become several sections; more blocks than fit become several messages."""
    blocks = []
    for block in payload.get("blocks") or []:
        text = (block.get("text") or {}) if block.get("type") == "section" else {}
        if isinstance(text.get("text"), str) and len(text["text"]) > SECTION_TEXT:
            for piece in _split_text(text["text"], SECTION_TEXT):
                blocks.append({**{k: v for k, v in block.items() if k != "block_id"},
                               "text": {**text, "text": piece}})
        else:
            blocks.append(block)
    chunks = [blocks[i:i + BLOCKS_PER_MESSAGE] for i in range(0, len(blocks), BLOCKS_PER_MESSAGE)] or [[]]
    text = str(payload.get("text") or "")
    messages = [{"text": text, "blocks": chunks[0]}]
    for index, chunk in enumerate(chunks[1:], start=2):
        messages.append({"text": f"{text} ({index}/{len(chunks)})", "blocks": chunk})
    return messages
