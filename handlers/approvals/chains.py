"""The chain: where it comes from (/approval config or APPROVALS_FILE), and what Slack says of it.

Shape is checked in models/approvals/chain.py. Here Slack is asked whether the users exist
(users.info) and who is in a user group (usergroups.users.list), always outside any
transaction. The config modal is one YAML field in the same format as approvals.yaml,
prefilled with the current chain; every problem is shown inline under it.
"""

from __future__ import annotations

import json
from pathlib import Path

from slack_sdk.errors import SlackApiError

import templates
from handlers.common import Services, admin_and_language, rule_error_message
from handlers.requests.triage import Outcome, open_modal, plain, tell, who  # noqa: F401  (tell: re-exported)
from models.approvals import ApprovalConfig
from models.approvals.chain import check_quorum, dump_yaml, parse_yaml
from models.db import session_scope, utcnow
from models.errors import RuleError
from settings import ConfigurationError

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


def expand(services: Services, stages: list[dict], *, check_users: bool = False) -> list[dict]:
    """Stages with user groups expanded into approvers; optionally every user checked with Slack."""
    expanded = []
    for stage in stages:
        approvers = list(stage["approvers"])
        if stage.get("usergroup"):
            try:
                members = services.delivery.call("usergroups.users.list", usergroup=stage["usergroup"])["users"]
            except SlackApiError:
                raise RuleError("approvals.unknown_group", stage=stage["name"], given=stage["usergroup"]) from None
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
    try:
        user = services.delivery.call("users.info", user=user_id)["user"]
    except SlackApiError:
        return False
    return not user.get("deleted")


def chain_for(services: Services, team_id: str) -> list[dict]:
    """The chain, expanded, for a request being filed or restarted (read before the transaction)."""
    with session_scope(services.engine) as session:
        stages = configured(services, session, team_id)
    expanded = expand(services, stages) if stages else []
    # Learn each approver's language now (users.info, once a day): cards are rendered inside transactions.
    for user in dict.fromkeys(u for stage in expanded for u in [*stage["approvers"], stage.get("backup")] if u):
        services.member(team_id, user)
    return expanded


# -- /approval config ------------------------------------------------------------------------------
def open_config(services: Services, *, command: dict, words: list[str]) -> dict | None:
    team_id, user_id = command["team_id"], command["user_id"]
    admin, language = admin_and_language(services, team_id, user_id)
    if not admin:
        raise RuleError("not_admin")
    with session_scope(services.engine) as session:
        current = dump_yaml(configured(services, session, team_id))
    view = templates.render("approvals/config_modal.yaml.j2", language=language, current=current, limit=YAML_LIMIT,
                            metadata=json.dumps({"channel": command.get("channel_id")}))
    if not open_modal(services, command["trigger_id"], view):
        return templates.render("requests/too_slow.yaml.j2", language=language)
    return None


def submit_config(services: Services, body: dict) -> Outcome:
    team_id, user_id = who(body)
    view = body["view"]
    text = (((view.get("state") or {}).get("values") or {}).get("chain") or {}).get("yaml", {}).get("value") or ""
    admin, language = admin_and_language(services, team_id, user_id)
    now = utcnow()
    try:
        if not admin:
            raise RuleError("not_admin")
        stages = parse_yaml(text)
        expanded = expand(services, stages, check_users=True)
        with session_scope(services.engine) as session:
            row = session.get(ApprovalConfig, team_id) or ApprovalConfig(team_id=team_id, updated_at=now)
            row.stages, row.updated_by, row.updated_at = stages, user_id, now
            session.add(row)
            saved = templates.render("approvals/config_saved.yaml.j2", language=language, stages=expanded)
            services.delivery.queue(session, key=f"approvals:config:{team_id}:{view['id']}", team_id=team_id,
                                    method="chat.postMessage", now=now, channel=user_id, text=saved["text"],
                                    blocks=saved["blocks"])
    except RuleError as error:
        message = rule_error_message(error, language=language)
        if error.key == "not_admin":
            return Outcome(notice=message, channel=json.loads(view.get("private_metadata") or "{}").get("channel"))
        return Outcome(ack={"response_action": "errors", "errors": {"chain": plain(message["text"])}})
    services.delivery.kick()
    return Outcome()
