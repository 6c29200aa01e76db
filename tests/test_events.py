"""Events: the Home tab, in the user's language, published once per event however often Slack retries."""

from sqlmodel import select

from models.db import session_scope
from models.events import HandledEvent
from tests.outbox import drained


def test_home_tab_is_published_in_the_users_language(sender, slack):
    slack.add_user("UZH", locale="zh-CN")
    response = sender.event({"type": "app_home_opened", "user": "UZH", "tab": "home"}, event_id="Ev0HOME1")
    assert response.status == 200
    home = drained(lambda: slack.views.get("UZH", {}).get("home"), "the Home tab")
    assert home["type"] == "home"
    assert home["blocks"][0]["text"]["text"] == "欢迎使用 Tandem"


def test_a_retried_event_is_acted_on_once(sender, slack, tandem):
    slack.add_user("UEN", locale="en-US")
    event = {"type": "app_home_opened", "user": "UEN", "tab": "home"}
    for retry in (None, 1, 2):
        assert sender.event(event, event_id="Ev0RETRY", retry_num=retry).status == 200
    assert sender.event(event, event_id="Ev0OTHER").status == 200  # a new event is a new event
    drained(lambda: len(slack.calls_to("views.publish")) >= 2, "two publishes")
    assert [c.args["user_id"] for c in slack.calls_to("views.publish")] == ["UEN", "UEN"]
    with session_scope(tandem.engine) as session:
        assert sorted(session.exec(select(HandledEvent.event_id)).all()) == ["Ev0OTHER", "Ev0RETRY"]


def test_message_events_are_acknowledged(sender, slack):
    message = {"type": "message", "user": "UEN", "channel": "C0GENERAL", "text": "hi", "ts": "1763780000.000200"}
    assert sender.event(message, event_id="Ev0MSG").status == 200


def test_the_forget_job_is_scheduled_from_the_start(tandem):
    from clock import utcnow

    keys = [job.key for job in tandem.tandem.scheduler.load_jobs(utcnow())]
    assert "events:forget-old" in keys


def test_old_event_ids_are_forgotten(engine):
    from datetime import timedelta

    from clock import utcnow
    from models import events
    from models.db import session_scope

    now = utcnow()
    with session_scope(engine) as session:
        assert events.first_delivery(session, event_id="EvOLD", team_id="T", now=now - timedelta(days=4))
        assert events.first_delivery(session, event_id="EvNEW", team_id="T", now=now)
        assert not events.first_delivery(session, event_id="EvNEW", team_id="T", now=now)
    with session_scope(engine) as session:
        assert events.forget_old(session, now=now) == 1
        assert events.first_delivery(session, event_id="EvOLD", team_id="T", now=now)


def test_only_handled_messages_are_stored(sender, slack, tandem):
    """Every message in every channel reaches Tandem; only what it handles is remembered."""
    chatter = {"type": "message", "user": "UEN", "channel": "C0GENERAL", "text": "hi", "ts": "1763780000.000200"}
    assert sender.event(chatter, event_id="Ev0CHAT").status == 200
    reply = dict(chatter, ts="1763780001.000300", thread_ts="1763780000.000200")
    assert sender.event(reply, event_id="Ev0REPLY").status == 200  # a thread Tandem did not start
    tandem.settle()
    with session_scope(tandem.engine) as session:
        assert session.exec(select(HandledEvent.event_id)).all() == []


def dm(user: str, text: str, ts: str) -> dict:
    return {"type": "message", "user": user, "channel": f"D{user}", "channel_type": "im", "text": text, "ts": ts}


def test_a_dm_gets_a_short_help_at_most_once_an_hour(sender, slack, tandem):
    slack.add_user("UEN", locale="en-US")
    slack.add_user("UZH", locale="zh-CN")
    assert sender.event(dm("UEN", "hello?", "1763780000.000100"), event_id="Ev0DM1").status == 200
    assert sender.event(dm("UEN", "hello?", "1763780000.000100"), event_id="Ev0DM1", retry_num=1).status == 200
    assert sender.event(dm("UZH", "你好", "1763780000.000200"), event_id="Ev0DM2").status == 200
    answers = drained(lambda: len(slack.calls_to("chat.postMessage")) >= 2 and slack.calls_to("chat.postMessage"),
                      "two answers")
    by_user = {call.args["channel"]: call.args for call in answers}
    assert by_user["UEN"]["text"].startswith("Hi! Tandem does not read messages here")
    assert "`/tandem help` everything else" in str(by_user["UEN"]["blocks"])
    assert by_user["UZH"]["text"].startswith("你好！Tandem 不读这里的消息")
    assert sender.event(dm("UEN", "anyone?", "1763780005.000100"), event_id="Ev0DM3").status == 200
    # Tandem's own DM comes back as a message.im event with its bot_id: never answered
    own = dict(dm("UEN", "Hi!", "1763780006.000100"), bot_id="B0TANDEM")
    assert sender.event(own, event_id="Ev0OWN").status == 200
    tandem.settle()
    assert len(slack.calls_to("chat.postMessage")) == 2  # the second DM within the hour: no second help
    with session_scope(tandem.engine) as session:
        assert sorted(session.exec(select(HandledEvent.event_id)).all()) == ["Ev0DM1", "Ev0DM2"]


def test_a_dm_an_hour_later_is_answered_again(sender, slack, tandem):
    from datetime import timedelta

    from models.outbox import OutboxMessage

    slack.add_user("UEN", locale="en-US")
    sender.event(dm("UEN", "hello?", "1763780000.000100"), event_id="Ev0DM1")
    drained(lambda: slack.calls_to("chat.postMessage"), "the first answer")
    with session_scope(tandem.engine) as session:  # the first answer was queued 61 minutes ago
        for row in session.exec(select(OutboxMessage)).all():
            row.created_at -= timedelta(minutes=61)
            row.key = row.key.rsplit(":", 1)[0] + ":" + row.created_at.strftime("%Y%m%d%H")
    sender.event(dm("UEN", "still there?", "1763783700.000100"), event_id="Ev0DM2")
    drained(lambda: len(slack.calls_to("chat.postMessage")) == 2, "the second answer")
