"""Every word a user reads, and the one `render()` that turns a template into Block Kit.

Templates are Jinja producing YAML (`templates/blocks/*.yaml.j2`). Every `{{ … }}` output
passes through `_finalize`: user text is escaped for Slack mrkdwn (`&`, `<`, `>`, so a typed
`<!channel>` never pings anyone) and for a YAML double-quoted string, so templates always
write text values inside double quotes: `text: "{{ _('Hello') }}, {{ name }}"`. Values that
must reach Slack as markup (mentions, links Tandem builds) are wrapped in `Raw` by filters.

User text in a size-limited field goes through `fit(N)`: escaped first, then cut to N characters
of the escaped text (Slack counts `&amp;` as five), never inside an entity or a character.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import jinja2
import yaml
from babel.support import NullTranslations

from templates.cutting import clip_surface, cut

# libyaml's safe loader parses ten times faster than the pure-Python one; same results.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
log = logging.getLogger("tandem.templates")
HERE = Path(__file__).resolve().parent
BLOCKS_DIR = HERE / "blocks"
LOCALE_DIR = HERE / "locale"
LANGUAGES = ("en", "zh_CN")


class Raw(str):
    """Text that is already Slack markup (e.g. `<@U123>`): not mrkdwn-escaped, still YAML-quoted."""


class Emitted(str):
    """Output of a template macro: already escaped by its own `{{ }}`s, so passed through as is.

    Only for `{{ some_macro(...)|emitted }}`; never for a value that came from a user.
    """


class RenderError(Exception):
    """A template produced something Slack would refuse; raised before anything is sent."""

    def __init__(self, template: str, problems: list[str]):
        super().__init__(f"{template}: " + "; ".join(problems))
        self.template = template
        self.problems = problems


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _yaml_inner(text: str) -> str:
    # JSON string escapes are a subset of YAML double-quoted escapes.
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _finalize(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if value is None:
        return ""
    if isinstance(value, Emitted):
        return str(value)
    if isinstance(value, Raw):
        return _yaml_inner(value)
    return _yaml_inner(escape_mrkdwn(str(value)))


def _mention(user_id: str) -> Raw:
    user_id = str(user_id)
    if not user_id.isalnum():
        return Raw(escape_mrkdwn(user_id))
    return Raw(f"<@{user_id}>")


def _mentions(user_ids) -> Raw:
    """Several people, comma-separated: `join` would turn the mentions back into escaped text."""
    return Raw(", ".join(_mention(user_id) for user_id in user_ids))


def _channel(channel_id: str) -> Raw:
    channel_id = str(channel_id)
    return Raw(f"<#{channel_id}>") if channel_id.isalnum() else Raw(escape_mrkdwn(channel_id))


def _slack_date(moment, pattern: str = "{date_short_pretty} {time}") -> Raw:
    """A time Slack shows in each reader's own zone; the fallback text is UTC."""
    if moment in (None, ""):
        return Raw("")
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Raw(f"<!date^{int(moment.timestamp())}^{pattern}|{fallback}>")


def _fit(value, limit: int, escape: bool = True) -> Raw:
    """User text escaped for mrkdwn, then cut to `limit` characters of what is sent, with an
    ellipsis when cut. `escape=false` for plain_text the template shows unescaped on purpose."""
    text = "" if value is None else str(value)
    if escape and not isinstance(value, Raw | Emitted):
        text = escape_mrkdwn(text)
    return Raw(cut(text, limit))


def _num(value, places: int = 2) -> str:
    """A number as people read it: thousands separated, at most `places` decimals, no trailing zeros."""
    if value is None:
        return "—"
    text = f"{float(value):,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _plain(text) -> Raw:
    """For plain_text inputs' initial values: the user's own text, back unchanged."""
    return Raw("" if text is None else str(text))


@cache
def translations(language: str) -> NullTranslations:
    """The one catalog of a language (templates/locale/<lang>/LC_MESSAGES/tandem.po), compiled once
    per process; see templates/i18n.py for how it is kept and why it is compiled at first use."""
    from templates import i18n  # not at the top: `python -m templates.i18n` must import it first

    return i18n.load(language, LOCALE_DIR)


def _params(params: dict) -> dict:
    return {k: v if isinstance(v, Raw | Emitted | int | float) else escape_mrkdwn(str(v)) for k, v in params.items()}


def _gettext_for(language: str) -> dict:
    """The gettext functions templates call, by name: `_`, `gettext`, `ngettext`, `pgettext`,
    `npgettext`. Parameters are escaped like any other value; a plural's count is `num` unless named."""
    source = translations(language)

    def gettext(message: str, **params) -> Raw:
        text = source.gettext(message)
        return Raw(text % _params(params) if params else text)

    def ngettext(singular: str, plural: str, n: int, **params) -> Raw:
        return Raw(source.ngettext(singular, plural, n) % {"num": n, **_params(params)})

    def pgettext(context: str, message: str, **params) -> Raw:
        text = source.pgettext(context, message)
        return Raw(text % _params(params) if params else text)

    def npgettext(context: str, singular: str, plural: str, n: int, **params) -> Raw:
        return Raw(source.npgettext(context, singular, plural, n) % {"num": n, **_params(params)})

    return {"_": gettext, "gettext": gettext, "ngettext": ngettext, "pgettext": pgettext, "npgettext": npgettext}


def _make_environment(loader: jinja2.BaseLoader, sandbox: type[jinja2.Environment] | None = None) -> jinja2.Environment:
    """Tandem's own templates; a team's run in `sandbox` (a jinja2.sandbox environment class)."""
    env = (sandbox or jinja2.Environment)(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.filters.update(mention=_mention, mentions=_mentions, channel=_channel, plain=_plain, slack_date=_slack_date,
                       emitted=Emitted, fit=_fit, num=_num)
    return env


_ENV = _make_environment(jinja2.FileSystemLoader(str(BLOCKS_DIR)))


def render_text(template: str, *, language: str, **context) -> str:
    """Render a template to its YAML text (before parsing). Mainly for tests and previews."""
    tmpl = _ENV.get_template(template)
    return tmpl.render(**_gettext_for(language if language in LANGUAGES else "en"), language=language, **context)


def render(template: str, *, language: str, **context) -> dict:
    """Render `template` to a Block Kit payload and check Slack's limits before anything is sent.

    A template renders one YAML mapping: a message (`text` + `blocks`), a modal or a Home tab
    (`type: modal|home`). Text still too long after the template's own `fit`s is cut (and logged:
    the template needs a `fit` there); what cannot be cut (too many blocks, metadata) raises a
    RenderError naming the template.
    """
    text = render_text(template, language=language, **context)
    try:
        payload = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise RenderError(template, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(payload, dict):
        raise RenderError(template, ["must render a mapping"])
    problems, clipped = clip_surface(payload)
    if clipped:
        log.warning("%s: text cut to Slack's limits at %s", template, ", ".join(clipped))
    if problems:
        raise RenderError(template, problems)
    return payload


def messages(template: str, *, language: str, **context) -> dict:
    """Render a catalog template (a mapping of message keys to words) without Block Kit checks."""
    return yaml.load(render_text(template, language=language, **context), Loader=_YAML_LOADER) or {}
