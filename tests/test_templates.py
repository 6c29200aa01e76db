"""templates.render: escaping, YAML safety, Block Kit limits, and both languages' words."""

import pytest
import yaml

import templates
from templates import BLOCKS_DIR, RenderError, render

HOSTILE = '<!channel> & <b>'


def test_user_value_is_escaped_for_mrkdwn():
    message = render("help.yaml.j2", language="en", version="1.0", unknown=HOSTILE)
    text = message["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;b&gt;" in text
    assert "<!channel>" not in str(message)


@pytest.mark.parametrize("value", ['a "quoted": value', "line one\nline two", "key: value # not a comment",
                                   "{{ not jinja }}", "- [x]", "反斜杠 \\ 和 emoji 🎉", "\u202eRTL"])
def test_user_value_cannot_break_the_yaml(value):
    message = render("help.yaml.j2", language="en", version="1.0", unknown=value)
    assert templates.escape_mrkdwn(value) in message["blocks"][0]["text"]["text"]


def test_mentions_pass_as_markup_but_only_for_ids():
    env = templates._ENV
    tmpl = env.from_string('text: "{{ who|mention }} / {{ bad|mention }}"')
    out = yaml.safe_load(tmpl.render(who="U123ABC", bad="<!here>"))
    assert out["text"] == "<@U123ABC> / &lt;!here&gt;"


def test_text_too_long_for_its_field_is_cut_and_logged(caplog):
    message = render("help.yaml.j2", language="en", version="9" * 3100)
    assert len(message["blocks"][2]["elements"][0]["text"]) == 3000
    assert message["blocks"][2]["elements"][0]["text"].endswith("…")
    assert "help.yaml.j2: text cut to Slack's limits at /blocks/2/elements/0/text (3185 → 3000)" in caplog.text


def test_what_cannot_be_cut_is_refused_naming_the_template(monkeypatch):
    monkeypatch.setattr(templates, "render_text", lambda *a, **k: "text: t\nblocks:\n" + "  - type: divider\n" * 51)
    with pytest.raises(RenderError) as caught:
        render("help.yaml.j2", language="en", version="1")
    assert caught.value.template == "help.yaml.j2"
    assert caught.value.problems == ["no more than 50 items allowed [json-pointer:/blocks]"]


def test_limits_cover_blocks_count_message_text_and_modal_title():
    from templates.blockkit import check_surface

    too_many = {"text": "t", "blocks": [{"type": "divider"}] * 51}
    assert check_surface(too_many) == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert check_surface({"text": "t" * 40_001}) == ["must be less than 40001 characters [json-pointer:/text]"]
    assert check_surface({"blocks": []}) == ["a message needs text or blocks [json-pointer:/text]"]
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25}, "blocks": []}
    assert check_surface(modal) == ["must be less than 25 characters [json-pointer:/title/text]"]
    button = {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76},
                                               "action_id": "a"}]}
    assert check_surface({"text": "t", "blocks": [button]}) == [
        "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"
    ]
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3001}]}  # any text object: 3000
    assert check_surface({"text": "t", "blocks": [context]}) == [
        "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/text]"
    ]


def test_help_in_both_languages():
    en = render("help.yaml.j2", language="en", version="9.9.9")
    zh = render("help.yaml.j2", language="zh_CN", version="9.9.9")
    assert en["text"] == "Tandem 9.9.9: commands"
    assert zh["text"] == "Tandem 9.9.9：命令"
    assert "/tandem language en|zh-CN" in zh["blocks"][1]["text"]["text"]


def test_every_template_renders_valid_yaml_in_both_languages():
    contexts = {
        "help.yaml.j2": {"version": "1"},
        "error.yaml.j2": {"key": "unknown_language", "params": {"given": "fr", "choices": "en"}},
        "unexpected_error.yaml.j2": {"reference": "T-ABC"},
        "unexpected_error_modal.yaml.j2": {"reference": "T-ABC"},
        "language_set.yaml.j2": {"new_language": "zh_CN"},
        "home.yaml.j2": {"version": "1"},
        "database_unreachable.yaml.j2": {"modal": False},
        "too_slow.yaml.j2": {},
        "currency.yaml.j2": {"changed": True, "code": "CNY", "from_setting": False, "name": "Chinese Yuan",
                             "symbol": "CN¥"},
        "dm_help.yaml.j2": {},
        "outbox.yaml.j2": {"total": 20, "notice": "retried", "messages": [
            {"id": 7, "key": "request:3:card", "method": "chat.postMessage", "to": "C1", "error": "not_in_channel",
             "attempts": 1, "created_at": "2026-01-05T09:00:00+00:00", "preview": "<!channel> REQ-3"}]},
    }
    assert set(contexts) == {p.name for p in BLOCKS_DIR.glob("*.j2") if not p.name.startswith("_")}, \
        "add new templates here"
    for name, context in contexts.items():
        for language in ("en", "zh_CN"):
            payload = render(name, language=language, **context)
            assert payload.get("text") or payload.get("type") in ("home", "modal")
    for language in ("en", "zh_CN"):  # its modal form too
        assert render("database_unreachable.yaml.j2", language=language, modal=True)["type"] == "modal"
