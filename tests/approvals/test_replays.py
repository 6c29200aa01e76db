"""Every approvals modal delivered twice (a replay of the same signed view_submission) changes
things once, and the replay gets the first answer."""

from localslack.payloads import state_value
from tests.approvals.conftest import LEAD1, decisions, file_activity, modal_of, set_chain, stored
from tests.approvals.test_config import GOOD
from tests.approvals.test_config_form import SIMPLE, open_form, stage_state
from tests.approvals.test_running import reason_modal
from tests.conftest import SETTINGS_ADMIN, assert_replay_changes_nothing, wait_until


def test_a_replayed_yaml_chain_is_saved_once(sender, slack, tandem, workspace):
    slack.add_user(SETTINGS_ADMIN, name="admin", locale="en-US")
    sender.command("/approval", "config yaml", user_id=SETTINGS_ADMIN)
    view = wait_until(lambda: modal_of(slack, SETTINGS_ADMIN), message="the config modal")
    saved = sender.view_submission(SETTINGS_ADMIN, view, {"chain": {"yaml": state_value("plain_text_input", GOOD)}})
    assert_replay_changes_nothing(tandem, slack, sender, saved)
    assert sum("chain saved" in m["text"] for m in slack.messages(SETTINGS_ADMIN)) == 1


def test_a_replayed_chain_form_is_saved_once(sender, slack, tandem, workspace):
    set_chain(tandem, workspace.team_id, SIMPLE)
    view = open_form(sender, slack)
    state = {}
    for n in range(5):
        state.update(stage_state(n, **({"name": "Ops lead", "approvers": [LEAD1], "mode": "any"} if n == 0 else {})))
    saved = sender.view_submission(SETTINGS_ADMIN, view, state)
    assert_replay_changes_nothing(tandem, slack, sender, saved)
    assert sum("chain saved" in m["text"] for m in slack.messages(SETTINGS_ADMIN)) == 1


def test_a_replayed_rejection_decides_once(sender, slack, tandem, workspace):
    request = file_activity(sender, slack, tandem)
    view = reason_modal(sender, slack, LEAD1, "REQ-1", "Ops lead", "approval_reject")
    rejected = sender.view_submission(LEAD1, view, {"reason": {"reason": state_value("plain_text_input", "No")}})
    assert_replay_changes_nothing(tandem, slack, sender, rejected)  # not "already decided": the first answer
    assert len(decisions(tandem, request)) == 1 and stored(tandem, request).status == "declined"
