"""The chain: its stages as data, their checks and conditions.

A stage, as stored and as written in approvals.yaml or the config modal:

    name: Finance                  # required, at most 80 characters
    approvers: [U0AAA, U0BBB]      # Slack user ids, and/or
    usergroup: S0FIN               # a Slack user group id (its members approve)
    mode: any | all | 2            # any-of, all-of, or N-of-M (a number); default any
    due_hours: 24                  # business hours (Monday–Friday); default 24
    backup: U0CCC                  # optional: decides after the due time
    when: {field: budget, at_least: 10000}          # optional condition, or
    when: {field: support, includes: engineering}

Shape is checked here (no Slack); whether users and groups exist is checked by the handler,
which asks Slack, and then calls `check_quorum` on the expanded approvers.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import yaml

from models import mentions
from models.errors import RuleError
from models.requests.forms import SUPPORT

MAX_STAGES = 10
NAME_LIMIT = 80
DUE_LOW, DUE_HIGH = 1, 720
STAGE_KEYS = {"name", "approvers", "usergroup", "mode", "due_hours", "backup", "when"}


def parse_yaml(text: str) -> list[dict]:
    """YAML text (a list of stages, or {stages: [...]}) → checked stages. Raises RuleError."""
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RuleError("approvals.bad_yaml", line=(mark.line + 1) if mark else "?") from None
    if isinstance(data, dict) and "stages" in data:
        data = data["stages"]
    return check_chain(data)


def dump_yaml(stages: list[dict]) -> str:
    return yaml.safe_dump(stages, allow_unicode=True, sort_keys=False) if stages else ""


def check_chain(data) -> list[dict]:
    if not isinstance(data, list) or not data:
        raise RuleError("approvals.no_stages")
    if len(data) > MAX_STAGES:
        raise RuleError("approvals.too_many_stages", limit=MAX_STAGES)
    stages = [_check_stage(raw, number) for number, raw in enumerate(data, start=1)]
    names = [s["name"].lower() for s in stages]
    for number, name in enumerate(names, start=1):
        if names.index(name) != number - 1:
            raise RuleError("approvals.duplicate_stage", stage=stages[number - 1]["name"])
    return stages


def _user(value, *, stage: str) -> str:
    user = mentions.user_id(value)
    if not user:
        raise RuleError("approvals.bad_user", stage=stage, given=str(value)[:40])
    return user


def _check_stage(raw, number: int) -> dict:
    if not isinstance(raw, dict):
        raise RuleError("approvals.bad_stage", stage=f"#{number}")
    name = str(raw.get("name") or "").strip()
    if not name:
        raise RuleError("approvals.no_name", stage=f"#{number}")
    if len(name) > NAME_LIMIT:
        raise RuleError("approvals.name_too_long", stage=f"#{number}", limit=NAME_LIMIT)
    unknown = set(raw) - STAGE_KEYS
    if unknown:
        raise RuleError("approvals.unknown_key", stage=name, given=sorted(unknown)[0])
    approvers = raw.get("approvers") or []
    if isinstance(approvers, str):
        approvers = approvers.replace(",", " ").split()
    approvers = list(dict.fromkeys(_user(a, stage=name) for a in approvers))
    group = None
    if raw.get("usergroup"):
        group = mentions.group_id(raw["usergroup"])
        if not group:
            raise RuleError("approvals.bad_group", stage=name, given=str(raw["usergroup"])[:40])
    if not approvers and not group:
        raise RuleError("approvals.empty_stage", stage=name)
    mode = raw.get("mode", "any")
    if isinstance(mode, str) and mode.strip().isdigit():
        mode = int(mode.strip())
    if isinstance(mode, bool) or not (mode in ("any", "all") or isinstance(mode, int)):
        raise RuleError("approvals.bad_mode", stage=name, given=str(mode)[:20])
    due = raw.get("due_hours", 24)
    if isinstance(due, bool) or not isinstance(due, int) or not DUE_LOW <= due <= DUE_HIGH:
        raise RuleError("approvals.bad_due", stage=name, low=DUE_LOW, high=DUE_HIGH)
    backup = _user(raw["backup"], stage=name) if raw.get("backup") else None
    stage = {"name": name, "approvers": approvers, "usergroup": group, "mode": mode, "due_hours": due,
             "backup": backup, "when": _check_condition(raw.get("when"), stage=name)}
    if not group:
        check_quorum(stage, approvers)
    return stage


def _check_condition(when, *, stage: str) -> dict | None:
    if not when:
        return None
    if not isinstance(when, dict) or when.get("field") not in ("budget", "support"):
        raise RuleError("approvals.bad_condition", stage=stage)
    if when["field"] == "budget":
        try:
            amount = Decimal(str(when.get("at_least")))
        except InvalidOperation:
            raise RuleError("approvals.bad_condition", stage=stage) from None
        return {"field": "budget", "at_least": str(amount)}
    if when.get("includes") not in SUPPORT:
        raise RuleError("approvals.bad_condition", stage=stage)
    return {"field": "support", "includes": when["includes"]}


def check_quorum(stage: dict, approvers: list[str]) -> None:
    """N-of-M needs 1 ≤ N ≤ M; every stage needs someone."""
    if not approvers:
        raise RuleError("approvals.empty_stage", stage=stage["name"])
    mode = stage["mode"]
    if isinstance(mode, int) and not 1 <= mode <= len(approvers):
        raise RuleError("approvals.impossible_quorum", stage=stage["name"], needed=mode, count=len(approvers))


def applies(stage: dict, fields: dict) -> bool:
    """Does the stage's condition hold for a request's fields?"""
    when = stage.get("when")
    if not when:
        return True
    if when["field"] == "budget":
        try:
            return Decimal(str(fields.get("budget_amount"))) >= Decimal(when["at_least"])
        except InvalidOperation:
            return False
    return when["includes"] in (fields.get("support") or [])


def needed(stage: dict) -> int:
    """How many approvals complete the stage."""
    mode = stage["mode"]
    if mode == "any":
        return 1
    if mode == "all":
        return len(stage["approvers"])
    return int(mode)
