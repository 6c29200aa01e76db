"""A day of a standup end to end: prompt DMs, "Fill in" and "Skip today", one report edited in
place, nudges to the late ones only, finalisation naming the missing, exactly once throughout."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from handlers.standups import running
from localslack.payloads import state_value
from models.db import session_scope
from models.outbox import LEASE, OutboxMessage
from models.standups import StandupAnswer
from tests.conftest import assert_replay_changes_nothing, wait_until
from tests.outbox import drained
from tests.standups.conftest import BERLIN, NY, OWNER, REPORT, SHANGHAI, sends, tick
from tests.test_delivery import crash_before_recording

EVERYONE = (OWNER, NY, BERLIN, SHANGHAI)


def prompt_of(slack, user):
    return drained(lambda: [m for m in slack.messages(user) if "standup_fill" in str(m["blocks"])],
                   f"the prompt of {user}")


def click(sender, slack, user, action_id, message=None):
    message = message or prompt_of(slack, user)[-1]
    before = len([c for c in slack.calls_to("views.open") if c.ok])
    response = sender.action(user, [{"action_id": action_id}], message=message, channel_id=slack.dm_channel_of(user))
    if action_id == "standup_fill":
        wait_until(lambda: len([c for c in slack.calls_to("views.open") if c.ok]) > before, message="the modal")
        return slack.views[user]["modals"][-1]
    return response


def told(slack, response) -> str:
    """What the clicker was told through the interaction's response_url."""
    return wait_until(lambda: slack.responses(response.sent["response_url"]), message="the answer")[0]["text"]


def answer(sender, slack, user, *texts):
    view = click(sender, slack, user, "standup_fill")
    values = {f"q{i}": {"value": state_value("plain_text_input", text)} for i, text in enumerate(texts)}
    return sender.view_submission(user, view, values)


def report(slack):
    parents = [m for m in slack.messages(REPORT) if m.get("thread_ts") in (None, m["ts"])]
    return parents


def drain_at(tandem, now):
    """Send what was queued for a `now` in the future (the worker sends by the real clock)."""
    tandem.services.delivery.drain(now=now)


def test_prompts_answers_and_one_report_edited_in_place(sender, slack, tandem, today):
    assert tick(tandem, today) == 4
    tandem.settle()
    assert prompt_of(slack, NY)[0]["text"] == "Time for standup daily."
    assert prompt_of(slack, SHANGHAI)[0]["text"] == "站会 daily 时间到了。"  # their Slack language
    for user in EVERYONE:
        assert len(prompt_of(slack, user)) == 1
    [when_en] = [e["text"] for b in prompt_of(slack, NY)[0]["blocks"] if b["type"] == "context" for e in b["elements"]]
    [when_zh] = [e["text"] for b in prompt_of(slack, SHANGHAI)[0]["blocks"] if b["type"] == "context"
                 for e in b["elements"]]
    assert when_en.startswith(f"The report goes to <#{REPORT}> at <!date^") and when_en.endswith(" UTC>.")
    assert when_zh.startswith("报告将于 <!date^") and when_zh.endswith(f" UTC> 发到 <#{REPORT}>。")  # no English "."
    assert answer(sender, slack, NY, "Shipped login", "Checkout", "Waiting on API keys").text in ("", "{}")
    tandem.settle()
    [parent] = drained(lambda: report(slack), "the report")
    assert parent["text"].startswith("Standup daily, ") and parent["text"].endswith(": 1/4 answered · 3 waiting")
    assert answer(sender, slack, BERLIN, "Docs", "Tests", "none").status == 200
    assert told(slack, click(sender, slack, SHANGHAI, "standup_skip")) == "今天已跳过 daily。"
    tandem.settle()
    [parent] = report(slack)  # still one report: edited, not posted again
    assert "2/4 answered · 1 skipped · 1 waiting" in parent["text"]
    blocks = str(parent["blocks"])
    assert blocks.index("Waiting on API keys") < blocks.index("Docs")  # blockers first
    assert ":rotating_light:" in blocks and "Nick York" in blocks and "Berta Berlin" in blocks
    assert "Waiting for: Olivia Owner" in blocks and "Skipped: Shan Hai" in blocks
    assert "<@" not in blocks  # nobody is pinged in the channel
    assert len(slack.calls_to("chat.update")) >= 2


def test_a_replayed_answer_changes_nothing(sender, slack, tandem, today):
    tick(tandem, today)
    tandem.settle()
    first = answer(sender, slack, NY, "Shipped login", "Checkout", "none")
    assert_replay_changes_nothing(tandem, slack, sender, first)
    [parent] = report(slack)
    assert "1/4 answered" in parent["text"]


def test_edits_update_the_same_report_and_hints_come_from_last_answers(sender, slack, tandem, today):
    tick(tandem, today)
    tandem.settle()
    answer(sender, slack, NY, "A", "B", "")
    tandem.settle()
    [dm] = prompt_of(slack, NY)  # the prompt, edited: answered, with an Edit button
    assert dm["text"] == "Your answers to standup daily are in the report."
    assert "Edit answers" in str(dm["blocks"]) and "standup_skip" not in str(dm["blocks"])
    view = click(sender, slack, NY, "standup_fill", message=dm)  # Edit: the same modal, prefilled
    assert view["blocks"][1]["element"]["initial_value"] == "A"
    sender.view_submission(NY, view, {"q0": {"value": state_value("plain_text_input", "A, better")}})
    tandem.settle()
    dm_edits = [c for c in slack.calls_to("chat.update") if c.args.get("channel") == slack.dm_channel_of(NY)]
    assert len(dm_edits) == 1  # the second answer leaves the DM as it is
    [parent] = report(slack)
    assert "A, better" in str(parent["blocks"]) and "1/4 answered" in parent["text"]
    with session_scope(tandem.engine) as session:
        assert len(list(session.exec(select(StandupAnswer)))) == 1
    before = len([c for c in slack.calls_to("views.open") if c.ok])
    sender.command("/standup", "edit-answer daily", user_id=NY)  # the command opens the same modal
    wait_until(lambda: len([c for c in slack.calls_to("views.open") if c.ok]) > before, message="the modal")
    assert slack.views[NY]["modals"][-1]["blocks"][1]["element"]["initial_value"] == "A, better"


def test_answers_over_the_limit_and_skip_after_answering_are_refused(sender, slack, tandem, today):
    tick(tandem, today)
    tandem.settle()
    errors = answer(sender, slack, NY, "x" * 2001).json()["errors"]
    assert errors == {"q0": "2001 characters; at most 2000 fit."}
    prompt = prompt_of(slack, NY)[-1]  # as NY saw it, with Skip: answering soon turns it into "answered"
    answer(sender, slack, NY, "ok")
    refusal = told(slack, click(sender, slack, NY, "standup_skip", message=prompt))
    assert refusal == "You have answered daily today already; use Fill in to change your answers."


def test_answering_after_a_nudge_turns_both_dms_into_answered(sender, slack, tandem, today):
    tick(tandem, today)
    later = today + timedelta(minutes=31)
    tick(tandem, later)
    drain_at(tandem, later)
    assert len(prompt_of(slack, BERLIN)) == 2  # the prompt and the reminder
    answer(sender, slack, BERLIN, "late", "but here", "")
    tandem.settle()
    assert [m["text"] for m in prompt_of(slack, BERLIN)] == ["Your answers to standup daily are in the report."] * 2
    assert all("standup_skip" not in str(m["blocks"]) for m in slack.messages(BERLIN))


def test_nudges_only_the_late_and_finalising_names_the_missing(sender, slack, tandem, today):
    tick(tandem, today)
    tandem.settle()
    answer(sender, slack, NY, "done", "more", "")
    click(sender, slack, SHANGHAI, "standup_skip")
    tandem.settle()
    later = today + timedelta(minutes=31)
    tick(tandem, later)
    tick(tandem, later + timedelta(minutes=1))
    drain_at(tandem, later + timedelta(minutes=1))
    assert sorted(user for user, _ in sends(tandem, "nudge")) == [BERLIN, OWNER]
    for user in (BERLIN, OWNER):
        assert any("Reminder" in m["text"] for m in slack.messages(user))
    assert not any("Reminder" in m["text"] or "提醒" in m["text"] for m in slack.messages(NY) + slack.messages(SHANGHAI))
    final = today + timedelta(minutes=120)
    tick(tandem, final)
    tick(tandem, final + timedelta(minutes=1))
    drain_at(tandem, final + timedelta(minutes=1))
    [parent] = report(slack)
    assert "1/4 answered · 1 skipped · 2 missing" in parent["text"]
    assert "Missing: Berta Berlin, Olivia Owner" in str(parent["blocks"]) and "<@" not in str(parent["blocks"])


def test_the_same_tick_twice_and_a_second_replica_send_nothing_twice(sender, slack, tandem, today):
    assert tick(tandem, today) == 4
    assert tick(tandem, today) == 0
    assert tick(tandem, today + timedelta(minutes=1)) == 0
    tandem.settle()
    assert {user: len(prompt_of(slack, user)) for user in EVERYONE} == {user: 1 for user in EVERYONE}


def test_a_fan_out_killed_midway_resumes_without_duplicates(sender, slack, tandem, today, monkeypatch, no_hook):
    monkeypatch.setattr(running, "BATCH", 1)  # commit each claim with its DM
    queued = []

    def die_after_two(batch):
        queued.extend(due.user_id for due in batch)
        if len(queued) == 2:
            raise RuntimeError("killed mid fan-out")

    running.after_queue = die_after_two
    with pytest.raises(RuntimeError):
        tick(tandem, today)
    running.after_queue = None
    assert len(sends(tandem)) == 1  # the batch that died rolled back; the one before it stays
    assert tick(tandem, today) == 3
    tandem.settle()
    assert {user: len(prompt_of(slack, user)) for user in EVERYONE} == {user: 1 for user in EVERYONE}
    with session_scope(tandem.engine) as session:
        keys = list(session.exec(select(OutboxMessage.key).where(OutboxMessage.key.endswith(":prompt"))))
    assert len(keys) == 4


def test_a_sender_dying_midway_after_slack_took_the_posts_still_prompts_each_once(sender, slack, tandem, today,
                                                                                 monkeypatch, caplog):
    restore, calls = crash_before_recording(monkeypatch, after=2)  # two recorded; then it "dies" after each post
    with caplog.at_level(logging.CRITICAL, logger="tandem.delivery"):
        tick(tandem, today)

        def statuses() -> list[str]:
            with session_scope(tandem.engine) as session:
                return sorted(session.exec(select(OutboxMessage.status).where(OutboxMessage.key.endswith(":prompt"))))

        # Slack took all four; two were recorded (a worker may still be committing one when the fourth
        # call comes back, so wait for the table, not for the calls), two are left "sending".
        wait_until(lambda: len(calls) == 4 and statuses() == ["sending", "sending", "sent", "sent"],
                   message="two prompts recorded and two left sending")
        restore()
        tandem.services.delivery.drain(now=datetime.now(UTC) + LEASE + timedelta(seconds=1))  # after a restart
    assert {user: len(prompt_of(slack, user)) for user in EVERYONE} == {user: 1 for user in EVERYONE}
    assert len(slack.calls_to("chat.postMessage")) == 4
    with session_scope(tandem.engine) as session:
        statuses = session.exec(select(OutboxMessage.status).where(OutboxMessage.key.endswith(":prompt"))).all()
    assert statuses == ["sent"] * 4


def test_a_failing_slack_is_retried_by_the_outbox_and_still_one_prompt_each(sender, slack, tandem, today):
    slack.fail_next("chat.postMessage", times=2, error="ratelimited", status=429, retry_after=0)
    tick(tandem, today)
    tandem.settle()
    tandem.services.delivery.drain(now=datetime.now(UTC) + timedelta(minutes=5))
    assert {user: len(prompt_of(slack, user)) for user in EVERYONE} == {user: 1 for user in EVERYONE}


def test_yesterday_is_prefilled_with_the_last_days_today_whole_and_editable(sender, slack, tandem, today):
    from models.standups import StandupRun
    from models.standups.answers import record_answer

    tick(tandem, today - timedelta(days=1))  # yesterday's run
    plan = "Ship the export; " + "review the long migration notes with 张伟 & the ops team " * 8  # ~500 chars
    with session_scope(tandem.engine) as session:
        run_id = session.exec(select(StandupRun.id).order_by(StandupRun.id)).first()
        record_answer(session, team_id=slack.team_id, run_id=run_id, user_id=NY,
                      answers=["old", plan.strip(), "none"], now=today - timedelta(days=1))
        record_answer(session, team_id=slack.team_id, run_id=run_id, user_id=SHANGHAI,
                      answers=["旧", "写周报", "无"], now=today - timedelta(days=1))
    tick(tandem, today)
    tandem.settle()
    view = click(sender, slack, NY, "standup_fill")
    yesterday = view["blocks"][1]
    assert yesterday["element"]["initial_value"] == plan.strip()  # the whole text, not a grey 140-char hint
    assert "placeholder" not in yesterday["element"]
    assert view["blocks"][2]["element"]["placeholder"]["text"].startswith("Ship the export;")  # a hint, cut to 150
    assert len(view["blocks"][2]["element"]["placeholder"]["text"]) <= 150
    zh = click(sender, slack, SHANGHAI, "standup_fill")
    assert zh["blocks"][1]["element"]["initial_value"] == "写周报"
    assert zh["submit"]["text"] != "Send"  # the modal in Chinese
    # the person edits the prefilled text; what they send is what is kept
    sender.view_submission(NY, view, {"q0": {"value": state_value("plain_text_input", "Shipped the export")},
                                      "q1": {"value": state_value("plain_text_input", "Docs")}})
    tandem.settle()
    with session_scope(tandem.engine) as session:
        latest = session.exec(select(StandupAnswer).where(StandupAnswer.user_id == NY)
                              .order_by(StandupAnswer.id.desc())).first()
        assert list(latest.answers)[:2] == ["Shipped the export", "Docs"]
