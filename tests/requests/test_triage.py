"""Triage from the card, end to end: signed clicks and modal submissions against the local Slack.

Each change must edit the one card in place, add one line to its thread and DM the requester;
each refusal must reach only the clicker and change nothing.
"""


from sqlmodel import select

import templates
from handlers.common import rule_error_message
from localslack.payloads import action, state_value
from models.db import session_scope
from models.errors import RuleError
from models.requests import Request, RequestEvent
from tests.conftest import at_once, wait_until
from tests.outbox import drained
from tests.requests.conftest import OPS, OPS_ZH, OUTSIDER, PM1, PM2, TRIAGE, card_of, file_quickly


# -- helpers ---------------------------------------------------------------------------------------
def card(slack, tandem, request) -> dict:
    channel, ts = card_of(tandem, request)
    return next(m for m in slack.messages(channel) if m["ts"] == ts)


def card_shows(slack, tandem, request, status: str) -> dict:
    return drained(lambda: (m := card(slack, tandem, request))["text"].endswith(f"· {status}") and m,
                   f"the card to show {status}")


def texts(message: dict) -> list[str]:
    return [block["text"]["text"] for block in message["blocks"] if block["type"] == "section" and "text" in block]


def stored(tandem, request) -> Request:
    with session_scope(tandem.engine) as session:
        return session.get(Request, request.id)


def actions(tandem, request) -> list[str]:
    with session_scope(tandem.engine) as session:
        return list(session.exec(select(RequestEvent.action).where(RequestEvent.request_id == request.id)
                                 .order_by(RequestEvent.id)))


def top_level(slack) -> list[dict]:
    return [m for m in slack.messages(TRIAGE) if m["thread_ts"] in (None, m["ts"])]


def thread(slack, tandem, request) -> list[str]:
    return [m["text"] for m in slack.replies(TRIAGE, card_of(tandem, request)[1])]


def dms(slack, user) -> list[str]:
    return [m["text"] for m in slack.messages(user)]


def ephemeral_for(slack, user, count: int = 1) -> list[dict]:
    return drained(lambda: len(found := [e for e in slack.ephemerals if e["user"] == user]) >= count and found,
                   f"an ephemeral message for {user}")


def refusal(key: str, language: str = "en", **params) -> str:
    return rule_error_message(RuleError(key, **params), language=language)["text"]


def modal_of(slack, user) -> dict | None:
    return ((slack.views.get(user) or {}).get("modals") or [None])[-1]


def open_reason(sender, slack, tandem, request, user, action_id) -> dict:
    sender.action(user, [action(action_id)], message=card(slack, tandem, request))
    view = wait_until(lambda: modal_of(slack, user), message="the modal")
    assert view["callback_id"] == "request_reason"
    return view


def submit(sender, slack, user, view, block, value):
    """Submit the reason modal as Slack would; returns the inline errors (None when it closed)."""
    action_id = "ref" if block == "duplicate_of" else "reason"
    response = sender.view_submission(user, view, {block: {action_id: state_value("plain_text_input", value)}})
    assert response.status == 200
    return slack.apply_view_response(view["id"], response.json())


# -- the buttons -----------------------------------------------------------------------------------
def test_accept_edits_the_card_adds_a_thread_line_and_dms_the_requester(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    assert sender.action(PM1, [action("request_accept")], message=card(slack, tandem, request)).status == 200
    shown = card_shows(slack, tandem, request, "Accepted")
    drained(lambda: len(dms(slack, OPS)) == 2, "the DM about the change")
    assert len(top_level(slack)) == 1 and shown["edited"]
    assert [c.args["ts"] for c in slack.calls_to("chat.update")] == [shown["ts"]]
    [actions_block] = [b for b in shown["blocks"] if b["type"] == "actions"]
    assert actions_block["block_id"] == f"request_card:{request.number}:2"
    assert {e["action_id"] for e in actions_block["elements"]} >= {"request_start", "request_done"}
    assert "request_accept" not in {e["action_id"] for e in actions_block["elements"]}
    assert thread(slack, tandem, request) == [f"<@{PM1}> accepted · New → Accepted"]
    assert dms(slack, OPS)[1] == "REQ-1: Accepted"
    row = stored(tandem, request)
    assert (row.status, row.version, row.triaged_at is not None) == ("accepted", 2, True)
    assert actions(tandem, request) == ["filed", "accept"]


def test_start_done_and_reopen_follow_the_card(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    for action_id, status in (("request_accept", "Accepted"), ("request_start", "In progress"),
                              ("request_done", "Done"), ("request_reopen", "Accepted")):
        sender.action(PM2, [action(action_id)], message=card(slack, tandem, request))
        card_shows(slack, tandem, request, status)
        changes = len(actions(tandem, request)) - 1
        drained(lambda: len(thread(slack, tandem, request)) == changes, "the thread line")  # noqa: B023
    drained(lambda: len(dms(slack, OPS)) == 5, "a DM per change")
    assert actions(tandem, request) == ["filed", "accept", "start", "done", "reopen"]
    assert len(thread(slack, tandem, request)) == 4 and len(top_level(slack)) == 1
    assert len(slack.calls_to("chat.update")) == 4
    row = stored(tandem, request)
    assert (row.status, row.version, row.done_at) == ("accepted", 5, None)


def test_an_outsider_clicking_accept_is_told_no_and_nothing_changes(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    sender.action(OUTSIDER, [action("request_accept")], message=card(slack, tandem, request))
    [told] = ephemeral_for(slack, OUTSIDER)
    assert told["via"] == "response_url" and told["text"] == refusal("requests.not_product", ref="REQ-1")
    tandem.settle()
    assert (stored(tandem, request).status, stored(tandem, request).version) == ("new", 1)
    assert actions(tandem, request) == ["filed"]
    assert card(slack, tandem, request)["text"].endswith("· New")  # the original message is not replaced
    assert not slack.calls_to("chat.update") and thread(slack, tandem, request) == []


def test_a_refusal_speaks_the_clickers_language(sender, slack, tandem, workspace):
    slack.add_user("U0ZHOUT", name="zh-outsider", locale="zh-CN")
    request = file_quickly(tandem, workspace.team_id)
    sender.action("U0ZHOUT", [action("request_accept")], message=card(slack, tandem, request))
    [told] = ephemeral_for(slack, "U0ZHOUT")
    assert told["text"] == refusal("requests.not_product", "zh_CN", ref="REQ-1") != refusal(
        "requests.not_product", ref="REQ-1")


def test_a_stale_button_on_a_done_request_changes_nothing(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    sender.action(PM1, [action("request_accept")], message=card(slack, tandem, request))
    accepted = card_shows(slack, tandem, request, "Accepted")
    sender.action(PM1, [action("request_done")], message=accepted)
    card_shows(slack, tandem, request, "Done")
    tandem.settle()
    updates = len(slack.calls_to("chat.update"))
    sender.action(PM2, [action("request_start")], message=accepted)     # an old copy of the card
    ephemeral_for(slack, PM2)
    sender.action(PM2, [action("request_decline")], message=accepted)   # would open a modal: refused first
    told = ephemeral_for(slack, PM2, 2)
    stale = refusal("requests.invalid_transition", ref="REQ-1", action="start", status="done", by=PM1)
    assert told[0]["text"] == stale and "already Done" in stale
    assert "already Done" in told[1]["text"]
    tandem.settle()
    assert not slack.views[PM2]["modals"] and not slack.calls_to("views.open")
    assert actions(tandem, request) == ["filed", "accept", "done"] and stored(tandem, request).version == 3
    assert len(slack.calls_to("chat.update")) == updates


def test_a_double_click_on_accept_records_one_event(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    message = card(slack, tandem, request)
    at_once(*[lambda: sender.action(PM1, [action("request_accept")], message=message)] * 2)
    card_shows(slack, tandem, request, "Accepted")
    [told] = ephemeral_for(slack, PM1)
    assert "already Accepted" in told["text"]
    tandem.settle()
    assert actions(tandem, request) == ["filed", "accept"]
    assert len(thread(slack, tandem, request)) == 1 and len(dms(slack, OPS)) == 2


def race_accept_and_decline(sender, slack, tandem, request) -> dict:
    """PM2 has the Decline modal open; PM1 clicks Accept as PM2 submits, from two threads."""
    view = open_reason(sender, slack, tandem, request, PM2, "request_decline")
    message = card(slack, tandem, request)
    accepted, declined = at_once(
        lambda: sender.action(PM1, [action("request_accept")], message=message),
        lambda: sender.view_submission(PM2, view, {"reason": {"reason": state_value("plain_text_input",
                                                                                    "Out of scope")}}))
    slack.apply_view_response(view["id"], declined.json())
    return {"accept": accepted, "decline": declined}


def test_accept_and_decline_at_the_same_moment_one_wins(sender, slack, tandem, workspace):
    for round_ in range(3):
        request = file_quickly(tandem, workspace.team_id, title=f"Race {round_}")
        results = race_accept_and_decline(sender, slack, tandem, request)
        assert results["accept"].status == results["decline"].status == 200
        assert results["decline"].text in ("", "{}")  # the modal closes either way
        tandem.settle()
        events = actions(tandem, request)
        assert events in (["filed", "accept"], ["filed", "decline"]), events
        winner, loser = (PM1, PM2) if events[-1] == "accept" else (PM2, PM1)
        status = "Accepted" if winner == PM1 else "Declined"
        card_shows(slack, tandem, request, status)
        told = [e for e in ephemeral_for(slack, loser) if f"REQ-{request.number} " in e["text"]]
        assert len(told) == 1 and f"already {status}" in told[0]["text"] and f"<@{winner}>" in told[0]["text"]
        assert told[0]["via"] == ("chat.postEphemeral" if loser == PM2 else "response_url")
        assert stored(tandem, request).version == 2
        assert len(thread(slack, tandem, request)) == 1


def test_assign_sets_the_owner_once(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    pick = [action("request_assign", type="users_select", selected_user=PM2)]
    sender.action(PM1, pick, message=card(slack, tandem, request))
    drained(lambda: f"<@{PM2}>" in str(card(slack, tandem, request)["blocks"]), "the owner on the card")
    sender.action(PM1, pick, message=card(slack, tandem, request))        # the same person again: no change
    sender.action(OUTSIDER, pick, message=card(slack, tandem, request))
    assert ephemeral_for(slack, OUTSIDER)[0]["text"] == refusal("requests.not_product", ref="REQ-1")
    tandem.settle()
    assert stored(tandem, request).assignee == PM2 and actions(tandem, request) == ["filed", "assigned"]
    assert thread(slack, tandem, request) == [f"<@{PM1}> changed the owner · <@{PM2}>"]
    assert len(dms(slack, OPS)) == 2 and stored(tandem, request).status == "new"


def test_a_chinese_requester_hears_in_chinese(sender, slack, tandem, workspace):
    tandem.services.member(workspace.team_id, OPS_ZH)  # Tandem met them when they filed
    request = file_quickly(tandem, workspace.team_id, requester=OPS_ZH)
    sender.action(PM1, [action("request_accept")], message=card(slack, tandem, request))
    drained(lambda: len(dms(slack, OPS_ZH)) == 2, "the DM")
    accepted = str(templates.translations("zh_CN").gettext("Accepted"))
    assert accepted != "Accepted" and dms(slack, OPS_ZH)[1] == f"REQ-1：{accepted}"  # a Chinese colon
    assert thread(slack, tandem, request) == [f"<@{PM1}> accepted · New → Accepted"]  # the workspace's language


# -- the reason modal ------------------------------------------------------------------------------
def test_decline_needs_a_reason_shown_inline(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    view = open_reason(sender, slack, tandem, request, PM1, "request_decline")
    [reason] = [b for b in view["blocks"] if b.get("block_id") == "reason"]
    assert reason["element"]["max_length"] == 2000 and "2000" in reason["hint"]["text"]
    assert submit(sender, slack, PM1, view, "reason", "   ") == {"reason": "Please give a reason."}
    too_long = submit(sender, slack, PM1, view, "reason", "x" * 2001)
    assert "2000" in too_long["reason"] and modal_of(slack, PM1)["id"] == view["id"]  # still open
    assert actions(tandem, request) == ["filed"]
    assert submit(sender, slack, PM1, view, "reason", "Not this quarter <!channel>") is None
    assert modal_of(slack, PM1) is None
    declined = card_shows(slack, tandem, request, "Declined")
    # the card itself says who declined and why (not just "Declined")
    assert f":no_entry_sign: Declined by <@{PM1}>\n> Not this quarter &lt;!channel&gt;" in texts(declined)
    drained(lambda: len(dms(slack, OPS)) == 2, "the DM")
    dm = slack.messages(OPS)[1]["blocks"][0]["text"]["text"]
    assert "> Not this quarter &lt;!channel&gt;" in dm and "<!channel>" not in dm
    with session_scope(tandem.engine) as session:
        event = session.exec(select(RequestEvent).where(RequestEvent.action == "decline")).one()
        assert (event.actor, event.reason, event.to_status) == (PM1, "Not this quarter <!channel>", "declined")


def test_need_info_asks_the_requester(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    view = open_reason(sender, slack, tandem, request, PM2, "request_need_info")
    assert submit(sender, slack, PM2, view, "reason", "Which report, daily or weekly?") is None
    card_shows(slack, tandem, request, "Needs info")
    drained(lambda: len(dms(slack, OPS)) == 2, "the DM")
    assert "Which report, daily or weekly?" in str(slack.messages(OPS)[1]["blocks"])
    assert "request_edit" in str(slack.messages(OPS)[1]["blocks"])  # an Edit button, as on the "filed" DM
    assert thread(slack, tandem, request) == [
        f"<@{PM2}> asked for more information · New → Needs info\n> Which report, daily or weekly?"]


def test_duplicate_of_an_unknown_request_or_itself_is_refused_inline(sender, slack, tandem, workspace):
    original = file_quickly(tandem, workspace.team_id, title="Export v1")
    request = file_quickly(tandem, workspace.team_id, title="Export again")
    view = open_reason(sender, slack, tandem, request, PM1, "request_duplicate")
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == ["duplicate_of"]
    assert submit(sender, slack, PM1, view, "duplicate_of", "REQ-99") == {"duplicate_of": "There is no REQ-99 in this workspace."}
    assert submit(sender, slack, PM1, view, "duplicate_of", "REQ-2") == {"duplicate_of": "REQ-2 cannot be a duplicate of itself."}
    assert "is not a request id" in submit(sender, slack, PM1, view, "duplicate_of", "<abc>")["duplicate_of"]
    assert actions(tandem, request) == ["filed"]
    assert submit(sender, slack, PM1, view, "duplicate_of", "1") is None
    shown = card_shows(slack, tandem, request, "Duplicate")
    assert "Duplicate (REQ-1)" in str(shown["blocks"])
    row = stored(tandem, request)
    assert (row.status, row.duplicate_of) == ("duplicate", original.id)
    drained(lambda: "REQ-1" in str(slack.messages(OPS)[-1]["blocks"]), "the DM naming the original")


def test_outsiders_get_no_reason_modal(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    sender.action(OUTSIDER, [action("request_need_info")], message=card(slack, tandem, request))
    assert ephemeral_for(slack, OUTSIDER)[0]["text"] == refusal("requests.not_product", ref="REQ-1")
    tandem.settle()
    assert not slack.calls_to("views.open") and actions(tandem, request) == ["filed"]


def test_a_reason_given_after_someone_else_moved_the_request_is_refused(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    view = open_reason(sender, slack, tandem, request, PM2, "request_decline")
    sender.action(PM1, [action("request_accept")], message=card(slack, tandem, request))
    card_shows(slack, tandem, request, "Accepted")
    assert submit(sender, slack, PM2, view, "reason", "Too big") is None  # the modal closes ...
    [told] = ephemeral_for(slack, PM2)                                   # ... and PM2 hears why
    assert (told["via"], told["channel"]) == ("chat.postEphemeral", TRIAGE)
    assert told["text"] == refusal("requests.invalid_transition", ref="REQ-1", action="decline",
                                   status="accepted", by=PM1)
    tandem.settle()
    assert actions(tandem, request) == ["filed", "accept"]
    assert card(slack, tandem, request)["text"].endswith("· Accepted")


# -- replies in the card's thread ------------------------------------------------------------------
def reply(sender, slack, tandem, request, user, text, event_id=None, **extra):
    """A person's reply in the card's thread, as Slack stores it and sends the message event."""
    ts = card_of(tandem, request)[1]
    message = slack.add_message(TRIAGE, text, user=user, thread_ts=ts)
    event = {"type": "message", "channel": TRIAGE, "user": user, "text": text, "ts": message["ts"],
             "thread_ts": ts, "event_ts": message["ts"], "channel_type": "channel", **extra}
    assert sender.event(event, event_id=event_id).status == 200
    return event


def comments(tandem, request) -> list[tuple[str, str]]:
    from models.requests import RequestComment

    with session_scope(tandem.engine) as session:
        rows = session.exec(select(RequestComment).where(RequestComment.request_id == request.id)
                            .order_by(RequestComment.id))
        return [(c.author, c.text) for c in rows]


def test_the_requesters_reply_to_need_info_sends_it_back_to_triage(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    view = open_reason(sender, slack, tandem, request, PM1, "request_need_info")
    submit(sender, slack, PM1, view, "reason", "Which report?")
    card_shows(slack, tandem, request, "Needs info")
    event = reply(sender, slack, tandem, request, OPS, "The weekly one", event_id="Ev0REPLY1")
    card_shows(slack, tandem, request, "New")
    assert sender.event(event, event_id="Ev0REPLY1", retry_num=1).status == 200   # Slack's retry
    assert sender.event(event, event_id="Ev0REPLY2").status == 200                # the same message again
    tandem.settle()
    assert comments(tandem, request) == [(OPS, "The weekly one")]
    assert actions(tandem, request) == ["filed", "need_info", "replied"]
    assert stored(tandem, request).status == "new"
    bot_lines = [m["text"] for m in slack.replies(TRIAGE, card_of(tandem, request)[1]) if m["user"] == "UBOT"]
    assert bot_lines[-1] == f"<@{OPS}> replied · Needs info → New"
    assert len(dms(slack, OPS)) == 2  # filed + need_info; not told about their own reply


def test_other_thread_messages_are_kept_or_ignored(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    reply(sender, slack, tandem, request, PM1, "Looking into it")                       # a comment, no change
    reply(sender, slack, tandem, request, "UBOT", "a bot line", bot_id="B0TEST")         # Tandem's own line
    reply(sender, slack, tandem, request, "U0OTHERBOT", "hi", bot_id="B0OTHER", subtype="bot_message")
    reply(sender, slack, tandem, request, OPS, "edited", subtype="message_changed")
    other = slack.add_message(TRIAGE, "not a card")
    sender.event({"type": "message", "channel": TRIAGE, "user": OPS, "text": "elsewhere", "ts": "1.000001",
                  "thread_ts": other["ts"]})
    sender.event({"type": "message", "channel": TRIAGE, "user": OPS, "text": "top level", "ts": "1.000002"})
    tandem.settle()
    assert comments(tandem, request) == [(PM1, "Looking into it")]
    assert actions(tandem, request) == ["filed"] and stored(tandem, request).version == 1
    assert not slack.calls_to("chat.update")
    from models.events import HandledEvent

    with session_scope(tandem.engine) as session:  # only the kept comment's event is remembered
        assert len(session.exec(select(HandledEvent)).all()) == 1


def test_a_declined_card_says_who_and_why_in_chinese(sender, slack, tandem, workspace):
    from tests.conftest import SETTINGS_ADMIN

    slack.add_user(SETTINGS_ADMIN, name="tandem-admin")
    assert sender.command("/tandem", "language zh-CN", user_id=SETTINGS_ADMIN).status == 200
    request = file_quickly(tandem, workspace.team_id)
    view = open_reason(sender, slack, tandem, request, PM1, "request_decline")
    assert submit(sender, slack, PM1, view, "reason", "本季度不做") is None
    declined = drained(lambda: "已拒绝" in str((m := card(slack, tandem, request))["blocks"]) and m, "the declined card")
    assert f":no_entry_sign: <@{PM1}> 已拒绝\n> 本季度不做" in texts(declined)

