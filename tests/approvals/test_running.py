"""Running a chain end to end: filing routes to approvers, stages complete by their mode, the last
approval puts the request into triage as accepted; reject and request changes end it."""

from sqlmodel import select

from localslack.payloads import action, state_value
from models.approvals import ApprovalDecision
from models.db import session_scope
from tests.approvals.conftest import (
    FIN1,
    LEAD1,
    LEAD2,
    PROD1,
    PROD2,
    TECH1,
    TECH2,
    TECH3,
    buttons,
    card_for,
    cards,
    click,
    decisions,
    events,
    file_activity,
    modal_of,
    run_of,
    stored,
)
from tests.conftest import at_once, wait_until
from tests.outbox import drained
from tests.requests.conftest import OPS, TRIAGE


def test_filing_an_activity_request_sends_cards_to_the_first_stage_not_to_triage(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    assert stored(tandem, request).status == "in_approval"
    for lead in (LEAD1, LEAD2):
        card = card_for(slack, lead, "REQ-1", "Ops lead")
        assert buttons(card) == {"approval_approve", "approval_reject", "approval_changes"}
        assert "Stage 1 of 2" in str(card["blocks"]) and "20% off everything" in str(card["blocks"])
    dm = drained(lambda: slack.messages(OPS), "the requester's DM")[0]
    assert "REQ-1" in dm["text"] and "waiting for approval" in dm["text"] and "Ops lead" in dm["text"]
    tandem.settle()
    assert slack.messages(TRIAGE) == [] and cards(slack, PROD1) == []
    assert [s["name"] for s in run_of(tandem, request).stages] == ["Ops lead", "Product"]  # no condition met


def test_three_stage_chain_any_all_and_two_of_three_then_accepted_in_triage(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem, support=("engineering",))
    assert [s["name"] for s in run_of(tandem, request).stages] == ["Ops lead", "Product", "Tech"]
    click(sender, slack, LEAD2, "REQ-1", "Ops lead")                     # any-of: one is enough
    card_for(slack, PROD1, "REQ-1", "Product")
    click(sender, slack, PROD1, "REQ-1", "Product")                      # all-of: one is not
    tandem.settle()
    assert run_of(tandem, request).current_stage == 1 and cards(slack, TECH1) == []
    assert buttons(card_for(slack, PROD1, "REQ-1", "Product")) == set()  # decided: no live buttons
    assert "approval_approve" in buttons(card_for(slack, PROD2, "REQ-1", "Product"))
    click(sender, slack, PROD2, "REQ-1", "Product")
    click(sender, slack, TECH1, "REQ-1", "Tech")                         # 2-of-3
    tandem.settle()
    assert stored(tandem, request).status == "in_approval"
    click(sender, slack, TECH3, "REQ-1", "Tech")
    triage = drained(lambda: slack.messages(TRIAGE), "the triage card")[0]
    assert triage["text"].endswith("· Accepted") and "request_start" in str(triage["blocks"])
    tandem.settle()
    assert stored(tandem, request).status == "accepted"
    assert buttons(card_for(slack, TECH2, "REQ-1", "Tech")) == set()     # the stage closed for TECH2 too
    assert "every stage" in slack.messages(OPS)[-1]["text"]
    assert [d[:2] + d[4:5] for d in decisions(tandem, request)] == [
        ("Ops lead", LEAD2, "approve"), ("Product", PROD1, "approve"), ("Product", PROD2, "approve"),
        ("Tech", TECH1, "approve"), ("Tech", TECH3, "approve")]
    assert events(tandem, request)[-2:] == ["stage_completed", "run_approved"]


def test_budget_condition_adds_the_finance_stage_from_a_user_group(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem, budget=50000)
    assert [s["name"] for s in run_of(tandem, request).stages] == ["Ops lead", "Product", "Finance"]
    assert run_of(tandem, request).stages[2]["approvers"] == [FIN1]
    small = file_activity(sender, slack, tandem, budget=9999, title="Small")
    assert [s["name"] for s in run_of(tandem, small).stages] == ["Ops lead", "Product"]


def reason_modal(sender, slack, user, ref, stage, action_id):
    click(sender, slack, user, ref, stage, action_id)
    view = wait_until(lambda: modal_of(slack, user), message="the reason modal")
    assert view["callback_id"] == "approval_reason"
    return view


def submit_reason(sender, slack, user, view, reason):
    response = sender.view_submission(user, view, {"reason": {"reason": state_value("plain_text_input", reason)}})
    assert response.status == 200
    return slack.apply_view_response(view["id"], response.json())


def test_reject_needs_a_reason_and_declines_the_request(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    view = reason_modal(sender, slack, LEAD1, "REQ-1", "Ops lead", "approval_reject")
    errors = submit_reason(sender, slack, LEAD1, view, "   ")
    assert errors == {"reason": "Please give a reason."}
    assert decisions(tandem, request) == []
    assert submit_reason(sender, slack, LEAD1, view, "No budget this quarter") is None
    drained(lambda: "declined" in slack.messages(OPS)[-1]["text"], "the requester told")
    assert "No budget this quarter" in str(slack.messages(OPS)[-1]["blocks"])
    tandem.settle()
    assert stored(tandem, request).status == "declined"
    assert buttons(card_for(slack, LEAD2, "REQ-1", "Ops lead")) == set()
    assert "rejected" in str(card_for(slack, LEAD2, "REQ-1", "Ops lead")["blocks"])
    assert slack.messages(TRIAGE) == []


def test_request_changes_goes_back_to_the_requester_whose_edit_restarts_the_chain(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    view = reason_modal(sender, slack, LEAD1, "REQ-1", "Ops lead", "approval_changes")
    assert submit_reason(sender, slack, LEAD1, view, "Add the target metric") is None
    drained(lambda: "needs changes" in slack.messages(OPS)[-1]["text"], "the requester told")
    assert stored(tandem, request).status == "need_info"
    first_round = len(cards(slack, LEAD1))
    told = slack.messages(OPS)[-1]
    assert "/request edit" not in told["text"] and told["blocks"][-1]["elements"][0]["action_id"] == "request_edit"
    sender.action(OPS, [action("request_edit")], message=told)  # the Edit button, as on the "filed" DM
    view = wait_until(lambda: (m := modal_of(slack, OPS)) and m.get("private_metadata", "").find("edit") > 0 and m,
                      message="the edit form")
    from tests.approvals.conftest import activity_values
    values = activity_values(effect="GMV +25%")
    values.pop("kind")
    assert sender.view_submission(OPS, view, values).status == 200
    drained(lambda: len(cards(slack, LEAD1)) == first_round + 1, "a new card for the new round")
    assert run_of(tandem, request).round == 2 and stored(tandem, request).status == "in_approval"
    assert "approval_approve" in buttons(cards(slack, LEAD1)[-1])


def test_any_of_concurrent_clicks_exactly_one_completes_the_stage(sender, slack, tandem, workspace):
    for round_ in range(3):
        request = file_activity(sender, slack, tandem, title=f"Race {round_}")
        ref = f"REQ-{request.number}"
        messages = {lead: card_for(slack, lead, ref, "Ops lead") for lead in (LEAD1, LEAD2)}
        at_once(*[lambda user=user, card=messages[user]: sender.action(user, [action("approval_approve")], message=card)
                  for user in (LEAD1, LEAD2, LEAD1)])
        tandem.settle()
        rows = [d for d in decisions(tandem, request) if d[0] == "Ops lead"]
        assert len(rows) == 1, rows
        winner = rows[0][1]
        loser = LEAD2 if winner == LEAD1 else LEAD1
        told = drained(lambda r=ref: len(found := [e for e in slack.ephemerals if r in e["text"]]) >= 2 and found,
                       "the two losing clicks told")
        assert len(told) == 2 and all("already decided" in e["text"] and f"<@{winner}>" in e["text"] for e in told)
        assert loser in {e["user"] for e in told}  # the other lead, and the winner's own double click if LEAD1 won
        assert run_of(tandem, request).current_stage == 1
        assert events(tandem, request).count("stage_completed") == 1
        with session_scope(tandem.engine) as session:
            assert len(list(session.exec(select(ApprovalDecision).where(
                ApprovalDecision.request_id == request.id)))) == 1
        assert card_for(slack, PROD1, ref, "Product")  # the next stage started once


def test_changes_requested_reaches_a_chinese_requester_with_an_edit_button(sender, slack, tandem, workspace):
    from tests.requests.conftest import OPS_ZH

    request = file_activity(sender, slack, tandem, requester=OPS_ZH)
    view = reason_modal(sender, slack, LEAD1, f"REQ-{request.number}", "Ops lead", "approval_changes")
    assert submit_reason(sender, slack, LEAD1, view, "Add the target metric") is None
    told = drained(lambda: (ms := slack.messages(OPS_ZH)) and "需要修改" in ms[-1]["text"] and ms[-1],
                   "the requester told")
    assert told["text"].startswith(f"REQ-{request.number} ") and "请编辑；编辑后审批重新开始。" in told["text"]
    [edit] = told["blocks"][-1]["elements"]
    assert (edit["action_id"], edit["value"], edit["text"]["text"]) == ("request_edit", str(request.number), "编辑")
    sender.action(OPS_ZH, [action("request_edit")], message=told)
    wait_until(lambda: (m := modal_of(slack, OPS_ZH)) and "edit" in m.get("private_metadata", ""),
               message="the edit form")
