"""What a posted digest must not do: notify the people it names, or post a week twice by accident."""

from datetime import UTC, datetime, timedelta

from clock import utcnow
from handlers.digests import sending
from models.db import session_scope
from models.digests import SCHEDULED
from models.digests.period import week_of
from models.digests.week import week_label
from models.standups.tables import Standup, StandupAnswer, StandupRun
from tests.conftest import at_once
from tests.digests.conftest import make_digest, reply, seeded_metrics, weeks
from tests.digests.test_digest import all_text, posted, sends
from tests.outbox import drained
from tests.slack import ADMIN, ALICE


def test_people_with_blockers_are_named_without_a_mention(sender, slack, tandem, lead):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    make_digest(tandem.engine, slack.team_id)
    now = utcnow()
    with session_scope(tandem.engine) as session:
        standup = Standup(team_id=slack.team_id, name="eng", name_key="eng", channel=lead, owner=ADMIN,
                          prompt_time="09:30", names={ALICE: "Alice <Chen> & co"}, created_at=now, updated_at=now)
        session.add(standup)
        session.flush()
        run = StandupRun(standup_id=standup.id, team_id=slack.team_id, local_date=last, participants=[ALICE],
                         report_at=now, created_at=now)
        session.add(run)
        session.flush()
        session.add(StandupAnswer(run_id=run.id, team_id=slack.team_id, user_id=ALICE, status="answered",
                                  on_time=True, has_blocker=True, answered_at=now, updated_at=now))
    reply(sender, slack, "/digest", "send weekly now")
    [message] = posted(slack)
    assert f"• Alice &lt;Chen&gt; &amp; co · eng · {last}" in all_text(message)
    assert "<@" not in str(message)  # Slack notifies whoever a channel post mentions


def test_two_resends_of_a_week_at_once_post_it_once(sender, slack, tandem, lead):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    make_digest(tandem.engine, slack.team_id)
    at_once(*[lambda: sender.command("/digest", f"resend weekly {week_label(previous)}", user_id=ADMIN)] * 2)
    answers = drained(lambda: len(e := [x["text"] for x in slack.ephemerals if x["user"] == ADMIN]) == 2 and e,
                      "both answers")
    assert len(posted(slack)) == 1 and sends(tandem) == [(previous, "resend", ADMIN)]
    assert sorted(answer.split(" ")[5] for answer in answers) == ["already", "backfill)"], answers


def test_a_week_the_schedule_posted_is_not_resent_without_again_in_chinese(sender, slack, tandem, lead):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    digest = make_digest(tandem.engine, slack.team_id)
    due = datetime.combine(last + timedelta(weeks=1), datetime.min.time(), tzinfo=UTC).replace(hour=9)
    sending.send(tandem.services, digest_id=digest.id, period=week_of(last), kind=SCHEDULED, actor=None, now=due)
    [message] = posted(slack)
    slack.add_user(ADMIN, name="admin", locale="zh-CN", is_admin=True)
    said = reply(sender, slack, "/digest", f"resend weekly {week_label(last)}")
    assert said["text"].startswith(f"摘要 weekly 的 {week_label(last)} 已于 <!date^")
    text = said["blocks"][0]["text"]["text"]
    assert f"/archives/{lead}/p{message['ts'].replace('.', '')}|打开查看>" in text
    assert f"如仍要再发一次：`/digest resend weekly {week_label(last)} --again`" in text
    tandem.settle()
    assert sends(tandem) == [(last, SCHEDULED, None)] and len(posted(slack)) == 1
