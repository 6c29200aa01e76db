"""/request config: admins only, a prefilled modal, inline errors, and settings that take effect."""

from clock import utcnow
from handlers.common import rule_error_message
from handlers.requests import config as config_handlers
from localslack.payloads import action, state_value
from models.db import session_scope
from models.errors import RuleError
from models.requests import RequestConfig
from tests.conftest import SETTINGS_ADMIN, wait_until
from tests.outbox import drained
from tests.requests.conftest import OPS, PM1, PM2, TRIAGE, file_quickly
from tests.requests.test_triage import actions, card, card_shows, ephemeral_for
from tests.slack import ADMIN, ALICE, GENERAL


def open_config(sender, slack, user=ADMIN) -> dict:
    sender.command("/request", "config", user_id=user, channel_id=GENERAL)
    view = wait_until(lambda: ((slack.views.get(user) or {}).get("modals") or [None])[-1], message="the modal")
    assert view["callback_id"] == "request_config"
    return view


def values(channel=TRIAGE, mode="channel", users=(), sla="1") -> dict:
    return {"triage_channel": {"channel": state_value("conversations_select", channel)},
            "team_mode": {"mode": state_value("radio_buttons", mode)},
            "product_team": {"users": state_value("multi_users_select", list(users))},
            "sla": {"days": state_value("number_input", sla)}}


def save(sender, slack, view, user=ADMIN, **changes):
    """Submit as Slack would; returns the inline errors (None when the modal closed)."""
    response = sender.view_submission(user, view, values(**changes))
    assert response.status == 200
    return slack.apply_view_response(view["id"], response.json())


def stored(tandem, team_id) -> RequestConfig:
    with session_scope(tandem.engine) as session:
        return session.get(RequestConfig, team_id)


def message(key: str, **params) -> str:
    return rule_error_message(RuleError(key, **params), language="en")["text"]


def test_a_non_admin_is_refused(sender, slack, tandem, workspace):
    response = sender.command("/request", "config", user_id=OPS, channel_id=GENERAL)
    assert response.status == 200
    [told] = ephemeral_for(slack, OPS)
    assert told["via"] == "response_url" and told["text"] == message("not_admin")
    tandem.settle()
    assert not slack.calls_to("views.open")


def test_an_admin_sees_the_current_settings(sender, slack, tandem, workspace):
    view = open_config(sender, slack)
    element = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert element["triage_channel"]["initial_conversation"] == TRIAGE
    assert element["team_mode"]["initial_option"]["value"] == "channel"
    assert element["sla"]["initial_value"] == "1" and element["sla"]["type"] == "number_input"
    assert "initial_users" not in element["product_team"]


def test_an_admin_saves_and_the_settings_take_effect(sender, slack, tandem, workspace):
    request = file_quickly(tandem, workspace.team_id)
    view = open_config(sender, slack)
    assert save(sender, slack, view, mode="users", users=[PM1], sla="3") is None
    row = stored(tandem, workspace.team_id)
    assert (row.triage_channel, row.product_team_mode, row.product_team, row.sla_business_days) == \
        (TRIAGE, "users", [PM1], 3)
    dm = drained(lambda: slack.messages(ADMIN), "the confirmation DM")[0]
    assert dm["text"] == "Request settings saved." and f"<@{PM1}>" in str(dm["blocks"])
    sender.action(PM2, [action("request_accept")], message=card(slack, tandem, request))  # in the channel, not listed
    assert "Only the product team" in ephemeral_for(slack, PM2)[0]["text"]
    sender.action(PM1, [action("request_accept")], message=card(slack, tandem, request))
    card_shows(slack, tandem, request, "Accepted")
    assert actions(tandem, request) == ["filed", "accept"]
    reopened = open_config(sender, slack)  # prefilled with what was saved
    element = {b["block_id"]: b["element"] for b in reopened["blocks"]}
    assert (element["team_mode"]["initial_option"]["value"], element["product_team"]["initial_users"],
            element["sla"]["initial_value"]) == ("users", [PM1], "3")


def test_tandem_admins_from_the_settings_may_configure(sender, slack, tandem, workspace):
    slack.add_user(SETTINGS_ADMIN, name="settings-admin")
    view = open_config(sender, slack, user=SETTINGS_ADMIN)
    assert save(sender, slack, view, user=SETTINGS_ADMIN, sla="2") is None
    assert stored(tandem, workspace.team_id).sla_business_days == 2


def test_invalid_settings_are_shown_inline_and_nothing_is_saved(sender, slack, tandem, workspace):
    slack.add_channel("C0NOBOT", "no-tandem", members=[ADMIN], bot_is_member=False)
    view = open_config(sender, slack)
    assert save(sender, slack, view, mode="users", users=[]) == {"product_team": message("requests.empty_team")}
    bad_sla = message("requests.bad_sla", low=1, high=30)
    for sla in ("0", "31", "two"):
        assert save(sender, slack, view, sla=sla) == {"sla": bad_sla}
    assert save(sender, slack, view, channel=None) == {"triage_channel": message("requests.no_triage_channel")}
    assert "Invite it" in save(sender, slack, view, channel="C0NOBOT")["triage_channel"]
    assert slack.views[ADMIN]["modals"][0]["id"] == view["id"]  # still open
    row = stored(tandem, workspace.team_id)
    assert (row.product_team_mode, row.sla_business_days, row.triage_channel) == ("channel", 1, TRIAGE)
    tandem.settle()
    assert not slack.messages(ADMIN)


def test_a_submission_by_a_non_admin_is_refused_on_the_server(sender, slack, tandem, workspace):
    view = open_config(sender, slack)
    response = sender.view_submission(ALICE, view, values(mode="users", users=[ALICE]))  # forged
    assert response.status == 200 and response.text in ("", "{}")
    [told] = ephemeral_for(slack, ALICE)
    assert (told["channel"], told["text"]) == (GENERAL, message("not_admin"))
    row = stored(tandem, workspace.team_id)
    assert (row.product_team_mode, row.product_team) == ("channel", [])


def test_a_configured_workspace_gets_its_sla_job(tandem, workspace):
    with session_scope(tandem.engine) as session:
        jobs = [job for source in config_handlers.job_sources(tandem.services) for job in source(session, utcnow())]
    assert [job.key for job in jobs] == [f"requests:sla:{workspace.team_id}"]
