"""Filing and editing requests through the modal, end to end against the local Slack."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from localslack.payloads import state_value
from models.db import session_scope
from models.requests import Request, RequestEvent
from tests.conftest import wait_until
from tests.outbox import drained
from tests.requests.conftest import OPS, OPS_ZH, OUTSIDER, PM1, TRIAGE, file_quickly


def opened_modal(slack, user_id):
    return wait_until(lambda: ((slack.views.get(user_id) or {}).get("modals") or [None])[-1], message="a modal")


def text(value):
    return state_value("plain_text_input", value)


def feature_values(**overrides):
    values = {"kind": "feature", "title": "Bulk export", "problem": "Export takes an hour", "user_story": "As ops I export",
              "expected_value": "Hours saved", "priority": "P1", "labels": "q4, Checkout"}
    values.update(overrides)
    kinds = {"priority": "static_select", "kind": "static_select", "wanted_by": "datepicker"}
    return {block: {"request_kind" if block == "kind" else "value": state_value(kinds.get(block, "plain_text_input"),
                                                                               value)}
            for block, value in values.items() if value is not None}


def requests_in_db(tandem):
    with session_scope(tandem.engine) as session:
        return list(session.exec(select(Request).order_by(Request.number)))


def open_and_pick(sender, slack, user_id, kind="feature"):
    """/request, then choose the kind: the form is redrawn for it (views.update)."""
    sender.command("/request", "", user_id=user_id)
    view = opened_modal(slack, user_id)
    assert view["callback_id"] == "request_form"
    if kind != "activity":
        sender.action(user_id, [{"action_id": "request_kind", "block_id": "kind",
                                 "selected_option": {"value": kind, "text": {"type": "plain_text", "text": kind}},
                                 "type": "static_select"}], view=view)
        wait_until(lambda: len(slack.calls_to("views.update")) >= 1, message="the form redrawn")
        view = slack.view(view["id"])
    return view


def test_file_a_feature_request_end_to_end(sender, slack, tandem, workspace):
    view = open_and_pick(sender, slack, OPS)
    assert {b.get("block_id") for b in view["blocks"]} >= {"kind", "title", "problem", "user_story", "priority"}
    response = sender.view_submission(OPS, view, feature_values())
    assert response.status == 200 and response.text in ("", "{}")
    [request] = requests_in_db(tandem)
    assert (request.number, request.kind, request.status, request.priority) == (1, "feature", "new", "P1")
    assert request.labels == ["q4", "checkout"]
    card = drained(lambda: slack.messages(TRIAGE), "the triage card")[0]
    assert card["text"].startswith("REQ-1 · Bulk export")
    dm = drained(lambda: slack.messages(OPS), "the requester's DM")[0]
    assert "REQ-1" in dm["text"]
    assert f"/archives/{TRIAGE}/p{card['ts'].replace('.', '')}" in str(dm["blocks"])  # the card's permalink
    assert "request_edit" in str(dm["blocks"])


def test_numbers_count_per_workspace(sender, slack, tandem, workspace):
    for title in ("first", "second"):
        view = open_and_pick(sender, slack, OPS)
        sender.view_submission(OPS, view, feature_values(title=title))
    assert [(r.number, r.title) for r in requests_in_db(tandem)] == [(1, "first"), (2, "second")]


def test_activity_request_with_dates_support_and_budget(sender, slack, tandem, workspace):
    view = open_and_pick(sender, slack, OPS, kind="activity")
    start = int((datetime.now(UTC) + timedelta(days=3)).timestamp())
    values = {
        "kind": {"request_kind": state_value("static_select", "activity")},
        "title": {"value": text("双十一大促 🎉")},
        "starts_at": {"value": state_value("datetimepicker", start)},
        "ends_at": {"value": state_value("datetimepicker", start + 86400)},
        "details": {"value": text("全场八折")},
        "support": {"value": state_value("multi_static_select", ["design", "engineering"])},
        "expected_effect": {"value": text("GMV +20%")},
        "budget_amount": {"value": text("50,000")},
        "budget_currency": {"value": state_value("static_select", "CNY")},
        "priority": {"value": state_value("static_select", "P0")},
    }
    assert sender.view_submission(OPS, view, values).status == 200
    [request] = requests_in_db(tandem)
    assert request.title == "双十一大促 🎉"
    assert request.fields["support"] == ["design", "engineering"]
    assert (request.fields["budget_amount"], request.fields["budget_currency"]) == ("50000", "CNY")
    card = drained(lambda: slack.messages(TRIAGE), "the card")[0]
    assert f"<!date^{start}^" in str(card["blocks"])


@pytest.mark.parametrize(("values", "expected"), [
    (feature_values(problem=None), {"problem": "Please fill this in."}),
    (feature_values(title="x" * 151), {"title": "151 characters; at most 150 fit."}),
    (feature_values(wanted_by="2020-01-01"), {"wanted_by": "This is in the past; choose a later date."}),
    (feature_values(labels=", ".join(f"l{n}" for n in range(11))), {"labels": "At most 10 labels."}),
])
def test_bad_input_is_shown_inline_and_nothing_is_stored(sender, slack, tandem, workspace, values, expected):
    view = open_and_pick(sender, slack, OPS)
    answer = sender.view_submission(OPS, view, values).json()
    assert answer == {"response_action": "errors", "errors": expected}
    assert requests_in_db(tandem) == []
    assert slack.messages(TRIAGE) == []


def test_activity_dates_and_numbers_are_checked(sender, slack, tandem, workspace):
    view = open_and_pick(sender, slack, OPS, kind="activity")
    past = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    values = {
        "title": {"value": text("Sale")}, "details": {"value": text("d")}, "expected_effect": {"value": text("e")},
        "starts_at": {"value": state_value("datetimepicker", past)},
        "ends_at": {"value": state_value("datetimepicker", past - 3600)},
        "budget_amount": {"value": text("lots")}, "target_value": {"value": text("12k")},
    }
    errors = sender.view_submission(OPS, view, values).json()["errors"]
    assert errors == {
        "starts_at": "This is in the past; choose a later date.", "ends_at": "The end must be after the start.",
        "budget_amount": "Please enter a number, e.g. 12000 or 0.5.",
        "target_value": "Please enter a number, e.g. 12000 or 0.5.",
    }
    assert requests_in_db(tandem) == []


def test_errors_are_translated_for_a_chinese_user(sender, slack, tandem, workspace):
    view = open_and_pick(sender, slack, OPS_ZH)
    errors = sender.view_submission(OPS_ZH, view, feature_values(problem=None)).json()["errors"]
    assert errors == {"problem": "请填写此项。"}


def test_user_text_never_pings_anyone(sender, slack, tandem, workspace):
    view = open_and_pick(sender, slack, OPS)
    sender.view_submission(OPS, view, feature_values(title="<!channel> please & thanks", problem="<!here> \u202eRTL"))
    card = drained(lambda: slack.messages(TRIAGE), "the card")[0]
    assert "<!channel>" not in str(card) and "<!here>" not in str(card)
    problem = next(b["text"]["text"] for b in card["blocks"] if "Problem" in b.get("text", {}).get("text", ""))
    assert problem.endswith("&lt;!here&gt; \u202eRTL")
    assert requests_in_db(tandem)[0].title == "<!channel> please & thanks"  # stored as typed


def test_message_shortcut_prefills_the_description_and_keeps_the_link(sender, slack, tandem, workspace):
    slack.add_message("C0GENERAL", "Checkout button is broken on iOS", user=OPS)
    message = slack.messages("C0GENERAL")[-1]
    sender.message_action("request_from_message", message, "C0GENERAL", user_id=OPS)
    view = opened_modal(slack, OPS)
    details = next(b for b in view["blocks"] if b.get("block_id") == "details")
    assert details["element"]["initial_value"] == "Checkout button is broken on iOS"
    values = {"title": {"value": text("iOS checkout")}, "details": {"value": text("broken")},
              "expected_effect": {"value": text("fixed")},
              "starts_at": {"value": state_value("datetimepicker", int(datetime.now(UTC).timestamp()) + 3600)},
              "ends_at": {"value": state_value("datetimepicker", int(datetime.now(UTC).timestamp()) + 7200)}}
    sender.view_submission(OPS, view, values)
    [request] = requests_in_db(tandem)
    assert request.source_permalink and "C0GENERAL" in request.source_permalink


def test_global_shortcut_and_home_button_open_the_same_form(sender, slack, workspace):
    sender.shortcut("request_new", user_id=OPS)
    assert opened_modal(slack, OPS)["callback_id"] == "request_form"
    sender.action(PM1, [{"action_id": "request_new_from_home", "block_id": "home", "type": "button",
                         "value": "new"}], container={"type": "view"})
    assert opened_modal(slack, PM1)["callback_id"] == "request_form"


def test_an_expired_trigger_gets_a_clear_answer(sender, slack, workspace):
    url = slack.new_response_url()
    sender.command("/request", "new", user_id=OPS, trigger_id=slack.new_trigger_id(age=4), response_url=url)
    answer = wait_until(lambda: slack.responses(url), message="the answer")[0]
    assert "3 seconds" in answer["text"]


def test_the_requester_edits_a_new_request(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id, OPS)
    sender.command("/request", f"edit REQ-{request.number}", user_id=OPS)
    view = opened_modal(slack, OPS)
    title = next(b for b in view["blocks"] if b.get("block_id") == "title")
    assert title["element"]["initial_value"] == "Faster export"
    assert sender.view_submission(OPS, view, feature_values(title="Much faster export")).status == 200
    [stored] = requests_in_db(tandem)
    assert (stored.title, stored.version) == ("Much faster export", 2)
    drained(lambda: "Much faster export" in slack.messages(TRIAGE)[0]["text"], "the card edited")
    cards = [m for m in slack.messages(TRIAGE) if m.get("thread_ts") in (None, m["ts"])]  # not thread lines
    assert len(cards) == 1
    with session_scope(tandem.engine) as session:
        actions = [e.action for e in session.exec(select(RequestEvent).order_by(RequestEvent.id))]
    assert actions == ["filed", "edited"]


def test_only_the_requester_may_edit_and_only_while_untriaged(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id, OPS)
    url = slack.new_response_url()
    sender.command("/request", f"edit {request.number}", user_id=OUTSIDER, response_url=url)
    assert "Only the requester can edit REQ-1" in wait_until(lambda: slack.responses(url), message="refusal")[0]["text"]
    with session_scope(tandem.engine) as session:
        stored = session.get(Request, request.id)
        stored.status = "done"
        session.add(stored)
    url = slack.new_response_url()
    sender.command("/request", "edit REQ-1", user_id=OPS, response_url=url)
    assert "can no longer be edited" in wait_until(lambda: slack.responses(url), message="refusal")[0]["text"]
    url = slack.new_response_url()
    sender.command("/request", "edit REQ-99", user_id=OPS, response_url=url)
    assert "There is no REQ-99" in wait_until(lambda: slack.responses(url), message="refusal")[0]["text"]


def test_without_a_triage_channel_the_requester_is_told(sender, slack, tandem):
    slack.add_user(OPS, locale="en-US")
    view = open_and_pick(sender, slack, OPS)
    sender.view_submission(OPS, view, feature_values())
    dm = drained(lambda: slack.messages(OPS), "the DM")[0]
    assert "No triage channel is set up yet" in str(dm["blocks"])
    assert len(requests_in_db(tandem)) == 1
