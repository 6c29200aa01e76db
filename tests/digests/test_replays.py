"""Every digest modal delivered twice (a replay of the same signed view_submission) changes things
once, and the replay gets the first answer."""

from localslack.payloads import state_value
from tests.conftest import assert_replay_changes_nothing, wait_until
from tests.digests.conftest import LEAD, define, make_digest, seeded_metrics, weeks
from tests.digests.test_manage import the_digests
from tests.digests.test_metrics import points
from tests.slack import ADMIN, GENERAL


def modal(slack, user):
    return wait_until(lambda: ((slack.views.get(user) or {}).get("modals") or [None])[-1], message="the modal")


def digest_state(**changes) -> dict:
    values = {"name": "leadership", "channel": LEAD, "weekday": "0", "time": "09:30", "timezone": "Asia/Shanghai",
              "metrics": ["DAU", "NPS"], "thresholds": "DAU=10%", "template": "default", **changes}
    kinds = {"channel": "conversations_select", "weekday": "static_select", "metrics": "multi_static_select"}
    return {k: {k: state_value(kinds.get(k, "plain_text_input"), v)} for k, v in values.items()}


def test_a_replayed_new_digest_is_created_once_and_an_edit_saved_once(sender, slack, tandem, lead):
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    sender.command("/digest", "new leadership", user_id=ADMIN, channel_id=GENERAL)
    created = sender.view_submission(ADMIN, modal(slack, ADMIN), digest_state())
    assert_replay_changes_nothing(tandem, slack, sender, created)
    assert list(the_digests(tandem)) == ["leadership"]
    slack.close_modals(ADMIN)
    make_digest(tandem.engine, slack.team_id, name="weekly")
    sender.command("/digest", "edit weekly", user_id=ADMIN, channel_id=GENERAL)
    edited = sender.view_submission(ADMIN, modal(slack, ADMIN), digest_state(name="weekly", time="17:30"))
    assert_replay_changes_nothing(tandem, slack, sender, edited)
    assert the_digests(tandem)["weekly"].hour == 17


def test_a_replayed_import_records_once(sender, slack, tandem):
    define(tandem.engine, slack.team_id, ["DAU"])
    sender.command("/metric", "import", user_id=ADMIN)
    upload = slack.add_file("dau.csv", b"metric,date,value\nDAU,2026-11-02,100\n")
    imported = sender.view_submission(ADMIN, modal(slack, ADMIN), {"file": {"file": {"type": "file_input",
                                                                                    "files": [upload]}}})
    assert_replay_changes_nothing(tandem, slack, sender, imported)
    assert points(tandem, "DAU") == {"2026-11-02": 100.0}
    assert len(slack.messages(slack.dm_channel_of(ADMIN))) == 1  # one import report
