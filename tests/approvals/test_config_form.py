"""/approval config as a form: people pickers per stage, prefilled, problems under the field."""

from localslack.payloads import state_value
from models.approvals import ApprovalConfig
from models.db import session_scope
from tests.approvals.conftest import (
    BACKUP,
    FIN1,
    LEAD1,
    LEAD2,
    PROD1,
    PROD2,
    file_activity,
    modal_of,
    run_of,
    set_chain,
)
from tests.conftest import SETTINGS_ADMIN, wait_until
from tests.outbox import drained

SIMPLE = [
    {"name": "Ops lead", "approvers": [LEAD1, LEAD2], "mode": "any", "due_hours": 8, "backup": BACKUP},
    {"name": "Product", "approvers": [PROD1, PROD2], "mode": "all", "when": {"field": "support", "includes": "design"}},
]


def open_form(sender, slack):
    slack.add_user(SETTINGS_ADMIN, name="admin", locale="en-US")
    sender.command("/approval", "config", user_id=SETTINGS_ADMIN)
    view = wait_until(lambda: modal_of(slack, SETTINGS_ADMIN), message="the config form")
    assert view["callback_id"] == "approval_config_form"
    return view


def elements(view) -> dict:
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


def stage_state(n, name="", approvers=(), mode=None, due="", backup=None, when=None, amount="") -> dict:
    return {f"s{n}_name": {"name": state_value("plain_text_input", name)},
            f"s{n}_approvers": {"approvers": state_value("multi_users_select", list(approvers))},
            f"s{n}_mode": {"mode": state_value("static_select", mode)},
            f"s{n}_due": {"due": state_value("number_input", due)},
            f"s{n}_backup": {"backup": state_value("users_select", backup)},
            f"s{n}_when": {"when": state_value("static_select", when)},
            f"s{n}_amount": {"amount": state_value("number_input", amount)}}


def submit(sender, slack, view, *stages):
    state = {}
    for n in range(5):
        state.update(stage_state(n, **(stages[n] if n < len(stages) else {})))
    response = sender.view_submission(SETTINGS_ADMIN, view, state)
    return slack.apply_view_response(view["id"], response.json())


def saved(tandem, team_id):
    with session_scope(tandem.engine) as session:
        return session.get(ApprovalConfig, team_id).stages


def test_the_form_shows_the_chain_and_saves_what_the_admin_picks(sender, slack, tandem, workspace):
    set_chain(tandem, workspace.team_id, SIMPLE)
    view = open_form(sender, slack)
    fields = elements(view)
    assert fields["s0_name"]["initial_value"] == "Ops lead" and fields["s0_approvers"]["initial_users"] == [LEAD1, LEAD2]
    assert fields["s0_due"]["initial_value"] == "8" and fields["s0_backup"]["initial_user"] == BACKUP
    assert fields["s1_mode"]["initial_option"]["value"] == "all"
    assert fields["s1_when"]["initial_option"]["value"] == "support:design"
    assert "initial_value" not in fields["s2_name"]  # unused stages are empty
    assert submit(sender, slack, view,
                  {"name": "Ops lead", "approvers": [LEAD1, LEAD2], "mode": "2", "due": "16"},
                  {},  # a stage left empty is skipped
                  {"name": "Finance", "approvers": [FIN1], "when": "budget", "amount": "10000"}) is None
    stages = saved(tandem, workspace.team_id)
    assert [(s["name"], s["approvers"], s["mode"], s["due_hours"], s["backup"], s["when"]) for s in stages] == [
        ("Ops lead", [LEAD1, LEAD2], 2, 16, None, None),
        ("Finance", [FIN1], "any", 24, None, {"field": "budget", "at_least": "10000"})]
    drained(lambda: any("chain saved: 2 stages" in m["text"] for m in slack.messages(SETTINGS_ADMIN)),
            "the admin's confirmation")
    request = file_activity(sender, slack, tandem, budget=20000)
    assert [s["name"] for s in run_of(tandem, request).stages] == ["Ops lead", "Finance"]


def test_each_problem_is_shown_under_its_field_and_nothing_is_saved(sender, slack, tandem, workspace):
    set_chain(tandem, workspace.team_id, SIMPLE)
    view = open_form(sender, slack)
    cases = [
        ([{}, {"approvers": [PROD1]}], "s1_name", "Stage #2 needs a name"),
        ([{"name": "A", "approvers": [LEAD1, LEAD2], "mode": "3"}], "s0_approvers", "needs 3 approvals"),
        ([{"name": "A", "approvers": [LEAD1], "when": "budget"}], "s0_when", "the condition must be"),
        ([{"name": "A", "approvers": [LEAD1]}, {"name": "a", "approvers": [LEAD2]}], "s1_name", "Two stages are called “a”"),
        ([{"name": "A"}], "s0_approvers", "has no approvers"),
        ([{"name": "A", "approvers": ["U0NOBODY"]}], "s0_approvers", "there is no user `U0NOBODY`"),
        ([], "s0_name", "at least one stage"),
    ]
    for stages, block, words in cases:
        errors = submit(sender, slack, view, *stages)
        assert list(errors) == [block] and words in errors[block], (stages, errors)
    assert [s["name"] for s in saved(tandem, workspace.team_id)] == ["Ops lead", "Product"]


def test_yaml_stays_available_and_opens_for_chains_the_form_cannot_show(sender, slack, tandem, workspace):
    sender.command("/approval", "config yaml", user_id=SETTINGS_ADMIN)
    view = wait_until(lambda: modal_of(slack, SETTINGS_ADMIN), message="the YAML modal")
    assert view["callback_id"] == "approval_config"
