"""Digest templates: Tandem's default and a team's own directory, rendered in Jinja's sandbox
with StrictUndefined, checked against Slack's limits, and split where a section or message is
too long for Slack. A broken template is a TemplateProblem naming the line and the error."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
import jinja2.sandbox
import yaml

import templates
from templates.blockkit import SECTION_TEXT, check_surface

DEFAULT = "default"
DEFAULT_DIR = templates.BLOCKS_DIR / "digests"
BLOCKS_PER_MESSAGE = 45  # under Slack's 50, leaving room for a continuation note


@dataclass
class TemplateProblem(Exception):
    template: str
    line: int | None
    error: str

    def __str__(self) -> str:
        return f"{self.template}, line {self.line}: {self.error}" if self.line else f"{self.template}: {self.error}"


def _number(value) -> str:
    if value is None:
        return "–"
    value = float(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _signed(value) -> str:
    if value is None:
        return "–"
    return ("+" if value > 0 else "−" if value < 0 else "±") + _number(abs(value))


@cache
def environment(team_dir: str) -> jinja2.Environment:
    loaders = [jinja2.FileSystemLoader(team_dir)] if team_dir else []
    loaders.append(jinja2.FileSystemLoader(str(DEFAULT_DIR)))
    env = templates._make_environment(jinja2.ChoiceLoader(loaders), sandboxed=True)
    env.filters.update(number=_number, signed=_signed)
    return env


def template_file(name: str) -> str:
    return f"{name}.yaml.j2"


def exists(team_dir: str, name: str) -> bool:
    return name == DEFAULT or bool(team_dir) and (Path(team_dir) / template_file(name)).is_file()


def _line_of(exc: BaseException, filename: str) -> int | None:
    if getattr(exc, "lineno", None):
        return exc.lineno
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and frame.filename.endswith(filename):
            return frame.lineno
    return None


def render(team_dir: str, name: str, *, language: str, context: dict) -> list[dict]:
    """The digest as one or more messages (the first is the digest; the rest go in its thread)."""
    filename = template_file(name)
    if not exists(team_dir, name):
        raise TemplateProblem(name, None, "no such template")
    gettext, ngettext = templates._gettext_for(language if language in templates.LANGUAGES else "en")
    try:
        text = environment(team_dir).get_template(filename).render(
            _=gettext, gettext=gettext, ngettext=ngettext, language=language, **context)
    except jinja2.TemplateError as exc:  # syntax errors, undefined names, the sandbox refusing
        raise TemplateProblem(name, _line_of(exc, filename), f"{type(exc).__name__}: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateProblem(name, _line_of(exc, filename), f"{type(exc).__name__}: {exc}") from exc
    try:
        payload = yaml.load(text, Loader=templates._YAML_LOADER)
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
            pieces.append(line[:limit])
            line = line[limit:]
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
