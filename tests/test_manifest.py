"""manifest.yaml: the settings the code relies on."""

import yaml

from localslack.escaping import should_escape


def manifest(repo_root) -> dict:
    return yaml.safe_load((repo_root / "manifest.yaml").read_text(encoding="utf-8"))


def test_commands_that_take_people_have_escaping_on(repo_root):
    commands = {c["command"]: c.get("should_escape", False) for c in manifest(repo_root)["features"]["slash_commands"]}
    assert {name for name, escaped in commands.items() if escaped} == {"/approval", "/standup"}
    assert all(should_escape(name) == escaped for name, escaped in commands.items())  # what the local Slack reads


def test_no_scope_the_code_does_not_use(repo_root):
    scopes = manifest(repo_root)["oauth_config"]["scopes"]["bot"]
    assert "chat:write.public" not in scopes  # every target channel has the bot as a member
    app_home = manifest(repo_root)["features"]["app_home"]
    # DMs are answered (handlers/events.py), so the Messages tab stays writable and message.im subscribed
    assert app_home["messages_tab_enabled"] and not app_home["messages_tab_read_only_enabled"]
    assert "message.im" in manifest(repo_root)["settings"]["event_subscriptions"]["bot_events"]
