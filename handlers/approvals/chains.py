"""The chain: where it comes from (/approval config or APPROVALS_FILE), and what Slack says of it.

Shape is checked in models/approvals/chain.py. Here Slack is asked whether the users exist
(users.info) and who is in a user group (usergroups.users.list), always outside any
transaction. The config modal is one YAML field in the same format as approvals.yaml,
prefilled with the current chain; every problem is shown inline under it.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlmodel import select

import templates
from clock import utcnow
from handlers import ack_budget
from handlers.common import (
    Services,
    admin_and_language,
    form_values,
    metadata_of,
    open_modal,
    rule_error_message,
    who,
)
from handlers.listeners import Outcome
from models import keys
from models.approvals import ApprovalConfig
from models.approvals.chain import check_chain, check_quorum, dump_yaml, parse_yaml
from models.db import session_scope
from models.errors import RuleError
from models.workspaces import Workspace
from scheduler import Job
from settings import ConfigurationError

log = logging.getLogger("tandem.approvals")

YAML_LIMIT = 3000
_file_chains: dict[str, list[dict]] = {}


def load_file(path: str) -> list[dict]:
    """The chain in APPROVALS_FILE, checked (shape only). Raises ConfigurationError saying what is wrong."""
    if path not in _file_chains:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"APPROVALS_FILE {path} cannot be read: {exc.strerror or exc}.") from exc
        try:
            _file_chains[path] = parse_yaml(text)
        except RuleError as error:
            problem = rule_error_message(error, language="en")["text"]
            raise ConfigurationError(f"APPROVALS_FILE {path} is not a valid chain: {problem}") from None
    return _file_chains[path]


def configured(services: Services, session, team_id: str) -> list[dict]:
    """The workspace's chain: what /approval config saved, else APPROVALS_FILE, else none ([])."""
    row = session.get(ApprovalConfig, team_id)
    if row is not None and row.stages:
        return list(row.stages)
    path = services.settings.approvals_file
    return load_file(path) if path else []


GROUP_FRESH = 300.0  # seconds a user group's members are used without asking Slack again


def group_members(services: Services, team_id: str, usergroup: str, *, stage: str) -> list[str]:
    """Who is in a user group: from the cache when it is fresh; before an ack, the last answer we had
    (refreshed in the background), or for a group never asked about, Slack within the ack budget,
    then a clear refusal; elsewhere (the scheduler's warm-up) Slack, however long it takes."""
    cached = services.usergroups.get((team_id, usergroup))
    if cached is not None and time.monotonic() - cached[1] < GROUP_FRESH:
        return cached[0]
    key = ("usergroups.users.list", id(services), team_id, usergroup)
    if cached is not None and ack_budget.left() is not None:  # before an ack: the last answer, refreshed behind
        ack_budget.refresh(key, ask_group, services, team_id, usergroup)
        return cached[0]
    try:
        try:
            return ack_budget.read(key, ask_group, services, team_id, usergroup)
        except ack_budget.SlackSlow:
            if cached is not None:
                return cached[0]
            if ack_budget.answer_in_ack():
                raise RuleError("approvals.slack_slow", given=usergroup) from None
            return ack_budget.wait_for(key, ask_group, services, team_id, usergroup)
    except SlackApiError:
        raise RuleError("approvals.unknown_group", stage=stage, given=usergroup) from None


def ask_group(services: Services, team_id: str, usergroup: str) -> list[str]:
    """usergroups.users.list, remembered."""
    members = list(services.delivery.call("usergroups.users.list", usergroup=usergroup)["users"])
    services.usergroups[(team_id, usergroup)] = (members, time.monotonic())
    return members


def expand(services: Services, stages: list[dict], *, team_id: str, check_users: bool = False) -> list[dict]:
    """Stages with user groups expanded into approvers; optionally every user checked with Slack."""
    expanded = []
    for stage in stages:
        approvers = list(stage["approvers"])
        if stage.get("usergroup"):
            members = group_members(services, team_id, stage["usergroup"], stage=stage["name"])
            approvers += [user for user in members if user not in approvers]
        stage = {**stage, "approvers": approvers}
        check_quorum(stage, approvers)
        if check_users:
            for user in [*approvers, *([stage["backup"]] if stage.get("backup") else [])]:
                if not user_exists(services, user):
                    raise RuleError("approvals.unknown_user", stage=stage["name"], given=user)
        expanded.append(stage)
    return expanded


def user_exists(services: Services, user_id: str) -> bool:
    """users.info (within the ack budget before an ack; a slow Slack is a clear refusal)."""
    try:
        user = ack_budget.read(("users.info?exists", user_id), services.delivery.call, "users.info", user=user_id)
    except SlackApiError:
        return False
    except ack_budget.SlackSlow:
        raise RuleError("approvals.slack_slow", given=user_id) from None
    return not user["user"].get("deleted")


def chain_for(services: Services, team_id: str) -> list[dict]:
    """The chain, expanded, for a request being filed or restarted (read before the transaction)."""
    with session_scope(services.engine) as session:
        stages = configured(services, session, team_id)
    expanded = expand(services, stages, team_id=team_id) if stages else []
    # Learn each approver's language now (users.info, once a day): cards are rendered inside transactions.
    for user in dict.fromkeys(u for stage in expanded for u in [*stage["approvers"], stage.get("backup")] if u):
        services.member(team_id, user)
    return expanded


WARM_MINUTES = 4  # under GROUP_FRESH: on the active scheduler's replica a filing never asks Slack


def warm_caches(services: Services) -> list:
    """A scheduler job: expand every workspace's chain ahead of time, so that the activity form's
    submission finds the user groups' members and the approvers' zones and languages in the caches
    (Slack asked here, with no ack waiting, instead of before an ack)."""

    def run(due_at, now) -> None:
        with session_scope(services.engine) as session:
            teams = {row.team_id for row in session.exec(select(ApprovalConfig))}
            if services.settings.approvals_file:
                teams |= {row.team_id for row in session.exec(select(Workspace))}
        for team_id in sorted(teams):
            try:
                chain_for(services, team_id)
            except (RuleError, SlackApiError, SlackClientError, OSError) as exc:
                log.warning("warming the approval chain of %s failed (%r); filing will ask Slack", team_id, exc)

    def source(session, now):
        yield Job(key="approvals:warm-caches", trigger=IntervalTrigger(minutes=WARM_MINUTES, timezone="UTC"), run=run)

    return [source]


# -- /approval config ------------------------------------------------------------------------------
FORM_STAGES = 5  # stages the form shows; longer chains and user groups are edited as YAML
FORM_MODES = ("any", "all", 2, 3, 4, 5)
# Which field of a form stage a rule error is shown under (the name field otherwise).
FORM_FIELDS = {"approvals.empty_stage": "approvers", "approvals.impossible_quorum": "approvers",
               "approvals.bad_user": "approvers", "approvals.unknown_user": "approvers",
               "approvals.bad_mode": "mode", "approvals.bad_due": "due", "approvals.bad_condition": "when"}


def open_config(services: Services, *, command: dict, words: list[str]) -> dict | None:
    """/approval config: the form (pickers per stage), or `/approval config yaml` for the YAML text
    (also when the chain uses what the form cannot show: user groups, more stages, bigger quorums)."""
    team_id, user_id = command["team_id"], command["user_id"]
    admin, language = admin_and_language(services, team_id, user_id)
    if not admin:
        raise RuleError("not_admin")
    with session_scope(services.engine) as session:
        current = configured(services, session, team_id)
    metadata = json.dumps({"channel": command.get("channel_id")})
    if words[:1] == ["yaml"] or not fits_form(current):
        view = templates.render("approvals/config_modal.yaml.j2", language=language, current=dump_yaml(current),
                                limit=YAML_LIMIT, metadata=metadata)
    else:
        stages = [form_stage(stage) for stage in current]
        stages += [form_stage(None)] * (FORM_STAGES - len(stages))
        view = templates.render("approvals/config_form.yaml.j2", language=language, stages=stages,
                                metadata=metadata)
    return open_modal(services, command["trigger_id"], view, language=language)


def fits_form(stages: list[dict]) -> bool:
    return len(stages) <= FORM_STAGES and all(not s.get("usergroup") and s["mode"] in FORM_MODES for s in stages)


def form_stage(stage: dict | None) -> dict:
    """A stage as the form's fields show it (None: an empty stage)."""
    stage = stage or {"name": "", "approvers": [], "mode": "any", "due_hours": 24, "backup": None, "when": None}
    when = stage.get("when") or {}
    when_value = {"budget": "budget", "support": f"support:{when.get('includes')}"}.get(when.get("field"), "always")
    return {**stage, "when_value": when_value, "amount": when.get("at_least")}


def submit_config(services: Services, body: dict) -> Outcome:
    """The YAML modal."""
    text = form_values(body["view"]).get("chain") or ""
    return _submit(services, body, lambda: parse_yaml(text), lambda error: "chain")


def submit_form(services: Services, body: dict) -> Outcome:
    """The form: each named stage becomes one in the chain, checked by the same rules as YAML."""
    values = form_values(body["view"])
    raw, blocks = [], []  # the stages given, and the form block (s0…s4) each came from
    for n in range(FORM_STAGES):
        field = {key: values.get(f"s{n}_{key}") for key in ("name", "approvers", "mode", "due", "backup", "when",
                                                             "amount")}
        name = (field["name"] or "").strip()
        if not name and not field["approvers"]:
            continue  # an unused stage
        if not name:
            return _refuse(services, body, RuleError("approvals.no_name", stage=f"#{n + 1}"), f"s{n}_name")
        when = field["when"] or "always"
        condition = {"field": "budget", "at_least": field["amount"]} if when == "budget" else \
            {"field": "support", "includes": when.partition(":")[2]} if when.startswith("support:") else None
        due = field["due"] or "24"
        raw.append({"name": name, "approvers": field["approvers"] or [], "mode": field["mode"] or "any",
                    "due_hours": int(due) if due.isdigit() else due, "backup": field["backup"], "when": condition})
        blocks.append(n)

    def block_of(error: RuleError) -> str:
        named = str(error.params.get("stage", ""))
        matches = [i for i, stage in enumerate(raw) if stage["name"].lower() == named.lower()]
        if matches:
            index = matches[-1] if error.key == "approvals.duplicate_stage" else matches[0]
        else:  # "#2": the second stage given
            index = int(named[1:]) - 1 if named[1:].isdigit() and 0 < int(named[1:]) <= len(raw) else 0
        return f"s{blocks[index] if blocks else 0}_{FORM_FIELDS.get(error.key, 'name')}"

    return _submit(services, body, lambda: check_chain(raw), block_of)


def _submit(services: Services, body: dict, parse, block_of) -> Outcome:
    """Check the chain (shape, then users and groups with Slack) and save it; problems inline."""
    team_id, user_id = who(body)
    view = body["view"]
    admin, language = admin_and_language(services, team_id, user_id)
    now = utcnow()
    try:
        if not admin:
            raise RuleError("not_admin")
        stages = parse()
        expanded = expand(services, stages, team_id=team_id, check_users=True)
        with session_scope(services.engine) as session:
            row = session.get(ApprovalConfig, team_id) or ApprovalConfig(team_id=team_id, updated_at=now)
            row.stages, row.updated_by, row.updated_at = stages, user_id, now
            session.add(row)
            saved = templates.render("approvals/config_saved.yaml.j2", language=language, stages=expanded)
            services.delivery.queue(session, key=keys.approvals_config_saved(team_id, view["id"]), team_id=team_id,
                                    method="chat.postMessage", now=now, channel=user_id, text=saved["text"],
                                    blocks=saved["blocks"])
    except RuleError as error:
        return _refuse(services, body, error, block_of(error))
    services.delivery.kick()
    return Outcome()


def _refuse(services: Services, body: dict, error: RuleError, block: str) -> Outcome:
    team_id, user_id = who(body)
    return Outcome.refused(error, language=services.language_of(team_id, user_id),
                           block=None if error.key == "not_admin" else block, channel=metadata_of(body["view"]).get("channel"))
