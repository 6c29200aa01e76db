"""/digest edit, pause, resume, delete: the owner or an admin; others are refused."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from handlers.digests import sending
from localslack.payloads import state_value
from models.db import session_scope
from models.digests import Digest, DigestSend
from tests.conftest import wait_until
from tests.digests.conftest import LEAD, make_digest, reply, seeded_metrics, weeks
from tests.digests.test_digest import sends
from tests.digests.test_metrics import refusal
from tests.outbox import drained
from tests.slack import ALICE, GENERAL


def the_digests(tandem) -> dict[str, Digest]:
    with session_scope(tandem.engine) as session:
        return {d.name: d for d in session.exec(select(Digest))}


def scheduled_jobs(tandem) -> list[str]:
    [source] = sending.job_sources(tandem.services)
    with session_scope(tandem.engine) as session:
        return [job.key for job in source(session, datetime.now(UTC))]


def test_pause_resume_and_delete_by_the_owner_refused_for_others(sender, slack, tandem, lead):
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    digest = make_digest(tandem.engine, slack.team_id, owner=ALICE)  # Alice owns it; she is no admin
    make_digest(tandem.engine, slack.team_id, name="other")  # the admin's
    assert reply(sender, slack, "/digest", "pause other", user=ALICE)["text"] == \
        refusal("digests.not_owner", name="other")
    assert reply(sender, slack, "/digest", "pause", user=ALICE)["text"] == \
        refusal("digests.manage_usage", command="pause")
    assert reply(sender, slack, "/digest", "pause weekly", user=ALICE)["text"] == \
        "Digest weekly is paused: it will not post until `/digest resume weekly`."
    assert the_digests(tandem)["weekly"].paused
    assert scheduled_jobs(tandem) == [f"digests:{the_digests(tandem)['other'].id}"]
    assert "_paused_" in reply(sender, slack, "/digest", "list")["blocks"][0]["text"]["text"]
    due = datetime.combine(last + timedelta(weeks=1), datetime.min.time(), tzinfo=UTC).replace(hour=9)
    assert sending.digest_job(tandem.services, digest).run(due, due) is None  # a job built before the pause
    tandem.settle()
    assert slack.messages(LEAD) == [] and sends(tandem) == []
    assert reply(sender, slack, "/digest", "resume weekly")["text"] == "Digest weekly is running again."  # admin
    assert len(scheduled_jobs(tandem)) == 2
    reply(sender, slack, "/digest", "send weekly now", user=ALICE)
    assert len(sends(tandem)) == 1
    assert reply(sender, slack, "/digest", "delete weekly", user=ALICE)["text"] == \
        "Digest weekly is deleted. The digests it posted stay in their channel."
    assert list(the_digests(tandem)) == ["other"]
    with session_scope(tandem.engine) as session:
        assert list(session.exec(select(DigestSend))) == []
    assert sending.digest_job(tandem.services, digest).run(due, due) is None  # its old job finds nothing
    assert reply(sender, slack, "/digest", "resume weekly")["text"] == \
        refusal("digests.unknown_digest", name="weekly")


def test_edit_opens_the_modal_filled_in_and_saves_changes_in_place(sender, slack, tandem, lead):
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    make_digest(tandem.engine, slack.team_id, owner=ALICE, thresholds={"DAU": 10})
    make_digest(tandem.engine, slack.team_id, name="other")
    with session_scope(tandem.engine) as session:
        digest = session.exec(select(Digest).where(Digest.name == "weekly")).one()
        digest.targets = {"NPS": 40.0}
        session.add(digest)
    sender.command("/digest", "edit weekly", user_id=ALICE, channel_id=GENERAL)
    view = wait_until(lambda: ((slack.views.get(ALICE) or {}).get("modals") or [None])[-1], message="the modal")
    assert view["title"]["text"] == "Edit digest"
    elements = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert elements["name"]["initial_value"] == "weekly" and elements["channel"]["initial_conversation"] == LEAD
    assert elements["time"]["initial_value"] == "09:00" and elements["timezone"]["initial_value"] == "UTC"
    assert [o["value"] for o in elements["metrics"]["initial_options"]] == ["DAU", "CAC", "NPS"]
    assert elements["thresholds"]["initial_value"] == "DAU=10, NPS target 40"

    def submit(**changes):
        values = {"name": "weekly", "channel": LEAD, "weekday": "4", "time": "17:30", "timezone": "Asia/Shanghai",
                  "metrics": ["DAU"], "thresholds": "DAU=5", "template": "default", **changes}
        kinds = {"channel": "conversations_select", "weekday": "static_select", "metrics": "multi_static_select"}
        state = {k: {k: state_value(kinds.get(k, "plain_text_input"), v)} for k, v in values.items()}
        return (sender.view_submission(ALICE, view, state).json() or {}).get("errors")

    assert submit(name="other") == {"name": refusal("digests.digest_exists", name="other")}
    assert submit() is None
    edited = the_digests(tandem)["weekly"]
    assert (edited.weekday, edited.hour, edited.minute, edited.timezone, edited.metrics, edited.thresholds,
            edited.targets, edited.owner) == (4, 17, 30, "Asia/Shanghai", ["DAU"], {"DAU": 5.0}, {}, ALICE)
    assert len(the_digests(tandem)) == 2
    dm = drained(lambda: slack.messages(slack.dm_channel_of(ALICE)), "the confirmation")[-1]
    assert dm["text"].startswith("Digest weekly saved: every Friday at 17:30 (Asia/Shanghai)")
    refused = sender.command("/digest", "edit other", user_id=ALICE, channel_id=GENERAL)
    answer = wait_until(lambda: slack.responses(refused.sent["response_url"]), message="the refusal")[0]
    assert answer["text"] == refusal("digests.not_owner", name="other")
