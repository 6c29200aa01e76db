"""/tandem through the real app: help in both languages, the workspace language, unknown commands."""

import pytest
from sqlmodel import select

from models.db import session_scope
from models.workspaces import Workspace
from tests.conftest import SETTINGS_ADMIN


def blocks_text(body: dict) -> str:
    return "\n".join(str(block) for block in body.get("blocks", [])) + body.get("text", "")


@pytest.fixture
def people(slack):
    slack.add_user("UEN", name="erin", locale="en-US", tz="Europe/Berlin")
    slack.add_user("UZH", name="zhang", locale="zh-CN", tz="Asia/Shanghai")
    slack.add_user("UBOSS", name="boss", locale="en-US", is_admin=True)
    slack.add_user(SETTINGS_ADMIN, name="ops-lead", locale="en-US")


def workspace_language(tandem, team_id) -> str | None:
    with session_scope(tandem.engine) as session:
        row = session.exec(select(Workspace).where(Workspace.team_id == team_id)).first()
        return row.language if row else None


def test_help_in_english(sender, people, tandem):
    response = sender.command("/tandem", "help", user_id="UEN")
    assert response.status == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"] == f"Tandem {tandem.services.version}: commands"
    text = blocks_text(body)
    assert "/tandem help" in text and "/tandem language en|zh-CN" in text
    assert "Set the workspace language" in text


def test_empty_text_means_help(sender, people):
    assert sender.command("/tandem", "", user_id="UEN").json()["text"].endswith(": commands")


def test_help_in_chinese_for_a_chinese_slack_locale(sender, people):
    body = sender.command("/tandem", "help", user_id="UZH").json()
    assert body["text"].endswith("：命令")
    assert "设置工作区语言" in blocks_text(body)


def test_workspace_default_chinese_applies_to_everyone(sender, people, tandem, slack):
    reply = sender.command("/tandem", "language zh-CN", user_id="UBOSS").json()
    assert "简体中文" in reply["text"]
    assert workspace_language(tandem, slack.team_id) == "zh_CN"
    assert sender.command("/tandem", "help", user_id="UEN").json()["text"].endswith("：命令")
    sender.command("/tandem", "language en", user_id="UBOSS")
    assert sender.command("/tandem", "help", user_id="UEN").json()["text"].endswith(": commands")
    assert sender.command("/tandem", "help", user_id="UZH").json()["text"].endswith("：命令")


def test_settings_admin_may_set_the_language(sender, people, tandem, slack):
    sender.command("/tandem", "language 中文", user_id=SETTINGS_ADMIN)
    assert workspace_language(tandem, slack.team_id) == "zh_CN"


def test_non_admin_is_refused_and_nothing_changes(sender, people, tandem, slack):
    sender.command("/tandem", "help", user_id="UEN")  # the workspace exists, in English
    body = sender.command("/tandem", "language zh-CN", user_id="UEN").json()
    assert body["response_type"] == "ephemeral"
    assert "Only workspace admins" in body["text"]
    assert workspace_language(tandem, slack.team_id) == "en"
    zh = sender.command("/tandem", "language en", user_id="UZH").json()
    assert "只有工作区管理员" in zh["text"]


def test_unknown_language_and_missing_language(sender, people, tandem, slack):
    sender.command("/tandem", "help", user_id="UBOSS")  # the workspace exists, in English
    assert "does not speak `fr`" in sender.command("/tandem", "language fr", user_id="UBOSS").json()["text"]
    assert "Say which language" in sender.command("/tandem", "language", user_id="UBOSS").json()["text"]
    assert workspace_language(tandem, slack.team_id) == "en"


def test_unknown_subcommand_answers_with_help_translated(sender, people):
    body = sender.command("/tandem", "<!channel> & <b>", user_id="UEN").json()
    text = blocks_text(body)
    assert "Tandem has no command `&lt;!channel&gt;`" in text
    assert "<!channel>" not in text
    assert "/tandem help" in text
    zh = sender.command("/tandem", "frobnicate", user_id="UZH").json()
    assert "Tandem 没有 `frobnicate` 这个命令" in blocks_text(zh)


def test_huge_unknown_subcommand_still_gets_an_answer(sender, people):
    body = sender.command("/tandem", "x" * 4000, user_id="UEN").json()
    assert "Tandem has no command" in blocks_text(body)


def test_digest_and_metric_commands_answer_with_their_usage(sender, people):
    for command in ("/digest", "/metric"):
        body = sender.command(command, "", user_id="UEN").json()
        assert body["text"] == "Metrics and digests: commands" and f"`{command} " in str(body["blocks"])


def test_user_locale_is_asked_once_a_day(sender, people, slack):
    for _ in range(3):
        sender.command("/tandem", "help", user_id="UEN")
    asked = [call for call in slack.calls_to("users.info") if call.args.get("user") == "UEN"]
    assert len(asked) == 1
