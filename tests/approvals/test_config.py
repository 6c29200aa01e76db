"""/approval config (admins) and APPROVALS_FILE: the chain, validated with clear inline errors."""

import pytest

from handlers.approvals import chains
from localslack.payloads import state_value
from models.approvals import ApprovalConfig
from models.approvals.chain import parse_yaml
from models.db import session_scope
from models.errors import RuleError
from settings import ConfigurationError
from tests.approvals.conftest import FIN1, FINANCE_GROUP, LEAD1, LEAD2, PROD1, file_activity, modal_of, run_of
from tests.conftest import SETTINGS_ADMIN, wait_until
from tests.outbox import drained
from tests.requests.conftest import OUTSIDER, TRIAGE

GOOD = f"""
- name: Ops lead
  approvers: [{LEAD1}, {LEAD2}]
  mode: any
  due_hours: 8
  backup: {PROD1}
- name: Finance
  usergroup: {FINANCE_GROUP}
  when: {{field: budget, at_least: 10000}}
"""


def open_config(sender, slack, user=SETTINGS_ADMIN):
    sender.command("/approval", "config yaml", user_id=user)
    view = wait_until(lambda: modal_of(slack, user), message="the config modal")
    assert view["callback_id"] == "approval_config"
    return view


def submit(sender, slack, view, text, user=SETTINGS_ADMIN):
    response = sender.view_submission(user, view, {"chain": {"yaml": state_value("plain_text_input", text)}})
    assert response.status == 200
    return slack.apply_view_response(view["id"], response.json())


@pytest.mark.parametrize(("text", "expected"), [
    ("", "at least one stage"),
    ("- name: A\n  approvers: []", "“A” has no approvers"),
    (f"- name: A\n  approvers: [{LEAD1}, {LEAD2}]\n  mode: 3", "needs 3 approvals but has only 2 approvers"),
    (f"- name: A\n  approvers: [{LEAD1}]\n  mode: 2", "needs 2 approvals but has only 1 approver."),
    ("- name: A\n  approvers: [U0NOBODY]", "there is no user `U0NOBODY`"),
    ("- name: A\n  usergroup: S0NOGROUP", "no user group `S0NOGROUP`"),
    ("- name: A\n  approvers: [bob]", "`bob` is not a Slack user id"),
    (f"- name: A\n  approvers: [{LEAD1}]\n  mode: most", "must be any, all or a number"),
    (f"- name: A\n  approvers: [{LEAD1}]\n  when: {{field: colour}}", "the condition must be"),
    ("- name: [unclosed", "not valid YAML"),
])
def test_the_modal_shows_each_problem_inline_and_saves_nothing(sender, slack, tandem, workspace, text, expected):
    with session_scope(tandem.engine) as session:
        session.delete(session.get(ApprovalConfig, workspace.team_id))
    view = open_config(sender, slack)
    errors = submit(sender, slack, view, text)
    assert list(errors) == ["chain"] and expected in errors["chain"], errors
    with session_scope(tandem.engine) as session:
        assert session.get(ApprovalConfig, workspace.team_id) is None


def test_an_admin_saves_a_chain_that_then_routes_requests(sender, slack, tandem, workspace):
    slack.add_user(SETTINGS_ADMIN, name="admin", locale="en-US")
    sender.command("/approval", "config", user_id=SETTINGS_ADMIN)  # a user group: the form cannot show it
    view = wait_until(lambda: modal_of(slack, SETTINGS_ADMIN), message="the config modal")
    assert view["callback_id"] == "approval_config"
    assert "Ops lead" in view["blocks"][1]["element"]["initial_value"]  # prefilled with the current chain
    assert submit(sender, slack, view, GOOD) is None
    drained(lambda: any("chain saved: 2 stages" in m["text"] for m in slack.messages(SETTINGS_ADMIN)),
            "the admin's confirmation")
    request = file_activity(sender, slack, tandem, budget=20000)
    run = run_of(tandem, request)
    assert [s["name"] for s in run.stages] == ["Ops lead", "Finance"] and run.stages[1]["approvers"] == [FIN1]
    assert run.stages[0]["due_hours"] == 8


def test_non_admins_cannot_open_the_config(sender, slack, tandem, workspace):
    answer = sender.command("/approval", "config", user_id=OUTSIDER)
    assert answer.status == 200
    told = wait_until(lambda: slack.responses(answer.sent["response_url"]), message="the refusal")[-1]
    assert "admin" in told["text"]
    assert modal_of(slack, OUTSIDER) is None


def test_without_a_chain_activity_requests_go_straight_to_triage(sender, slack, tandem, workspace):
    with session_scope(tandem.engine) as session:
        session.delete(session.get(ApprovalConfig, workspace.team_id))
    request = file_activity(sender, slack, tandem)
    drained(lambda: slack.messages(TRIAGE), "the triage card")
    assert run_of(tandem, request) is None


def test_approvals_file_is_checked_and_used(tmp_path, tandem, monkeypatch):
    good = tmp_path / "approvals.yaml"
    good.write_text("stages:\n" + "\n".join("  " + line for line in GOOD.strip().splitlines()))
    assert [s["name"] for s in chains.load_file(str(good))] == ["Ops lead", "Finance"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: A\n  approvers: []\n")
    with pytest.raises(ConfigurationError, match="is not a valid chain: Stage “A” has no approvers."):
        chains.load_file(str(bad))
    with pytest.raises(ConfigurationError, match="cannot be read: No such file or directory"):
        chains.load_file(str(tmp_path / "missing.yaml"))


def test_the_file_chain_applies_until_an_admin_saves_one(sender, slack, tandem, workspace, tmp_path, monkeypatch):
    path = tmp_path / "approvals.yaml"
    path.write_text(f"- name: Only\n  approvers: [{PROD1}]\n")
    monkeypatch.setattr(tandem.services.settings, "approvals_file", str(path))
    with session_scope(tandem.engine) as session:
        session.delete(session.get(ApprovalConfig, workspace.team_id))
    request = file_activity(sender, slack, tandem)
    assert [s["name"] for s in run_of(tandem, request).stages] == ["Only"]


def test_shape_rules():
    with pytest.raises(RuleError) as error:
        parse_yaml(f"- name: A\n  approvers: [{LEAD1}]\n- name: a\n  approvers: [{LEAD2}]")
    assert error.value.key == "approvals.duplicate_stage"
    [stage] = parse_yaml(f"- name: A\n  approvers: '<@{LEAD1}>, {LEAD2}'\n  mode: '2'")
    assert stage["approvers"] == [LEAD1, LEAD2] and stage["mode"] == 2 and stage["due_hours"] == 24
