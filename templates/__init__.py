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
from io import BytesIO
from pathlib import Path

import jinja2
import yaml
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from templates.cutting import clip_surface, cut

# libyaml's safe loader parses ten times faster than the pure-Python one; same results.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
log = logging.getLogger("tandem.templates")
HERE = Path(__file__).resolve().parent
BLOCKS_DIR = HERE / "blocks"
LOCALE_DIR = HERE / "locale"
DOMAIN = "tandem"
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
    """All catalogs of a language (one .po file per capability), compiled in memory."""
    po_paths = sorted((LOCALE_DIR / language / "LC_MESSAGES").glob("*.po"))
    if language == "en" or not po_paths:
        return NullTranslations()
    merged = None
    for po_path in po_paths:
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=language)
        if merged is None:
            merged = catalog
        else:
            for message in catalog:
                if message.id:
                    merged[message.id] = message
    buffer = BytesIO()
    write_mo(buffer, merged)  # compiled in memory: no .mo files to build or commit
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def _gettext_for(language: str):
    source = translations(language)

    def gettext(message: str, **params) -> Raw:
        text = source.gettext(message)
        if params:
            safe = {k: v if isinstance(v, Raw | int | float) else escape_mrkdwn(str(v)) for k, v in params.items()}
            text = text % safe
        return Raw(text)

    def ngettext(singular: str, plural: str, n: int, **params) -> Raw:
        text = source.ngettext(singular, plural, n)
        safe = {k: v if isinstance(v, Raw | int | float) else escape_mrkdwn(str(v)) for k, v in params.items()}
        safe.setdefault("num", n)
        return Raw(text % safe)

    return gettext, ngettext


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
    env.filters.update(mention=_mention, channel=_channel, plain=_plain, slack_date=_slack_date,
                       emitted=Emitted, fit=_fit, num=_num)
    return env


_ENV = _make_environment(jinja2.FileSystemLoader(str(BLOCKS_DIR)))


def render_text(template: str, *, language: str, **context) -> str:
    """Render a template to its YAML text (before parsing). Mainly for tests and previews."""
    gettext, ngettext = _gettext_for(language if language in LANGUAGES else "en")
    tmpl = _ENV.get_template(template)
    return tmpl.render(_=gettext, gettext=gettext, ngettext=ngettext, language=language, **context)


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
