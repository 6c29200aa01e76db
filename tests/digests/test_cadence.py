"""Monthly and quarterly digests end to end: numbers by hand compared with the month before, resend
and preview by month or quarter, one post per period (a week and a month that start on the same
day are two periods), the first-business-day schedule, /digest edit to monthly, and Chinese."""

from datetime import date, datetime, timedelta

from sqlmodel import select

from clock import utcnow
from handlers.digests import sending
from localslack.payloads import state_value
from models.db import session_scope
from models.digests import Digest, DigestSend
from models.digests import period as periods
from tests.conftest import wait_until
from tests.digests.conftest import LEAD, define, make_digest, record, reply
from tests.digests.test_digest import all_text, posted
from tests.digests.test_metrics import refusal
from tests.outbox import drained
from tests.slack import ADMIN, GENERAL

MAY, JUNE = date(2026, 5, 1), date(2026, 6, 1)  # 1 June 2026 is a Monday: 2026-W23 starts that day too


def seed(engine, team_id: str) -> None:
    """DAU (average): May 100, 200 → 150; June 150, 250, 200 → 200: ▲ +50 (+33.3 %), under its target 300.
    CAC (sum, lower is better): May 20 + 30 = 50; June 45 → ▼ −5 (−10 %). Q2 DAU: 900 / 5 = 180; Q1 none."""
    define(engine, team_id, ["DAU", "Daily active users", "users", "300", "average"])
    define(engine, team_id, ["CAC", "Customer acquisition cost", "USD", "40", "lower-is-better", "sum"])
    record(engine, team_id, "DAU", {MAY + timedelta(3): 100, MAY + timedelta(30): 200, JUNE: 150,
                                    JUNE + timedelta(14): 250, JUNE + timedelta(29): 200})
    record(engine, team_id, "CAC", {MAY: 20, MAY + timedelta(17): 30, JUNE + timedelta(7): 45})


def send_rows(tandem) -> list[tuple]:
    with session_scope(tandem.engine) as session:
        return [(s.period, s.period_start, s.kind) for s in session.exec(select(DigestSend).order_by(DigestSend.id))]


def test_a_month_is_compared_with_the_month_before_and_a_quarter_with_the_quarter_before(sender, slack, tandem,
                                                                                       lead):
    seed(tandem.engine, slack.team_id)
    make_digest(tandem.engine, slack.team_id, name="monthly", cadence="monthly")
    shown = reply(sender, slack, "/digest", "preview monthly 2026-06")
    assert shown["text"] == "monthly · month 2026-06 (2026-06-01 – 2026-06-30, UTC)"
    text = all_text(shown)
    assert "*DAU* Daily active users: *200* users  ▲ +50 (+33.3%)  :warning: off target (300)" in text
    assert "*CAC* Customer acquisition cost: *45* USD  ▼ −5 (−10%)  :warning: off target (40)" in text
    assert "2026-06-01 – 2026-06-30, times in UTC; changes are against 2026-05" in text
    quarter = all_text(reply(sender, slack, "/digest", "preview monthly 2026-Q2"))
    assert "*DAU* Daily active users: *180* users  :warning:" in quarter and "against 2026-Q1" in quarter
    week = reply(sender, slack, "/digest", "preview monthly 2026-W23")  # any period, for any digest
    assert week["text"] == "monthly · week 2026-W23 (2026-06-01 – 2026-06-07, UTC)"
    assert "*DAU* Daily active users: *150* users  ▼ −50 (−25%)" in all_text(week)  # vs W22: 200 on 31 May
    tandem.settle()
    assert slack.messages(LEAD) == []


def test_resend_takes_a_month_or_a_quarter_and_posts_each_period_once(sender, slack, tandem, lead):
    seed(tandem.engine, slack.team_id)
    make_digest(tandem.engine, slack.team_id, name="monthly", cadence="monthly")
    said = reply(sender, slack, "/digest", "resend monthly 2026-06")["text"]
    assert said == f"Digest monthly for 2026-06 (a backfill) is on its way to <#{LEAD}>."
    [june] = posted(slack)
    assert june["text"].startswith("monthly · month 2026-06 (2026-06-01 – 2026-06-30, UTC)")
    # The week that starts the same day is another period: its own post, its own key.
    reply(sender, slack, "/digest", "resend monthly 2026-W23")
    reply(sender, slack, "/digest", "resend monthly 2026-Q2")
    assert [m["text"].split(" (")[0] for m in posted(slack, 3)] == \
        ["monthly · month 2026-06", "monthly · week 2026-W23", "monthly · quarter 2026-Q2"]
    again = reply(sender, slack, "/digest", "resend monthly 2026-06")["text"]
    assert again.startswith("Digest monthly for 2026-06 was already posted")
    assert send_rows(tandem) == [("2026-06", JUNE, "resend"), ("2026-W23", JUNE, "resend"),
                                 ("2026-Q2", date(2026, 4, 1), "resend")]
    with session_scope(tandem.engine) as session:
        assert len({s.message_key for s in session.exec(select(DigestSend))}) == 3
    for bad in ("2026-13", "2026-Q5", "June"):
        assert reply(sender, slack, "/digest", f"resend monthly {bad}")["text"] == \
            refusal("digests.bad_period", given=bad)
    this_quarter = periods.containing("quarter", utcnow().date()).label
    assert reply(sender, slack, "/digest", f"resend monthly {this_quarter}")["text"] == \
        refusal("digests.period_not_over", period=this_quarter)
    tandem.settle()
    assert len(posted(slack, 3)) == 3


def test_the_monthly_job_posts_the_month_once_on_its_first_business_day(slack, tandem, lead):
    seed(tandem.engine, slack.team_id)
    digest = make_digest(tandem.engine, slack.team_id, name="monthly", cadence="monthly")
    job = sending.digest_job(tandem.services, digest)
    first = datetime(2026, 7, 1, 9, 0, tzinfo=periods.UTC)  # a Wednesday
    job.run(first, first)
    job.run(first, first + timedelta(minutes=5))  # a second replica, or the same run resumed
    job.run(first + timedelta(days=1), first + timedelta(days=1))  # the trigger's next wake-up: not a send day
    tandem.settle()
    [message] = posted(slack)
    assert message["text"].startswith("monthly · month 2026-06")
    assert send_rows(tandem) == [("2026-06", JUNE, "scheduled")]


def test_edit_turns_a_weekly_digest_monthly_and_says_when_it_goes_out_in_chinese(sender, slack, tandem, lead):
    seed(tandem.engine, slack.team_id)
    make_digest(tandem.engine, slack.team_id, name="ops")
    slack.add_user(ADMIN, name="admin", locale="zh-CN", is_admin=True)
    sender.command("/digest", "edit ops", user_id=ADMIN, channel_id=GENERAL)
    view = wait_until(lambda: ((slack.views.get(ADMIN) or {}).get("modals") or [None])[-1], message="the modal")
    cadence = next(b for b in view["blocks"] if b["block_id"] == "cadence")
    assert [o["text"]["text"] for o in cadence["element"]["options"]] == ["每周", "每月", "每季度"]
    assert cadence["element"]["initial_option"]["value"] == "weekly"
    values = {"name": "ops", "channel": LEAD, "cadence": "monthly", "weekday": "0", "time": "09:30",
              "timezone": "Asia/Shanghai", "metrics": ["DAU", "CAC"], "thresholds": "", "template": "default"}
    kinds = {"channel": "conversations_select", "weekday": "static_select", "cadence": "static_select",
             "metrics": "multi_static_select"}
    state = {k: {k: state_value(kinds.get(k, "plain_text_input"), v)} for k, v in values.items()}
    assert (sender.view_submission(ADMIN, view, state).json() or {}).get("errors") is None
    with session_scope(tandem.engine) as session:
        assert session.exec(select(Digest.cadence)).one() == "monthly"
    dm = drained(lambda: slack.messages(slack.dm_channel_of(ADMIN)), "the confirmation")[0]
    assert dm["text"] == f"摘要 ops 已保存：每月结束后的第一个工作日 09:30（Asia/Shanghai）发布到 <#{LEAD}>，模板 default。"
    shown = reply(sender, slack, "/digest", "preview ops 2026-06")
    assert shown["text"] == "ops · 2026-06 月报 (2026-06-01 – 2026-06-30, Asia/Shanghai)"
    assert "变化与 2026-05 相比" in all_text(shown)
    assert reply(sender, slack, "/digest", "preview ops 2026-Q5")["text"] == \
        "`2026-Q5` 不是有效的周期；周请写成 2026-W46，月写成 2026-11，季度写成 2026-Q4。"
    assert "每月，首个工作日" in reply(sender, slack, "/digest", "list")["blocks"][0]["text"]["text"]
