"""What a request form must hold, per kind, and the checks that run on submit.

Limits sit below Slack's (plain_text_input takes 3000; a card section 3000 in all), so what
is stored always fits the card. The modal template reads the same numbers for max_length.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from models.requests.tables import KINDS, PRIORITIES

SUPPORT = ("design", "engineering", "data", "copywriting", "budget", "other")
CURRENCIES = ("CNY", "USD", "EUR", "GBP", "JPY", "HKD", "SGD")
LIMITS = {
    "title": 150, "details": 2000, "expected_effect": 1000, "target_metric": 100, "target_value": 30,
    "budget_amount": 20, "current_problem": 2000, "proposed_change": 2000, "affected": 500,
    "evidence_link": 500, "problem": 2000, "user_story": 2000, "expected_value": 1000, "labels": 200,
}
MAX_LABELS, LABEL_LENGTH = 10, 30
# Required text fields per kind; the rest of a kind's fields are optional.
REQUIRED = {
    "activity": ("title", "details", "expected_effect"),
    "optimisation": ("title", "current_problem", "proposed_change", "affected"),
    "feature": ("title", "problem", "user_story", "expected_value"),
}
TEXT_FIELDS = {
    "activity": ("details", "expected_effect", "target_metric"),
    "optimisation": ("current_problem", "proposed_change", "affected", "evidence_link"),
    "feature": ("problem", "user_story", "expected_value"),
}
# Fields whose change, after approvals began, restarts the approval chain (the approvals issue).
KEY_FIELDS = ("starts_at", "ends_at", "budget_amount", "budget_currency", "support", "expected_effect", "goals")


@dataclass
class FormErrors(Exception):
    """Field name → (message key, params). The handler shows them inline in the modal."""

    errors: dict[str, tuple[str, dict]] = field(default_factory=dict)

    def add(self, name: str, key: str, **params) -> None:
        self.errors.setdefault(name, (key, params))


@dataclass
class CleanForm:
    kind: str
    title: str
    priority: str
    wanted_by: date | None
    labels: list[str]
    fields: dict


def _text(raw: dict, name: str) -> str:
    value = raw.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse_labels(text: str) -> list[str]:
    labels: list[str] = []
    for part in re.split(r"[,，\s]+", text or ""):
        label = part.strip().lstrip("#").lower()
        if label and label not in labels:
            labels.append(label)
    return labels


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "").replace("_", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def clean_form(raw: dict, *, now: datetime, today: date, goals: Callable[[dict, FormErrors], list] | None = None
               ) -> CleanForm:
    """Check a submitted form. `today` is the user's local date (for "not in the past").
    `goals(fields, errors)`: an activity's goal lines, checked against the workspace's metrics
    (models/activities/goals.py); they go into fields["goals"]."""
    errors = FormErrors()
    kind = raw.get("kind")
    if kind not in KINDS:
        errors.add("kind", "form.kind_required")
        raise errors
    for name in REQUIRED[kind]:
        if not _text(raw, name):
            errors.add(name, "form.required")
    for name in ("title", *TEXT_FIELDS[kind], "labels"):
        text = _text(raw, name)
        if len(text) > LIMITS[name]:
            errors.add(name, "form.too_long", limit=LIMITS[name], length=len(text))

    priority = raw.get("priority") or "P2"
    if priority not in PRIORITIES:
        errors.add("priority", "form.unknown_choice")
    wanted_by = raw.get("wanted_by")
    if wanted_by is not None:
        try:
            wanted_by = date.fromisoformat(wanted_by) if isinstance(wanted_by, str) else wanted_by
        except ValueError:
            errors.add("wanted_by", "form.bad_date")
            wanted_by = None
        if isinstance(wanted_by, date) and wanted_by < today:
            errors.add("wanted_by", "form.date_past")
    labels = parse_labels(_text(raw, "labels"))
    if len(labels) > MAX_LABELS:
        errors.add("labels", "form.too_many_labels", limit=MAX_LABELS)
    if any(len(label) > LABEL_LENGTH for label in labels):
        errors.add("labels", "form.label_too_long", limit=LABEL_LENGTH)

    fields = {name: _text(raw, name) for name in TEXT_FIELDS[kind] if _text(raw, name)}
    if kind == "activity":
        _activity(raw, fields, errors, now=now)
        if goals is not None and (lines := goals(fields, errors)):
            fields["goals"] = lines
    link = fields.get("evidence_link")
    if kind == "optimisation" and link and not re.match(r"^https?://\S+$", link):
        errors.add("evidence_link", "form.bad_link")
    if errors.errors:
        raise errors
    return CleanForm(kind=kind, title=_text(raw, "title"), priority=priority, wanted_by=wanted_by,
                     labels=labels, fields=fields)


def _timestamp(raw: dict, name: str, errors: FormErrors) -> datetime | None:
    value = raw.get(name)
    if value in (None, ""):
        errors.add(name, "form.required")
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        errors.add(name, "form.bad_date")
        return None


def _activity(raw: dict, fields: dict, errors: FormErrors, *, now: datetime) -> None:
    starts, ends = _timestamp(raw, "starts_at", errors), _timestamp(raw, "ends_at", errors)
    if starts and starts < now:
        errors.add("starts_at", "form.date_past")
    if starts and ends and ends <= starts:
        errors.add("ends_at", "form.end_before_start")
    if starts:
        fields["starts_at"] = starts.isoformat()
    if ends:
        fields["ends_at"] = ends.isoformat()
    support = raw.get("support") or []
    if any(item not in SUPPORT for item in support):
        errors.add("support", "form.unknown_choice")
    if support:
        fields["support"] = [item for item in SUPPORT if item in support]
    target_value = _text(raw, "target_value")
    if target_value:
        if _number(target_value) is None:
            errors.add("target_value", "form.not_a_number")
        else:
            fields["target_value"] = target_value
    amount, currency = _text(raw, "budget_amount"), raw.get("budget_currency")
    if amount:
        number = _number(amount)
        if number is None:
            errors.add("budget_amount", "form.not_a_number")
        elif number < 0:
            errors.add("budget_amount", "form.negative")
        else:
            fields["budget_amount"] = str(number)
            if currency not in CURRENCIES:
                errors.add("budget_currency", "form.currency_required")
            else:
                fields["budget_currency"] = currency
