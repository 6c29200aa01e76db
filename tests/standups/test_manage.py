"""Owners and workspace admins manage a standup; others are refused. Away periods. Stale prompts.
Big standups put answers in the report's thread."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from localslack.payloads import action, state_value
from models.db import session_scope
from models.standups import Standup, StandupRun
from tests.conftest import SETTINGS_ADMIN
from tests.standups.conftest import (
    BERLIN,
    NY,
    OWNER,
    REPORT,
    SHANGHAI,
    TEAM,
    make_standup,
    midday_zone,
    sends,
    tick,
    utc,
)
from tests.standups.test_running import answer, click, prompt_of, report, told
from tests.standups.test_setup import command_modal


def reply(sender, user, text):
    return sender.command("/standup", text, user_id=user).json()


def click_delete(sender, user, question: dict):
    """The Delete button of `/standup delete`'s ephemeral answer (past Slack's confirm dialog)."""
    return sender.action(user, [action("standup_delete")], message={**question, "ts": "1700000000.000100"},
                         container={"type": "message", "is_ephemeral": True, "channel_id": "C0GENERAL"})


def the_standup(tandem):
    with session_scope(tandem.engine) as session:
        return session.exec(select(Standup)).first()


def test_pause_resume_delete_by_the_owner_refused_for_others(sender, slack, tandem, people):
    make_standup(tandem)
    assert reply(sender, NY, "pause daily")["text"] == \
        "Only the owner of daily (<@U0OWNER>) or a workspace admin can change it."
    assert reply(sender, SHANGHAI, "delete daily")["text"] == "只有 daily 的负责人（<@U0OWNER>）或工作区管理员可以修改它。"
    assert the_standup(tandem).paused is False
    assert "is paused" in reply(sender, OWNER, "pause DAILY")["text"]
    assert the_standup(tandem).paused is True
    tick(tandem, utc(2026, 3, 9, 13, 30))
    assert sends(tandem) == []
    assert "running again" in reply(sender, OWNER, "resume daily")["text"]
    assert the_standup(tandem).paused is False
    assert reply(sender, NY, "pause nosuch")["text"] == \
        "There is no standup called nosuch. `/standup list` shows them all."
    assert reply(sender, NY, "pause")["text"] == "Say which standup: `/standup pause NAME`."
    now = datetime.now(UTC)  # resumed now: the next Monday's prompt (09:30 in New York, EST or EDT) is sent
    monday = (now + timedelta(days=7 - now.weekday())).replace(hour=14, minute=30, second=0, microsecond=0)
    tick(tandem, monday)
    assert len(sends(tandem)) == 2  # NY and the owner, both in New York
    question = reply(sender, SETTINGS_ADMIN, "delete daily")  # an admin may, after confirming
    assert "is deleted" in told(slack, click_delete(sender, SETTINGS_ADMIN, question))
    assert the_standup(tandem) is None
    with session_scope(tandem.engine) as session:
        assert list(session.exec(select(StandupRun))) == []  # its history went with it
    assert sends(tandem) == []


def test_edit_by_owner_refused_for_others(sender, slack, tandem, people):
    make_standup(tandem)
    refused = sender.command("/standup", "edit daily", user_id=NY)  # a modal opener: it answers later
    assert "Only the owner of daily" in told(slack, refused)
    view = command_modal(sender, slack, OWNER, "edit daily")
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["prompt_time"]["element"]["initial_value"] == "09:30"
    values = {"name": "daily", "channel": ("conversations_select", REPORT),
              "participants": ("multi_users_select", [NY, BERLIN]), "days": ("checkboxes", ["0", "2"]),
              "prompt_time": "10:15", "zone_mode": ("radio_buttons", "member"), "timezone": "",
              "questions": "What happened?", "blocker": ("checkboxes", []), "nudges": "", "report_after": "60",
              "holidays": ""}
    state = {block: {"value": state_value(*(v if isinstance(v, tuple) else ("plain_text_input", v)))}
             for block, v in values.items()}
    assert sender.view_submission(OWNER, view, state).text in ("", "{}")
    standup = the_standup(tandem)
    assert (standup.participants, standup.days, standup.prompt_time, standup.nudges, standup.report_after) == (
        [NY, BERLIN], [0, 2], "10:15", [], 60)
    assert standup.questions == [{"text": "What happened?", "blocker": False}]


def test_away_people_get_no_prompt_and_are_listed_as_away(sender, slack, tandem, people):
    make_standup(tandem, participants=[NY, OWNER])
    assert reply(sender, NY, "away 2026-03-09 2026-03-10")["text"] == \
        "You are away from 2026-03-09 to 2026-03-10: no prompts, no reminders."
    assert "/standup away clear" in reply(sender, NY, "away someday")["text"]
    tick(tandem, utc(2026, 3, 9, 13, 30))
    assert [user for user, _ in sends(tandem)] == [OWNER]
    reply(sender, OWNER, "away 2026-03-09 2026-03-09")  # away after the prompt: no reminder, listed away
    tick(tandem, utc(2026, 3, 9, 14, 30))
    assert sends(tandem, "nudge") == []
    tick(tandem, utc(2026, 3, 9, 15, 30))  # report time
    tandem.settle()
    [parent] = report(slack)
    assert "0/2 answered · 2 away" in parent["text"] and "missing" not in parent["text"]
    assert "Away: Nick York, Olivia Owner" in str(parent["blocks"]) and "Missing" not in str(parent["blocks"])
    assert "You are back" in reply(sender, NY, "away clear")["text"]
    reply(sender, OWNER, "away clear")
    tick(tandem, utc(2026, 3, 10, 13, 30))
    assert sorted(user for user, _ in sends(tandem)) == [NY, OWNER, OWNER]


def test_going_away_or_back_while_the_day_is_open_edits_the_posted_report(sender, slack, tandem, today):
    tick(tandem, today)
    tandem.settle()
    answer(sender, slack, NY, "Shipped", "Tests", "")
    tandem.settle()
    [parent] = report(slack)
    assert "1/4 answered · 3 waiting" in parent["text"]
    local_today = today.astimezone(ZoneInfo(midday_zone(today))).date().isoformat()
    reply(sender, BERLIN, f"away {local_today}")
    tandem.settle()
    [parent] = report(slack)
    assert "1/4 answered · 1 away · 2 waiting" in parent["text"] and "Away: Berta Berlin" in str(parent["blocks"])
    reply(sender, BERLIN, "away clear")
    tandem.settle()
    [parent] = report(slack)
    assert "1/4 answered · 3 waiting" in parent["text"]
    posts = [c for c in slack.calls_to("chat.postMessage") if c.ok and c.args.get("channel") == REPORT]
    assert len(posts) == 1  # edited in place, never posted again


def test_a_fill_in_button_from_a_past_day_is_refused(sender, slack, tandem, people):
    make_standup(tandem, participants=[NY], days=list("0123456"))
    yesterday = datetime.now(UTC) - timedelta(days=2)
    tick(tandem, yesterday.replace(hour=15, minute=0, second=0, microsecond=0))  # inside 09:30–11:30 New York time
    tandem.settle()
    [prompt] = prompt_of(slack, NY)
    refusal = told(slack, click(sender, slack, NY, "standup_skip", message=prompt))
    assert refusal.startswith("This prompt of daily was for ") and "that day is over" in refusal
    before = len(slack.calls_to("views.open"))
    response = sender.action(NY, [{"action_id": "standup_fill"}], message=prompt, channel_id=slack.dm_channel_of(NY))
    assert "that day is over" in told(slack, response)
    assert len(slack.calls_to("views.open")) == before  # no modal


def test_more_than_twenty_people_answer_in_the_thread(sender, slack, tandem, people):
    crowd = [f"U0P{i:02d}" for i in range(21)]
    for user in crowd:
        slack.add_user(user, real_name=f"Person {user[-2:]}", tz="Asia/Tokyo")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    zone = midday_zone(now)
    from zoneinfo import ZoneInfo

    prompt = (now - timedelta(minutes=5)).astimezone(ZoneInfo(zone)).strftime("%H:%M")
    make_standup(tandem, participants=[NY, *crowd], zone_mode="team", timezone=zone, prompt_time=prompt,
                 days=list("0123456"))
    assert tick(tandem, now) == 22
    tandem.settle()
    answer(sender, slack, NY, "Thread me", "Today", "")
    tandem.settle()
    [parent] = report(slack)
    assert "1/22 answered" in parent["text"] and "Thread me" not in str(parent["blocks"])
    [first] = slack.replies(REPORT, parent["ts"])
    assert "Thread me" in str(first["blocks"])
    answer(sender, slack, NY, "Thread me, edited", "Today", "")
    tandem.settle()
    [edited] = slack.replies(REPORT, parent["ts"])  # the reply is edited in place, not posted again
    assert edited["ts"] == first["ts"] and "Thread me, edited" in str(edited["blocks"])
    assert TEAM and len(report(slack)) == 1


def test_resuming_after_todays_prompt_time_sends_no_late_prompt(sender, slack, tandem, today):
    slack.add_user(SETTINGS_ADMIN, name="tandem-admin", locale="zh-CN")
    assert "is paused" in reply(sender, OWNER, "pause daily")["text"]
    tick(tandem, today)  # the prompt time (5 minutes ago) passes while paused
    assert sends(tandem) == []
    answer_ = reply(sender, OWNER, "resume daily")
    assert answer_["text"] == f"Standup daily is running again. Today’s prompt time ({the_standup(tandem).prompt_time}) " \
        "passed while it was paused, so today’s prompt is not sent."
    assert "Next prompt:" in str(answer_["blocks"])
    tick(tandem, datetime.now(UTC))
    assert sends(tandem) == []  # not sent late, and no run: no report naming everyone as missing
    with session_scope(tandem.engine) as session:
        assert list(session.exec(select(StandupRun))) == []
    tick(tandem, today + timedelta(days=1))
    assert len(sends(tandem)) == 4  # tomorrow's prompts go out as usual
    reply(sender, SETTINGS_ADMIN, "pause daily")
    zh = reply(sender, SETTINGS_ADMIN, "resume daily")["text"]
    assert zh.startswith("站会 daily 已恢复。") and "暂停期间已过，今天不再发送提醒。" in zh


def test_delete_asks_first_and_says_what_is_lost(sender, slack, tandem, today):
    tick(tandem, today)
    tandem.settle()
    answer(sender, slack, NY, "A", "B", "")
    question = reply(sender, OWNER, "delete daily")
    assert the_standup(tandem) is not None  # nothing deleted by the command itself
    [button] = question["blocks"][-1]["elements"]
    assert (button["action_id"], button["style"]) == ("standup_delete", "danger")
    dialog = button["confirm"]  # Slack's own "are you sure?" before the click reaches Tandem
    assert dialog["title"]["text"] == "Delete standup?" and dialog["confirm"]["text"] == "Delete"
    assert dialog["deny"]["text"] == "Keep it"
    assert "removes its whole history (days reported: 1, answers: 1)" in dialog["text"]["text"]
    assert "cannot be undone" in question["text"]
    others = reply(sender, NY, "delete daily")["text"]
    assert others.startswith("Only the owner of daily")  # refused before any button is shown
    response = click_delete(sender, NY, question)  # a button that reached someone else: refused on click
    assert told(slack, response).startswith("Only the owner of daily") and the_standup(tandem) is not None
    done = click_delete(sender, OWNER, question)
    assert told(slack, done) == "Standup daily is deleted, with its history."
    assert slack.responses(done.sent["response_url"])[0]["replace_original"] is True  # no second click
    assert the_standup(tandem) is None
    again = click_delete(sender, OWNER, question)
    assert told(slack, again) == "There is no such standup any more: it was deleted already."


def test_delete_asks_in_chinese(sender, slack, tandem, people):
    make_standup(tandem)
    slack.add_user(SETTINGS_ADMIN, name="tandem-admin", locale="zh-CN")
    question = reply(sender, SETTINGS_ADMIN, "delete daily")
    dialog = question["blocks"][-1]["elements"][0]["confirm"]
    assert (dialog["title"]["text"], dialog["confirm"]["text"], dialog["deny"]["text"]) == ("删除站会？", "删除", "保留")
    assert "已报告天数：0，回答：0" in dialog["text"]["text"] and "无法撤销" in question["text"]
    assert told(slack, click_delete(sender, SETTINGS_ADMIN, question)).startswith("站会 daily")
    assert the_standup(tandem) is None

