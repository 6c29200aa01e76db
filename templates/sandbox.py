"""The digest templates a team writes: rendered in Jinja's sandbox, under limits no template can escape.

Inside Jinja's sandbox, `range` holds at most RANGE_LIMIT items and `*` / `**` refuse results
over SIZE_LIMIT characters (or items, or bits): `{{ 'x' * 10**9 }}` stops at once. What the
sandbox cannot see (a loop that runs for ever, a filter that builds a huge string) is bounded
by rendering in a child process of its own: it is killed after TIME_LIMIT seconds and may use at
most MEMORY_LIMIT bytes more than it starts with. The caller only waits on a pipe, so no other
user's work waits with it (a render in a thread of the bot held the GIL and froze every ack).

A child is started ahead of need (Python and Jinja take a moment to import, more on a busy
machine), so the clock runs only while it renders.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
import threading
import traceback
from functools import cache
from pathlib import Path

import jinja2.sandbox
from babel.numbers import format_currency

import templates

TIME_LIMIT = 2.0  # seconds; a saved template is checked while Slack waits at most 3 s for the modal's ack
OUTPUT_LIMIT = 40_000  # characters of rendered output: ten times what Slack shows in a message
SIZE_LIMIT = OUTPUT_LIMIT  # characters or items a repetition may make; bits a number may have x 1.6
RANGE_LIMIT = 10_000
MEMORY_LIMIT = 256 * 1024 * 1024
DEFAULT_DIR = templates.BLOCKS_DIR / "digests"  # Tandem's own digest template, default.yaml.j2
_CHILD = [sys.executable, "-c", "from templates.sandbox import serve_one; serve_one()"]
_CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    filter(None, [str(Path(templates.__file__).resolve().parent.parent), os.environ.get("PYTHONPATH")]))}
_spare: subprocess.Popen | None = None  # the next render's child, importing already
_spare_lock = threading.Lock()


class LimitExceeded(Exception):
    """A render stopped by a limit: `limit` is "time", "output", "size" or "memory"."""

    def __init__(self, limit: str, detail: str = ""):
        super().__init__(detail or limit)
        self.limit = limit


class TooLarge(jinja2.sandbox.SecurityError):
    """Raised inside the template, so that its line is known."""


def limited_range(*args) -> range:
    numbers = range(*args)
    if len(numbers) > RANGE_LIMIT:
        raise TooLarge(f"range() of {len(numbers):,} items; at most {RANGE_LIMIT:,}")
    return numbers


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _too_large(operator: str, left, right) -> str | None:
    if operator == "**" and _is_int(left) and _is_int(right) and right > 0 \
            and left.bit_length() * right > SIZE_LIMIT * 1.6:
        return f"{left} ** {right} has more than {SIZE_LIMIT:,} digits"
    if operator == "*":
        if _is_int(left) and _is_int(right):
            if left.bit_length() + right.bit_length() > SIZE_LIMIT * 1.6:
                return f"a product of more than {SIZE_LIMIT:,} digits"
            return None
        times, sequence = (left, right) if _is_int(left) else (right, left)
        if _is_int(times) and isinstance(sequence, str | list | tuple) and len(sequence) * times > SIZE_LIMIT:
            return f"repeating {len(sequence):,} items {times:,} times; at most {SIZE_LIMIT:,}"
    return None


class LimitedSandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        problem = _too_large(operator, left, right)
        if problem:
            raise TooLarge(problem)
        return super().call_binop(context, operator, left, right)


def _number(value) -> str:
    if value is None:
        return "–"
    value = float(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _money(value, currency: str, language: str = "en") -> str:
    """An amount in its currency as the reader writes it: $46.51, CN¥46.51 in English, ¥46.51 in Chinese."""
    if value is None:
        return "–"
    return format_currency(value, currency, locale=language if language in templates.LANGUAGES else "en")


def _signed(value) -> str:
    if value is None:
        return "–"
    return ("+" if value > 0 else "−" if value < 0 else "±") + _number(abs(value))


@cache
def environment(team_dir: str) -> jinja2.Environment:
    loaders = [jinja2.FileSystemLoader(team_dir)] if team_dir else []
    loaders.append(jinja2.FileSystemLoader(str(DEFAULT_DIR)))
    env = templates._make_environment(jinja2.ChoiceLoader(loaders), sandbox=LimitedSandbox)
    env.filters.update(number=_number, signed=_signed, money=_money)
    env.globals["range"] = limited_range
    return env


def _line_of(exc: BaseException, filename: str) -> int | None:
    if getattr(exc, "lineno", None):
        return exc.lineno
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and frame.filename.endswith(filename):
            return frame.lineno
    return None


def render_text(team_dir: str, filename: str, language: str, context: dict, source: str | None = None) -> tuple:
    """("text", the output) or ("problem", line, error, limit): plain values, as they cross from the
    child process. The output stops once it passes OUTPUT_LIMIT. With `source` (a template a team
    edited in Slack, kept in the database) that text is the template `filename`; it may include or
    extend the team's files and Tandem's default as a file template may."""
    words = templates._gettext_for(language if language in templates.LANGUAGES else "en")
    pieces, size = [], 0
    env = environment(team_dir)
    if source is not None:
        # named `filename` (not "<template>" as a DictLoader's would be): errors are traced to its lines
        edited = jinja2.FunctionLoader(lambda name: (source, filename, lambda: True) if name == filename else None)
        env = env.overlay(loader=jinja2.ChoiceLoader([edited, env.loader]))
    try:
        for piece in env.get_template(filename).generate(**words, language=language, **context):
            size += len(piece)
            if size > OUTPUT_LIMIT:
                return "problem", None, f"more than {OUTPUT_LIMIT:,} characters of output", "output"
            pieces.append(piece)
    except TooLarge as exc:
        return "problem", _line_of(exc, filename), str(exc), "size"
    except MemoryError:
        return "problem", None, "MemoryError", "memory"
    except jinja2.TemplateError as exc:  # syntax errors, undefined names, the sandbox refusing
        return "problem", _line_of(exc, filename), f"{type(exc).__name__}: {exc}", None
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
        return "problem", _line_of(exc, filename), f"{type(exc).__name__}: {exc}", None
    return "text", "".join(pieces)


def _limit_memory() -> None:
    with open("/proc/self/statm") as statm:
        in_use = int(statm.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (in_use + MEMORY_LIMIT, in_use + MEMORY_LIMIT))


def serve_one() -> None:
    """The child process: once ready (imports done, catalogs compiled) it says so, then renders
    the one job it reads."""
    for language in templates.LANGUAGES:
        templates.translations(language)
    sys.stdout.buffer.write(b"ready\n")
    sys.stdout.flush()
    job = sys.stdin.buffer.read()
    if not job:
        return  # the bot stopped without needing this child
    _limit_memory()
    resource.setrlimit(resource.RLIMIT_CPU, (int(TIME_LIMIT) + 2, int(TIME_LIMIT) + 2))  # if the kill is late
    sys.stdout.buffer.write(json.dumps(render_text(*pickle.loads(job))).encode())


def start_in_background() -> None:
    """Start a child ahead of the first render."""
    global _spare
    with _spare_lock:
        if _spare is None:
            _spare = subprocess.Popen(_CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_CHILD_ENV)


def _take_child() -> subprocess.Popen:
    """The child started ahead (or a new one), and another started for the next render."""
    global _spare
    with _spare_lock:
        child = _spare or subprocess.Popen(_CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_CHILD_ENV)
        _spare = subprocess.Popen(_CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_CHILD_ENV)
    return child


def render_in_child(team_dir: str, filename: str, language: str, context: dict, source: str | None = None, *,
                    seconds: float = TIME_LIMIT) -> tuple:
    """render_text() in a child process; LimitExceeded when it has not answered within `seconds`
    of starting to render, or stopped without answering (out of memory)."""
    child = _take_child()
    if child.stdout.readline() != b"ready\n":
        child.kill()
        child.wait()
        raise RuntimeError(f"the template process did not start (exit code {child.returncode})")
    try:
        answer, _ = child.communicate(pickle.dumps((team_dir, filename, language, context, source)), timeout=seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise LimitExceeded("time", f"took longer than {seconds:g} s") from None
    if child.returncode or not answer:
        raise LimitExceeded("memory", f"stopped without an answer (exit code {child.returncode})")
    return tuple(json.loads(answer))
