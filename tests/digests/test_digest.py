"""The digest end to end: preview (only me), send now (channel + chart in its thread), resend (a
backfill, recorded), the weekly job exactly once across a restart, and the /digest new modal."""

import contextlib
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from clock import utcnow
from handlers.digests import sending
from localslack.payloads import state_value
from models.db import session_scope
from models.digests import Digest, DigestSend
from models.digests.week import week_label
from scheduler import Scheduler
from tests.conftest import wait_until
from tests.digests.conftest import LEAD, add_request, make_digest, reply, seeded_metrics, weeks
from tests.digests.test_metrics import refusal
from tests.outbox import drained
from tests.slack import ADMIN, ALICE, GENERAL


def sends(tandem) -> list[tuple]:
    with session_scope(tandem.engine) as session:
        return [(s.period_start, s.kind, s.sent_by) for s in session.exec(select(DigestSend).order_by(DigestSend.id))]


def posted(slack, count: int = 1) -> list[dict]:
    def top_level():
        return [m for m in slack.messages(LEAD) if m.get("thread_ts") in (None, m["ts"])]

    return drained(lambda: len(m := top_level()) >= count and m, "the digest in the channel")


def all_text(message: dict) -> str:
    return "\n".join(str(b.get("text", {}).get("text", "")) if b["type"] != "context" else
                     b["elements"][0]["text"] for b in message["blocks"])


def test_preview_is_only_for_me_and_shows_the_hand_computed_numbers(sender, slack, tandem, lead):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    make_digest(tandem.engine, slack.team_id)
    shown = reply(sender, slack, "/digest", "preview weekly")
    assert shown["text"] == f"weekly · week {week_label(last)} ({last} – {last + timedelta(6)}, UTC)"
    text = all_text(shown)
    assert "*DAU* Daily active users: *130* users  ▲ +20 (+18.2%)  :warning: off target (150)  " \
           ":rotating_light: moved more than ±10%" in text
    assert "*CAC* Customer acquisition cost: *45*  ▼ −5 (−10%)  :warning: off target (40)" in text  # no currency set
    assert "moved more than ±15%" not in text
    assert "*NPS* Net promoter score: *35*  no change\n" in text
    assert f"ISO week {week_label(last)}: {last} – {last + timedelta(6)}, times in UTC" in text
    older = reply(sender, slack, "/digest", f"preview weekly {week_label(previous)}")
    assert "*DAU* Daily active users: *110* users" in all_text(older) and "▲" not in all_text(older).split("DAU")[1]
    tandem.settle()
    assert slack.messages(LEAD) == [] and sends(tandem) == []
    assert reply(sender, slack, "/digest", "preview nope")["text"] == refusal("digests.unknown_digest", name="nope")
    assert reply(sender, slack, "/digest", "preview weekly W46")["text"] == refusal("digests.bad_period", given="W46")


def chart_of(slack, message: dict):
    """The uploaded file the digest message's image block shows (it must be the message's last block)."""
    image = message["blocks"][-1]
    assert image["type"] == "image" and set(image["slack_file"]) == {"id"}, message["blocks"][-1]
    [chart] = [f for f in slack.files if f.id == image["slack_file"]["id"]]
    return chart


def test_send_now_posts_the_digest_with_its_chart_inside(sender, slack, tandem, lead):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    make_digest(tandem.engine, slack.team_id)
    tuesday = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC).replace(hour=10)
    add_request(tandem.engine, slack.team_id, 1, created=tuesday, triaged=tuesday + timedelta(hours=2),
                done=tuesday + timedelta(hours=30), status="done",
                events=(("accept", tuesday + timedelta(hours=2)), ("done", tuesday + timedelta(hours=30))))
    said = reply(sender, slack, "/digest", "send weekly now")["text"]
    assert said == f"Digest weekly for {week_label(last)} is on its way to <#{LEAD}>."
    [message] = posted(slack)
    assert "▲ +20 (+18.2%)" in all_text(message) and "backfill" not in message["text"]
    assert "• New feature: 1 opened, 1 accepted, 1 done, 0 declined\nMedian time to triage: 2.0 h · " \
           "median time to done: 30.0 h" in all_text(message) and "*Shipped*\n• REQ-1 Request 1" in all_text(message)
    chart = chart_of(slack, message)
    assert chart.completed and chart.content.startswith(b"\x89PNG") and message["blocks"][-1]["title"]["text"] == \
        f"Key metrics to {week_label(last)}"
    assert chart.channel_id is None and len(slack.messages(LEAD)) == 1  # not shared: no second post, no thread
    assert [f.id for f in slack.files] == [chart.id]  # one upload
    # Slack was still processing the file at first: the post waited until files.info showed it ready.
    assert [bool(c.response["file"]["mimetype"]) for c in slack.calls_to("files.info")][:2] == [False, True]
    assert sends(tandem) == [(last, "now", ADMIN)]
    assert reply(sender, slack, "/digest", "send weekly later")["text"] == refusal("digests.send_usage")
    assert reply(sender, slack, "/digest", "send weekly now", user=ALICE)["text"] == \
        refusal("digests.not_owner", name="weekly")


def test_resend_posts_a_past_week_marked_as_a_backfill_once_unless_asked_again(sender, slack, tandem, lead):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    make_digest(tandem.engine, slack.team_id)
    reply(sender, slack, "/digest", f"resend weekly {week_label(previous)}")
    [first] = posted(slack)
    assert first["text"].endswith("· backfill") and week_label(previous) in first["text"]
    assert "*DAU* Daily active users: *110* users" in all_text(first)
    said = reply(sender, slack, "/digest", f"resend weekly {week_label(previous)}")  # run twice: no second copy
    assert said["text"].startswith(f"Digest weekly for {week_label(previous)} was already posted <!date^")
    permalink = f"/archives/{LEAD}/p{first['ts'].replace('.', '')}"
    assert permalink in said["blocks"][0]["text"]["text"]
    assert f"`/digest resend weekly {week_label(previous)} --again`" in said["blocks"][0]["text"]["text"]
    reply(sender, slack, "/digest", f"resend weekly {week_label(previous)} --again")
    first, second = posted(slack, 2)
    assert "backfill" in all_text(second)
    assert sends(tandem) == [(previous, "resend", ADMIN)] * 2
    this_week = week_label(last + timedelta(weeks=1))
    assert reply(sender, slack, "/digest", f"resend weekly {this_week}")["text"] == \
        refusal("digests.period_not_over", period=this_week)


def test_the_weekly_job_sends_once_even_across_a_restart(slack, tandem, lead):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    make_digest(tandem.engine, slack.team_id)
    due = datetime.combine(last + timedelta(weeks=1), datetime.min.time(), tzinfo=UTC).replace(hour=9)
    for minutes in (10, 20):  # a start after the due time, then a restart, both within the grace window
        scheduler = Scheduler(tandem.engine, tandem.settings.database_url, grace=timedelta(hours=1),
                              clock=lambda m=minutes: due + timedelta(minutes=m))
        for source in sending.job_sources(tandem.services):
            scheduler.add_source(source)
        assert scheduler.lock.try_acquire()
        try:
            scheduler.rebuild()
            scheduler.catch_up()
        finally:
            scheduler.lock.release()
    with session_scope(tandem.engine) as session:
        digest = session.exec(select(Digest)).one()
    job = sending.digest_job(tandem.services, digest)  # and the rule itself, run twice for the same week
    job.run(due, due + timedelta(minutes=30))
    tandem.settle()
    [message] = posted(slack)
    assert week_label(last) in message["text"]
    assert sends(tandem) == [(last, "scheduled", None)]
    assert [f.id for f in slack.files if f.completed] == [chart_of(slack, message).id]  # one chart, inside


def test_a_run_resumed_after_a_crash_posts_the_digest_with_its_chart_once(slack, tandem, lead, monkeypatch):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    digest = make_digest(tandem.engine, slack.team_id)
    due = datetime.combine(last + timedelta(weeks=1), datetime.min.time(), tzinfo=UTC).replace(hour=9)
    job = sending.digest_job(tandem.services, digest)
    with monkeypatch.context() as crash:
        # killed after the upload, before the messages were queued
        crash.setattr(sending, "queue_messages", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
        with contextlib.suppress(RuntimeError):
            job.run(due, due)
    job.run(due, due + timedelta(minutes=1))  # within the lease: that run may still be going; nothing
    tandem.settle()
    assert slack.messages(LEAD) == []
    job.run(due, due + timedelta(minutes=6))  # the scheduler resumes the unfinished run after its lease
    [message] = posted(slack)
    assert [f.id for f in slack.files] == [chart_of(slack, message).id]  # the first run's upload, reused
    assert sends(tandem) == [(last, "scheduled", None)]


def test_new_digest_modal_for_admins_with_inline_errors(sender, slack, tandem, lead):
    assert reply(sender, slack, "/digest", "new", user=ALICE)["text"] == refusal("not_admin")
    assert reply(sender, slack, "/digest", "new")["text"] == refusal("digests.no_metrics")
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    sender.command("/digest", "new leadership", user_id=ADMIN, channel_id=GENERAL)
    view = wait_until(lambda: ((slack.views.get(ADMIN) or {}).get("modals") or [None])[-1], message="the modal")

    def submit(**changes):
        values = {"name": "leadership", "channel": LEAD, "weekday": "0", "time": "09:30", "timezone": "Asia/Shanghai",
                  "metrics": ["DAU", "NPS"], "thresholds": "DAU=10%, NPS target 40", "template": "default",
                  **changes}
        kinds = {"channel": "conversations_select", "weekday": "static_select", "metrics": "multi_static_select"}
        state = {k: {k: state_value(kinds.get(k, "plain_text_input"), v)} for k, v in values.items()}
        response = sender.view_submission(ADMIN, view, state)
        return (response.json() or {}).get("errors")

    slack.add_channel("C0NOBOT", "no-bot", members=[ADMIN], bot_is_member=False)
    assert submit(channel="C0NOBOT") == {"channel": refusal("digests.bot_not_in_channel", channel="C0NOBOT")}
    assert submit(timezone="Mars/Olympus") == {"timezone": refusal("digests.bad_zone", given="Mars/Olympus")}
    assert submit(time="25:00") == {"time": refusal("digests.bad_time", given="25:00")}
    assert submit(thresholds="CAC=5") == {"thresholds": refusal("digests.bad_thresholds", given="CAC=5")}
    assert submit(thresholds="DAU=10, NPS goal 3") == {"thresholds": refusal("digests.bad_thresholds",
                                                                             given="NPS goal 3")}
    assert "NAME=10 (alert past ±10 %) or NAME target 150" in refusal("digests.bad_thresholds", given="x")
    assert submit(template="mine") == {"template": refusal("digests.no_template", name="mine")}
    assert submit() is None
    with session_scope(tandem.engine) as session:
        saved = session.exec(select(Digest)).one()
    assert (saved.name, saved.channel, saved.weekday, saved.hour, saved.minute, saved.timezone, saved.metrics,
            saved.thresholds, saved.targets, saved.owner) == ("leadership", LEAD, 0, 9, 30, "Asia/Shanghai",
                                                              ["DAU", "NPS"], {"DAU": 10.0}, {"NPS": 40.0}, ADMIN)
    assert submit() is None  # the same submission again is a replay: the first answer, nothing saved twice
    slack.close_modals(ADMIN)
    sender.command("/digest", "new leadership", user_id=ADMIN, channel_id=GENERAL)
    view = wait_until(lambda: ((slack.views.get(ADMIN) or {}).get("modals") or [None])[-1], message="a new modal")
    assert submit() == {"name": refusal("digests.digest_exists", name="leadership")}
    dm = drained(lambda: slack.messages(slack.dm_channel_of(ADMIN)), "the confirmation")[0]
    assert dm["text"].startswith("Digest leadership saved: every Monday at 09:30 (Asia/Shanghai)")
    listed = reply(sender, slack, "/digest", "list")
    assert "*leadership*" in listed["blocks"][0]["text"]["text"]
    assert utcnow()  # the clock is real here; the job is built from the saved row
