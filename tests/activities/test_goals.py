"""Goals at filing: one to three lines, each a metric of the catalogue with a target; the baseline
shown in the form once the metric and the dates are chosen; every bad line answered inline."""

from localslack.payloads import action
from tests.activities.conftest import (
    DAYS,
    END,
    START,
    define,
    goal_state,
    last_request,
    open_form,
    record,
    submit,
)
from tests.approvals.conftest import LEAD1, click, modal_of, run_of
from tests.conftest import wait_until
from tests.outbox import drained
from tests.requests.conftest import OPS, OPS_ZH


def test_choosing_a_metric_shows_its_baseline_then_the_goals_are_filed(sender, slack, tandem, workspace, monkeypatch):
    monkeypatch.setattr(tandem.services.settings, "default_currency", "CNY")  # GMV is money: the workspace's currency
    define(tandem, workspace.team_id, "GMV")
    record(tandem, workspace.team_id, "GMV", {n: 1000 + n for n in range(-DAYS + 1, 1)})  # the 10 days before
    record(tandem, workspace.team_id, "GMV", {-DAYS: 99999})  # 11 days before: outside the baseline
    view = open_form(sender, slack)
    options = next(b for b in view["blocks"] if b.get("block_id") == "goal1_metric")["element"]["options"]
    assert {"GMV", "DAU", "RETENTION"} <= {o["value"] for o in options}  # the workspace's and the presets
    state = goal_state([("GMV", "")])
    sender.action(OPS, [action("activity_goal_metric", block_id="goal1_metric", type="static_select",
                               selected_option={"value": "GMV"})], view=view, state=state)
    drained(lambda: slack.calls_to("views.update"), "the form redrawn")
    redrawn = slack.view(view["id"])
    baseline = sum(1000 + n for n in range(-DAYS + 1, 1))  # 9,955: sum, GMV adds up
    first, last = (START.date().fromordinal(START.date().toordinal() - k).isoformat() for k in (DAYS, 1))
    assert f"Baseline of GMV (10 days before the start, {first} – {last}): {baseline:,} CN¥" in str(redrawn["blocks"])

    assert submit(sender, slack, view, goal_state([("GMV", "+20 %"), ("DAU", "≥ 12,000")])) is None
    request = last_request(tandem)
    assert request.fields["goals"] == [
        {"metric": "GMV", "kind": "change", "op": ">=", "target": 20.0},
        {"metric": "DAU", "kind": "absolute", "op": ">=", "target": 12000.0}]


def test_bad_goal_lines_are_answered_under_each_field(sender, slack, tandem, workspace):
    view = open_form(sender, slack)
    errors = submit(sender, slack, view, goal_state([("NOPE", "≥ 5"), ("DAU", "+20 %"), ("RETENTION", "sum ≥ 5")]))
    assert "NOPE is not a metric of this workspace" in errors["goal1_metric"]
    assert "DAU has no values in the 10 days before the start" in errors["goal2_target"]
    assert "absolute target" in errors["goal2_target"]
    assert "no total" in errors["goal3_target"]
    errors = submit(sender, slack, view, goal_state([("GMV", "lots"), ("DAU", "≥ 20 %"), ("GMV", "")]))
    assert "“lots” is not a target" in errors["goal1_target"]
    assert "DAU is not a percentage" in errors["goal2_target"]
    assert "Give GMV a target" in errors["goal3_target"]
    errors = submit(sender, slack, view, goal_state([("DAU", "≥ 1")], start=END, end=START))
    assert errors["ends_at"] == "The end must be after the start."
    assert last_request(tandem) is None


def test_goal_errors_in_chinese(sender, slack, tandem, workspace):
    view = open_form(sender, slack, OPS_ZH)
    errors = submit(sender, slack, view, goal_state([("DAU", "+20 %"), ("GMV", "lots")]), user=OPS_ZH)
    assert "DAU 在开始前的 10 天里没有数据" in errors["goal1_target"]
    assert "“lots” 不是目标" in errors["goal2_target"]


def test_changing_a_goal_after_an_approval_restarts_the_chain(sender, slack, tandem, workspace):
    view = open_form(sender, slack)
    assert submit(sender, slack, view, goal_state([("DAU", "≥ 12,000")])) is None
    request = last_request(tandem)
    click(sender, slack, LEAD1, request.ref, "Ops lead")
    drained(lambda: run_of(tandem, request).current_stage == 1, "the first stage approved")
    sender.command("/request", f"edit {request.ref}", user_id=OPS)
    edit = wait_until(lambda: (m := modal_of(slack, OPS)) and "edit" in m.get("private_metadata", "") and m,
                      message="the edit form")
    target = next(b for b in edit["blocks"] if b.get("block_id") == "goal1_target")
    assert target["element"]["initial_value"] == "≥ 12000"  # the stored goal, back in the form
    values = goal_state([("DAU", "≥ 15,000")])
    values.pop("kind")
    assert submit(sender, slack, edit, values) is None
    drained(lambda: run_of(tandem, request).round == 2, "the chain restarted")
    assert last_request(tandem).fields["goals"][0]["target"] == 15000.0
