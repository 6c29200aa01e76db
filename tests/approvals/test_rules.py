"""Rules checked on the server whatever the card showed: who may decide, own requests, one person
per stage, double clicks, stale cards. Each refusal reaches only the clicker and changes nothing."""


from handlers.common import rule_error_message
from localslack.payloads import action
from models.errors import RuleError
from tests.approvals.conftest import (
    LEAD1,
    LEAD2,
    PROD1,
    PROD2,
    buttons,
    card_for,
    click,
    decisions,
    ephemerals,
    file_activity,
    run_of,
    set_chain,
)
from tests.conftest import at_once
from tests.requests.conftest import OUTSIDER


def refusal(key, **params) -> str:
    return rule_error_message(RuleError(key, **params), language="en")["text"]


def test_an_outsider_or_a_later_stage_approver_cannot_decide(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    card = card_for(slack, LEAD1, "REQ-1", "Ops lead")
    sender.action(OUTSIDER, [action("approval_approve")], message=card)
    sender.action(PROD1, [action("approval_reject")], message=card)  # the reason modal is refused before it opens
    [told] = ephemerals(slack, OUTSIDER)
    assert told["text"] == refusal("approvals.not_approver", stage="Ops lead")
    assert ephemerals(slack, PROD1)[0]["text"] == told["text"]
    tandem.settle()
    assert decisions(tandem, request) == [] and not slack.calls_to("views.open")[1:]
    assert run_of(tandem, request).current_stage == 0


def test_the_requester_never_approves_their_own_request(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem, requester=LEAD1)
    tandem.settle()
    assert [m for m in slack.messages(LEAD1) if "approval_card" in str(m["blocks"])] == []  # no card for them
    sender.action(LEAD1, [action("approval_approve")], message=card_for(slack, LEAD2, "REQ-1", "Ops lead"))
    assert ephemerals(slack, LEAD1)[0]["text"] == refusal("approvals.own_request", ref="REQ-1")
    tandem.settle()
    assert decisions(tandem, request) == []
    assert run_of(tandem, request).stages[0]["approvers"] == [LEAD2]  # taken out of the stage


def test_a_requester_in_an_all_of_stage_does_not_block_it(sender, slack, tandem, workspace):
    set_chain(tandem, workspace.team_id, [{"name": "Product", "approvers": [PROD1, PROD2], "mode": "all"},
                                          {"name": "Pair", "approvers": [LEAD1, PROD2], "mode": 2}])
    request = file_activity(sender, slack, tandem, requester=PROD2)
    assert [(s["approvers"], s["mode"]) for s in run_of(tandem, request).stages] == [([PROD1], "all"), ([LEAD1], 1)]
    click(sender, slack, PROD1, "REQ-1", "Product")
    click(sender, slack, LEAD1, "REQ-1", "Pair")
    tandem.settle()
    assert run_of(tandem, request).status == "approved"


def test_one_person_may_not_approve_two_stages(sender, slack, tandem, workspace):
    set_chain(tandem, workspace.team_id, [{"name": "Ops lead", "approvers": [LEAD1, PROD1]},
                                          {"name": "Product", "approvers": [PROD1, PROD2]}])
    request = file_activity(sender, slack, tandem)
    click(sender, slack, PROD1, "REQ-1", "Ops lead")
    click(sender, slack, PROD1, "REQ-1", "Product")
    assert ephemerals(slack, PROD1)[0]["text"] == refusal("approvals.two_stages", ref="REQ-1")
    click(sender, slack, PROD2, "REQ-1", "Product")
    tandem.settle()
    assert [d[:2] for d in decisions(tandem, request)] == [("Ops lead", PROD1), ("Product", PROD2)]
    assert run_of(tandem, request).status == "approved"


def test_the_same_approver_setting_allows_two_stages(sender, slack, tandem, workspace, monkeypatch):
    monkeypatch.setattr(tandem.services.settings, "approvals_allow_same_approver", True)
    set_chain(tandem, workspace.team_id, [{"name": "Ops lead", "approvers": [PROD1]},
                                          {"name": "Product", "approvers": [PROD1]}])
    request = file_activity(sender, slack, tandem)
    click(sender, slack, PROD1, "REQ-1", "Ops lead")
    click(sender, slack, PROD1, "REQ-1", "Product")
    tandem.settle()
    assert run_of(tandem, request).status == "approved"


def test_a_double_click_records_one_decision_and_a_stale_card_changes_nothing(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    card = card_for(slack, LEAD1, "REQ-1", "Ops lead")
    at_once(*[lambda: sender.action(LEAD1, [action("approval_approve")], message=card)] * 2)
    [told] = ephemerals(slack, LEAD1)
    assert "already decided" in told["text"] and f"<@{LEAD1}>" in told["text"]
    sender.action(LEAD2, [action("approval_approve")], message=card)  # LEAD2 clicks an old copy
    assert "already decided" in ephemerals(slack, LEAD2)[0]["text"]
    tandem.settle()
    assert [d[:2] for d in decisions(tandem, request)] == [("Ops lead", LEAD1)]
    assert buttons(card_for(slack, LEAD2, "REQ-1", "Ops lead")) == set()
    assert f"<@{LEAD1}> approved" in str(card_for(slack, LEAD2, "REQ-1", "Ops lead")["blocks"])
