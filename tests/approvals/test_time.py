"""Edits that reset approvals, reminders at half the due time, escalation at the due time (driven by
`now`), and delegation."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.approvals import timers
from localslack.payloads import action
from models.business_time import add_business_hours
from models.db import session_scope
from tests.approvals.conftest import (
    BACKUP,
    DEPUTY,
    LEAD1,
    LEAD2,
    PROD1,
    PROD2,
    activity_values,
    buttons,
    card_for,
    cards,
    click,
    decisions,
    ephemerals,
    events,
    file_activity,
    modal_of,
    run_of,
)
from tests.conftest import at_once, wait_until
from tests.outbox import drained
from tests.requests.conftest import OPS


def edit(sender, slack, request, **values):
    sender.command("/request", f"edit REQ-{request.number}", user_id=OPS)
    view = wait_until(lambda: (m := modal_of(slack, OPS)) and '"edit"' in m.get("private_metadata", "") and m,
                      message="the edit form")
    form = activity_values(**values)
    form.pop("kind")
    response = sender.view_submission(OPS, view, form)
    assert response.status == 200 and response.text in ("", "{}"), response.text
    slack.apply_view_response(view["id"], response.json())


def test_a_key_field_edit_after_an_approval_resets_and_restarts_the_chain(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    click(sender, slack, LEAD1, "REQ-1", "Ops lead")
    old_copy = card_for(slack, PROD2, "REQ-1", "Product")
    edit(sender, slack, request, effect="GMV +40%")
    run = wait_until(lambda: (r := run_of(tandem, request)).round == 2 and r, message="the second round")
    assert run.current_stage == 0 and run.status == "running"
    drained(lambda: len(cards(slack, LEAD1)) == 2, "a new card for LEAD1")
    for user in (LEAD1, PROD1, PROD2):  # the decider and the pending approvers are told why
        drained(lambda u=user: any("start again" in m["text"] for m in slack.messages(u)), f"{user} told")
    tandem.settle()
    assert "reset" in events(tandem, request)
    assert buttons(card_for(slack, PROD2, "REQ-1", "Product")) == set()  # the old round's cards are dead
    assert "approval_approve" in buttons(cards(slack, LEAD1)[-1])
    sender.action(PROD2, [action("approval_approve")], message=old_copy)
    assert "not waiting for a decision any more" in ephemerals(slack, PROD2)[0]["text"]  # an old round's card
    tandem.settle()
    assert [d[:2] for d in decisions(tandem, request)] == [("Ops lead", LEAD1)]


def test_an_edit_of_other_fields_keeps_the_chain_going(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    click(sender, slack, LEAD1, "REQ-1", "Ops lead")
    card_for(slack, PROD1, "REQ-1", "Product")
    edit(sender, slack, request, title="Singles Day mega sale")
    tandem.settle()
    assert run_of(tandem, request).round == 1 and run_of(tandem, request).current_stage == 1
    with session_scope(tandem.engine) as session:
        from models.requests import Request
        assert session.get(Request, request.id).status == "in_approval"


def test_business_hours_skip_the_weekend():
    zone = ZoneInfo("UTC")
    friday = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert add_business_hours(friday, 24, zone) == datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert add_business_hours(friday, 12, zone) == datetime(2026, 11, 23, 0, tzinfo=UTC)  # not Saturday 00:00
    shanghai = ZoneInfo("Asia/Shanghai")  # Friday 20:00 there: 4 hours left on Friday, 4 more on Monday
    assert add_business_hours(friday, 8, shanghai) == datetime(2026, 11, 22, 20, tzinfo=UTC)


def age_run(tandem, request, by: timedelta):
    """As if the current stage had started `by` earlier (its remind and due times move with it)."""
    from models.approvals import ApprovalRun

    with session_scope(tandem.engine) as session:
        run = session.get(ApprovalRun, run_of(tandem, request).id)
        run.stage_started_at -= by
        run.stage_remind_at -= by
        run.stage_due_at -= by
        session.add(run)
    return run_of(tandem, request)


def test_reminder_at_half_time_and_escalation_to_the_backup_at_due_time(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    run = run_of(tandem, request)
    assert run.stage_due_at == add_business_hours(run.stage_started_at, 24, ZoneInfo("UTC"))
    assert run.stage_remind_at == add_business_hours(run.stage_started_at, 12, ZoneInfo("UTC"))
    run = age_run(tandem, request, run.stage_due_at - run.stage_started_at + timedelta(hours=1))
    services = tandem.services
    assert timers.sweep(services, now=run.stage_remind_at - timedelta(minutes=1)) == 0
    assert timers.sweep(services, now=run.stage_remind_at) == 2      # LEAD1 and LEAD2
    assert timers.sweep(services, now=run.stage_remind_at + timedelta(minutes=5)) == 0  # once
    for lead in (LEAD1, LEAD2):
        drained(lambda u=lead: any(m["text"].startswith("Reminder: REQ-1") for m in slack.messages(u)),
                "the reminder")
    assert timers.sweep(services, now=run.stage_due_at) == 1
    assert timers.sweep(services, now=run.stage_due_at + timedelta(minutes=5)) == 0
    drained(lambda: any("backup approver" in m["text"] for m in slack.messages(OPS)), "requester told")
    click(sender, slack, BACKUP, "REQ-1", "Ops lead")
    card_for(slack, PROD1, "REQ-1", "Product")
    tandem.settle()
    assert decisions(tandem, request)[0][:3] == ("Ops lead", BACKUP, BACKUP)
    assert events(tandem, request).count("escalated") == 1
    assert buttons(card_for(slack, LEAD2, "REQ-1", "Ops lead")) == set()


def test_the_backup_may_not_decide_before_the_due_time(sender, slack, tandem, workspace):
    file_activity(sender, slack, tandem)
    sender.action(BACKUP, [action("approval_approve")], message=card_for(slack, LEAD1, "REQ-1", "Ops lead"))
    assert "Only the approvers" in ephemerals(slack, BACKUP)[0]["text"]


def test_the_sweep_is_a_scheduler_job(tandem):
    [source] = timers.job_sources(tandem.services)
    with session_scope(tandem.engine) as session:
        [job] = list(source(session, datetime.now(UTC)))
    assert job.key == "approvals:sweep"


def test_delegation_sends_cards_to_the_deputy_who_decides_on_behalf(sender, slack, tandem, workspace):
    answer = sender.command("/approval", f"delegate <@{PROD1}|prod1> until 2099-12-31", user_id=LEAD1).json()
    assert f"<@{PROD1}>" in answer["text"] and "2099-12-31" in answer["text"]
    answer = sender.command("/approval", f"delegate <@{DEPUTY}|deputy> until 2099-12-31", user_id=LEAD1).json()
    request = file_activity(sender, slack, tandem)
    card = card_for(slack, DEPUTY, "REQ-1", "Ops lead")
    assert f"on behalf of <@{LEAD1}>" in str(card["blocks"])
    assert [m for m in cards(slack, LEAD1)] == []
    sender.action(DEPUTY, [action("approval_approve")], message=card)
    card_for(slack, PROD1, "REQ-1", "Product")
    tandem.settle()
    assert decisions(tandem, request) == [("Ops lead", LEAD1, DEPUTY, LEAD1, "approve", None)]
    assert sender.command("/approval", "delegate clear", user_id=LEAD1).json()["text"].startswith("Delegation cleared")
    file_activity(sender, slack, tandem, title="Second")
    card_for(slack, LEAD1, "REQ-2", "Ops lead")


def test_delegation_refuses_bad_input(sender, slack, tandem, workspace):
    for text, words in (("delegate", "Use `/approval delegate"), (f"delegate <@{DEPUTY}> until 2020-01-01", "or later"),
                        (f"delegate <@{DEPUTY}> until someday", "YYYY-MM-DD"),
                        (f"delegate <@{LEAD1}> until 2099-01-01", "your own deputy"),
                        ("delegate <@U0GHOST> until 2099-01-01", "no user U0GHOST")):
        assert words in sender.command("/approval", text, user_id=LEAD1).json()["text"], text


def test_delegation_set_while_a_card_waits_hands_it_to_the_deputy(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    waiting = card_for(slack, LEAD1, "REQ-1", "Ops lead")  # sent to the approver before the delegation
    answer = sender.command("/approval", f"delegate <@{DEPUTY}|deputy> until 2099-12-31", user_id=LEAD1).json()
    assert answer["text"].endswith("The one request waiting on you was sent to them now.")
    handed = card_for(slack, DEPUTY, "REQ-1", "Ops lead")
    assert f"on behalf of <@{LEAD1}>" in str(handed["blocks"]) and "approval_approve" in buttons(handed)
    again = sender.command("/approval", f"delegate <@{DEPUTY}|deputy> until 2099-12-30", user_id=LEAD1).json()
    assert "sent to them now" not in again["text"]  # handed over once
    sender.action(DEPUTY, [action("approval_approve")], message=handed)
    card_for(slack, PROD1, "REQ-1", "Product")
    tandem.settle()
    assert decisions(tandem, request) == [("Ops lead", LEAD1, DEPUTY, LEAD1, "approve", None)]
    for user, message in ((LEAD1, waiting), (DEPUTY, handed)):  # both cards edited: no live button left
        [card] = [m for m in cards(slack, user) if m["ts"] == message["ts"]]
        assert "approval_approve" not in buttons(card), user
    assert len(cards(slack, DEPUTY)) == 1


def test_delegation_as_typed_with_escaping_on(sender, slack, tandem, workspace):
    """The manifest escapes /approval: Slack sends `<@U0DEPUTY|u0deputy>` for `@u0deputy`."""
    file_activity(sender, slack, tandem)
    card_for(slack, LEAD1, "REQ-1", "Ops lead")
    answer = sender.command("/approval", "delegate @u0deputy until 2099-12-31", user_id=LEAD1).json()
    # the handed-over sentence used to turn the whole confirmation into text: `&lt;@U0DEPUTY&gt;`
    assert answer["blocks"][0]["text"]["text"].startswith(f"Until 2099-12-31, <@{DEPUTY}> receives")
    assert answer["text"].endswith("The one request waiting on you was sent to them now.")
    assert "&lt;" not in str(answer)
    card_for(slack, DEPUTY, "REQ-1", "Ops lead")


def test_delegation_resolves_a_plain_name_where_escaping_is_off(sender, slack, tandem, workspace):
    slack.escape_overrides["/approval"] = False  # an app installed from an older manifest
    slack.add_user("U0OLGAP", name="olga.p", real_name="Olga")
    slack.add_user("U0OLGAK", name="olga.k", real_name="Olga")
    slack.add_user("U0WEI", name="wei", locale="zh-CN")
    answer = sender.command("/approval", "delegate @olga.p until 2099-12-31", user_id=LEAD1).json()
    assert answer["text"].startswith("Until 2099-12-31, <@U0OLGAP> receives your approval cards")
    ambiguous = sender.command("/approval", "delegate @Olga until 2099-12-31", user_id=LEAD1).json()["text"]
    assert ambiguous.startswith("@Olga could be <@U0OLGAP>, <@U0OLGAK>. Mention the one you mean")
    unknown = sender.command("/approval", "delegate @nobody until 2099-12-31", user_id=LEAD1).json()["text"]
    assert unknown.startswith("There is no one called @nobody in this workspace.")
    slack.add_user("U0NEW", name="newcomer")  # joined after the list was cached a minute ago: asked again
    (team, (fetched, members)), = tandem.services.people.items()
    tandem.services.people[team] = (fetched - 60, members)
    assert "<@U0NEW>" in sender.command("/approval", "delegate @newcomer until 2099-12-31", user_id=LEAD1).json()["text"]
    chinese = sender.command("/approval", "delegate @Olga until 2099-12-31", user_id="U0WEI").json()["text"]
    assert chinese.startswith("@Olga 可能是 <@U0OLGAP>, <@U0OLGAK>。")
    assert sender.command("/approval", "delegate @nobody until 2099-12-31", user_id="U0WEI").json()["text"] \
        .startswith("本工作区没有叫 @nobody 的人。")
    done = sender.command("/approval", "delegate @olga.k until 2099-12-31", user_id="U0WEI").json()["text"]
    assert done.startswith("在 2099-12-31 之前，<@U0OLGAK> 会收到你的审批卡片")


def test_escalation_after_downtime_past_the_due_time_happens_once(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    run = run_of(tandem, request)
    run = age_run(tandem, request, run.stage_due_at - run.stage_started_at + timedelta(days=3))
    after_downtime = run.stage_due_at + timedelta(days=2)  # no sweep ran at the reminder or due time
    # two replicas' sweeps (or a catch-up and the next tick) at the same moment: one escalation
    done = at_once(*[lambda: timers.sweep(tandem.services, now=after_downtime)] * 3)
    assert sum(done) == 3  # two reminders (LEAD1, LEAD2) and one escalation, across all three sweeps
    assert timers.sweep(tandem.services, now=after_downtime + timedelta(minutes=5)) == 0
    card_for(slack, BACKUP, "REQ-1", "Ops lead")
    tandem.settle()
    assert events(tandem, request).count("escalated") == 1
    assert sum("backup approver" in m["text"] for m in slack.messages(OPS)) == 1


def test_the_sweep_runs_on_fixed_ticks_so_a_restart_catches_up_at_once(tandem):
    from scheduler import last_due

    [source] = timers.job_sources(tandem.services)
    with session_scope(tandem.engine) as session:
        [job] = list(source(session, datetime.now(UTC)))
    start = datetime(2026, 12, 1, 10, 7, 30, tzinfo=UTC)  # a process that just started
    assert last_due(job.trigger, now=start, since=start - timedelta(hours=1)) == datetime(2026, 12, 1, 10, 5,
                                                                                            tzinfo=UTC)


def test_a_name_that_cannot_be_looked_up_is_answered_not_guessed(sender, slack, tandem, workspace):
    slack.escape_overrides["/approval"] = False
    slack.fail_next("users.list", status=500)  # Slack failing the lookup
    text = sender.command("/approval", "delegate @u0deputy until 2099-12-31", user_id=LEAD1).json()["text"]
    assert text.startswith("Slack did not give Tandem the list of people just now")
    assert sender.command("/approval", "delegate @u0deputy until 2099-12-31", user_id=LEAD1).json()["text"] \
        .startswith(f"Until 2099-12-31, <@{DEPUTY}> receives")  # Slack is back: the same words work
