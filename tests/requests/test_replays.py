"""Every request modal delivered twice (a replay of the same signed view_submission, or two
deliveries at once) changes things once, and the replay gets the first answer."""


from localslack.payloads import state_value
from tests.conftest import assert_replay_changes_nothing, at_once, wait_until
from tests.requests.conftest import OPS, PM1, TRIAGE, file_quickly
from tests.requests.test_config import open_config, values
from tests.requests.test_filing import feature_values, open_and_pick, opened_modal, requests_in_db
from tests.requests.test_triage import actions, card_shows, open_reason, top_level
from tests.slack import ADMIN, payloads


def test_a_replayed_request_form_files_one_request_and_edits_once(sender, slack, tandem, workspace):
    view = open_and_pick(sender, slack, OPS)
    filed = sender.view_submission(OPS, view, feature_values())
    assert_replay_changes_nothing(tandem, slack, sender, filed)
    assert len(requests_in_db(tandem)) == 1 and len(slack.messages(TRIAGE)) == 1
    sender.command("/request", "edit REQ-1", user_id=OPS)
    view = wait_until(lambda: (v := opened_modal(slack, OPS)) and v["id"] != filed.sent["view"]["id"] and v,
                      message="the edit form")
    edited = sender.view_submission(OPS, view, feature_values(title="Much faster export"))
    assert_replay_changes_nothing(tandem, slack, sender, edited)  # not "changed meanwhile": the first answer
    assert [(r.title, r.version) for r in requests_in_db(tandem)] == [("Much faster export", 2)]


def test_a_replayed_reason_declines_once(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    view = open_reason(sender, slack, tandem, request, PM1, "request_decline")
    declined = sender.view_submission(PM1, view, {"reason": {"reason": state_value("plain_text_input", "Not now")}})
    card_shows(slack, tandem, request, "Declined")
    assert_replay_changes_nothing(tandem, slack, sender, declined)  # not "moved meanwhile": the first answer
    assert actions(tandem, request) == ["filed", "decline"] and len(top_level(slack)) == 1


def test_a_replayed_config_saves_once(sender, slack, tandem, workspace):
    view = open_config(sender, slack)
    saved = sender.view_submission(ADMIN, view, values(mode="users", users=[PM1], sla="3"))
    assert_replay_changes_nothing(tandem, slack, sender, saved)
    assert len(slack.messages(ADMIN)) == 1  # one "settings saved" DM


def test_two_deliveries_at_once_file_one_request(sender, slack, tandem, workspace):
    view = open_and_pick(sender, slack, OPS)
    payload = payloads.view_submission(OPS, view, feature_values(), slack=slack)
    answers = at_once(*[lambda: sender.interaction(payload)] * 3)
    assert [a.status for a in answers] == [200, 200, 200] and {a.text for a in answers} <= {"", "{}"}
    tandem.settle()
    assert len(requests_in_db(tandem)) == 1 and len(slack.messages(TRIAGE)) == 1
