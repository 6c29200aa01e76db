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
