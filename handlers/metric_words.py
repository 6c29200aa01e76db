"""A metric as its reader sees it: a preset's name and unit in the reader's language, money in the
workspace's currency.

What is stored stays what the team typed (English for a preset: `Daily active users`, `users`,
and `¤` for money), so a workspace that switches language, or two readers in two languages, see
the same metric in their own words. The currency is never guessed from a language or a zone: it is
the metric's own unit when the team typed one (`CNY`, `$`), else the workspace's `/tandem
currency`, else the DEFAULT_CURRENCY setting, else none.
"""

from __future__ import annotations

from babel.numbers import get_currency_symbol

import templates
from handlers.common import Services
from models.digests.metrics import MONEY, PRESETS

PRESET_WORDS = frozenset({label for label, *_ in PRESETS.values()}
                         | {unit for _, unit, *_ in PRESETS.values() if unit not in ("", "%", MONEY)})


def currency_of(services: Services, session, team_id: str) -> str:
    """The workspace's ISO 4217 code for money metrics, or "" when nobody said."""
    return services.workspace(session, team_id).currency or services.settings.default_currency


def metric(row: dict, *, language: str, currency: str) -> dict:
    """A copy of a metric's row (label, unit…) with the words its reader sees, and `currency`: the ISO
    code of a money metric that follows the workspace (None otherwise), for templates and charts."""
    gettext = templates.translations(language).gettext
    row = dict(row)
    if row.get("label") in PRESET_WORDS:
        row["label"] = gettext(row["label"])
    unit = row.get("unit") or ""
    row["currency"] = (currency or None) if unit == MONEY else None
    if unit == MONEY:
        row["unit"] = get_currency_symbol(currency, locale=language) if currency else ""
    elif unit in PRESET_WORDS:
        row["unit"] = gettext(unit)
    return row


def digest_context(context: dict, *, language: str, currency: str) -> dict:
    """week.compute()'s context with every metric in the words of `language`."""
    return {**context, "metrics": [metric(m, language=language, currency=currency) for m in context["metrics"]]}
