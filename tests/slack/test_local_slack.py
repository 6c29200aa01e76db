"""Tests of the local Slack itself, driven by the real slack_sdk / slack_bolt clients."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from tests.slack import (
    ALICE,
    BOB,
    CHEN,
    GENERAL,
    LocalSlack,
    ServerThread,
    SlackSender,
    action,
    app_home_opened,
    check_blocks,
    check_view,
    event_callback,
    slash_command,
    state_value,
)

SECRET = "local-slack-test-secret"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def local_slack():
    with LocalSlack() as slack:
        yield slack


@pytest.fixture
def client(local_slack) -> WebClient:
    return WebClient(token=local_slack.bot_token, base_url=local_slack.api_url)


def api_error(call, **kwargs) -> dict:
    """The error answer of a WebClient call that must fail."""
    with pytest.raises(SlackApiError) as info:
        call(**kwargs)
    return info.value.response.data


def retry_after(error: SlackApiError) -> str:
    return {k.lower(): v for k, v in error.response.headers.items()}["retry-after"]


def section(text: str, block_id: str | None = None) -> dict:
    block = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


MODAL = {
    "type": "modal",
    "callback_id": "request_form",
    "title": {"type": "plain_text", "text": "New request"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}
HOME = {"type": "home", "blocks": [section("Your requests")]}


# -- Web API basics ---------------------------------------------------------------------------


def test_auth_tokens_and_unknown_method(local_slack, client):
    assert client.auth_test()["user_id"] == "UBOT"

    def raw(method: str, fields: dict, headers: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{local_slack.api_url}{method}",
            data=urllib.parse.urlencode(fields).encode(),
            headers=headers or {},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
            return json.loads(response.read())

    # token as a form param works, like Slack; errors are HTTP 200 with ok=false
    assert raw("auth.test", {"token": "xoxb-test-token"})["ok"] is True
    assert raw("auth.test", {})["error"] == "not_authed"
    assert raw("auth.test", {"token": "xoxb-wrong"})["error"] == "invalid_auth"
    assert raw("chat.postMessage", {"token": "xapp-test-token", "channel": GENERAL, "text": "x"}) == {
        "ok": False,
        "error": "not_allowed_token_type",
    }
    assert raw("apps.connections.open", {"token": "xoxb-test-token"})["error"] == "not_allowed_token_type"
    assert raw("no.suchMethod", {"token": "xoxb-test-token"})["error"] == "unknown_method"
    # form-encoded blocks are parsed for the record
    raw(
        "chat.postMessage",
        {"channel": GENERAL, "blocks": json.dumps([section("form")])},
        {"Authorization": "Bearer xoxb-test-token"},
    )
    call = local_slack.calls_to("chat.postMessage")[-1]
    assert call.ok and call.args["blocks"][0]["text"]["text"] == "form"
    assert call.headers["Authorization"] == "Bearer xoxb-test-token"
    assert [c.ok for c in local_slack.calls_to("auth.test")] == [True, True, False, False]
    local_slack.clear_calls()
    assert local_slack.calls == []


def test_post_message_channels_dms_threads(local_slack, client):
    first = client.chat_postMessage(channel=GENERAL, text="hello", blocks=[section("*hello*")])
    assert first["channel"] == GENERAL and first["message"]["bot_id"] == "B0TEST"
    reply = client.chat_postMessage(channel=GENERAL, text="in thread", thread_ts=first["ts"])
    dm = client.chat_postMessage(channel=BOB, text="just you")
    assert float(first["ts"]) < float(reply["ts"]) < float(dm["ts"])  # ts strictly increase

    assert dm["channel"] == local_slack.dm_channel_of(BOB) and dm["channel"].startswith("D")
    assert local_slack.dm_channel_of(CHEN) is None
    assert [m["text"] for m in local_slack.messages(BOB)] == ["just you"]

    parent, child = local_slack.messages(GENERAL)
    assert parent["blocks"][0]["text"]["text"] == "*hello*"
    assert parent["thread_ts"] == parent["ts"] and parent["reply_count"] == 1
    assert child["thread_ts"] == first["ts"] and child["user"] == "UBOT"
    assert local_slack.replies(GENERAL, first["ts"])[0]["text"] == "in thread"


def test_reset_restores_the_seeded_world(local_slack, client):
    before = client.chat_postMessage(channel=BOB, text="dm")["ts"]
    local_slack.add_user("U0TEMP")
    local_slack.fail_next("auth.test")
    local_slack.set_rate_limit("users.info", per_minute=1)
    local_slack.reset()
    assert (
        local_slack.calls == []
        and local_slack.messages(GENERAL) == []
        and local_slack.dm_channel_of(BOB) is None
    )
    assert [u["id"] for u in client.users_list()["members"]] == ["UBOT", "U0ADMIN", ALICE, BOB, CHEN]
    assert (
        client.auth_test()["ok"] and client.users_info(user=ALICE)["ok"] and client.users_info(user=BOB)["ok"]
    )
    assert float(client.chat_postMessage(channel=GENERAL, text="x")["ts"]) > float(before)


def test_post_message_errors(local_slack, client):
    local_slack.add_channel("C0OUTSIDE", "outside", members=[ALICE], bot_is_member=False)
    local_slack.add_channel("C0OLD", "old", is_archived=True)
    post = client.chat_postMessage
    assert api_error(post, channel="C0NOPE", text="x")["error"] == "channel_not_found"
    assert api_error(post, channel="C0OUTSIDE", text="x")["error"] == "not_in_channel"
    assert api_error(post, channel="C0OLD", text="x")["error"] == "is_archived"
    with pytest.warns(UserWarning, match="text"):  # slack_sdk warns too
        assert api_error(post, channel=GENERAL)["error"] == "no_text"
    assert api_error(post, channel=GENERAL, text="x" * 40_001)["error"] == "msg_too_long"
    client.chat_postMessage(channel=GENERAL, text="x" * 40_000)

    bad = api_error(post, channel=GENERAL, text="x", blocks=[section("y" * 3001)])
    expected = ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
    assert bad == {
        "ok": False,
        "error": "invalid_blocks",
        "errors": expected,
        "response_metadata": {"messages": expected},
    }
    too_many = api_error(post, channel=GENERAL, text="x", blocks=[{"type": "divider"}] * 51)
    assert too_many["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert [m["text"] for m in local_slack.messages(GENERAL)] == ["x" * 40_000]


def test_update_delete_ephemeral_permalink(local_slack, client):
    posted = client.chat_postMessage(channel=GENERAL, text="v1", blocks=[section("v1")])
    updated = client.chat_update(channel=GENERAL, ts=posted["ts"], text="v2")
    assert updated["ts"] == posted["ts"]
    (msg,) = local_slack.messages(GENERAL)
    assert msg["text"] == "v2" and msg["blocks"] == [section("v1")] and "edited" in msg  # blocks kept

    human = local_slack.add_message(GENERAL, "mine", user=ALICE)
    assert (
        api_error(client.chat_update, channel=GENERAL, ts=human["ts"], text="x")["error"]
        == "cant_update_message"
    )
    assert (
        api_error(client.chat_update, channel=GENERAL, ts="1.000001", text="x")["error"]
        == "message_not_found"
    )
    assert api_error(client.chat_delete, channel=GENERAL, ts=human["ts"])["error"] == "cant_delete_message"

    link = client.chat_getPermalink(channel=GENERAL, message_ts=posted["ts"])["permalink"]
    assert link.endswith(f"/archives/{GENERAL}/p{posted['ts'].replace('.', '')}")

    client.chat_delete(channel=GENERAL, ts=posted["ts"])
    assert [m["text"] for m in local_slack.messages(GENERAL)] == ["mine"]

    eph = client.chat_postEphemeral(channel=GENERAL, user=BOB, text="only bob")
    assert local_slack.ephemerals[-1]["user"] == BOB and local_slack.ephemerals[-1]["ts"] == eph["message_ts"]
    local_slack.add_user("U0NEW", name="newbie")
    error = api_error(client.chat_postEphemeral, channel=GENERAL, user="U0NEW", text="x")
    assert error["error"] == "user_not_in_channel"


def test_conversations(local_slack, client):
    opened = client.conversations_open(users=ALICE)
    assert opened["channel"]["id"] == "DU0ALICE" and opened["already_open"] is False
    assert client.conversations_open(users=ALICE)["already_open"] is True
    local_slack.add_user("U0GONE", deleted=True)
    assert api_error(client.conversations_open, users="U0GONE")["error"] == "user_disabled"

    info = client.conversations_info(channel=GENERAL, include_num_members=True)["channel"]
    assert info["name"] == "general" and info["is_member"] and info["num_members"] == 5
    local_slack.add_channel("G0SECRET", "secret", members=[ALICE], is_private=True, bot_is_member=False)
    assert api_error(client.conversations_info, channel="G0SECRET")["error"] == "channel_not_found"

    members, cursor = [], None
    pages = 0
    while True:
        page = client.conversations_members(channel=GENERAL, limit=2, cursor=cursor)
        members += page["members"]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and members == ["U0ADMIN", ALICE, BOB, CHEN, "UBOT"]
    assert (
        api_error(client.conversations_members, channel=GENERAL, cursor="bogus")["error"] == "invalid_cursor"
    )

    parent = client.chat_postMessage(channel=GENERAL, text="parent")
    for n in range(3):
        client.chat_postMessage(channel=GENERAL, text=f"r{n}", thread_ts=parent["ts"])
    replies = client.conversations_replies(channel=GENERAL, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "r0", "r1", "r2"]
    assert api_error(client.conversations_replies, channel=GENERAL, ts="1.2")["error"] == "thread_not_found"


def test_history_newest_first_with_metadata_only_when_asked(local_slack, client):
    first = client.chat_postMessage(channel=GENERAL, text="first")
    tagged = {"event_type": "tandem_outbox", "event_payload": {"key": "k:1"}}
    second = client.chat_postMessage(channel=GENERAL, text="second", metadata=tagged)
    client.chat_postMessage(channel=GENERAL, text="a reply", thread_ts=first["ts"])
    history = client.conversations_history(channel=GENERAL)
    assert [m["text"] for m in history["messages"]] == ["second", "first"]  # replies stay in their thread
    assert "metadata" not in history["messages"][0]
    since = client.conversations_history(channel=GENERAL, oldest=first["ts"], include_all_metadata=True)
    assert [(m["text"], m.get("metadata")) for m in since["messages"]] == [("second", tagged)]  # oldest: exclusive
    assert [m["text"] for m in client.conversations_history(channel=GENERAL, latest=second["ts"],
                                                            inclusive=True)["messages"]] == ["second", "first"]
    replies = client.conversations_replies(channel=GENERAL, ts=first["ts"], oldest=second["ts"])
    assert [m["text"] for m in replies["messages"]] == ["first", "a reply"]


def test_users_and_usergroups(local_slack, client):
    chen = client.users_info(user=CHEN, include_locale=True)["user"]
    assert chen["locale"] == "zh-CN" and chen["tz"] == "Asia/Shanghai" and chen["tz_offset"] == 8 * 3600
    assert "locale" not in client.users_info(user=CHEN)["user"]
    admin = client.users_info(user="U0ADMIN")["user"]
    assert admin["is_admin"] and admin["is_owner"] and not admin["is_bot"]
    assert api_error(client.users_info, user="U0NOBODY")["error"] == "user_not_found"

    ids, cursor = [], None
    while True:
        page = client.users_list(limit=2, cursor=cursor)
        ids += [u["id"] for u in page["members"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert ids == ["UBOT", "U0ADMIN", ALICE, BOB, CHEN]
    assert len(client.users_list()["members"]) == 5

    local_slack.add_usergroup("S0OPS", "ops", users=[ALICE, BOB])
    assert client.usergroups_users_list(usergroup="S0OPS")["users"] == [ALICE, BOB]
    assert api_error(client.usergroups_users_list, usergroup="S0NONE")["error"] == "no_such_subteam"


# -- views ----------------------------------------------------------------------------------


def test_views_and_trigger_ids(local_slack, client):
    trigger = local_slack.new_trigger_id(ALICE)
    root = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert root["id"].startswith("V") and root["callback_id"] == "request_form"
    assert api_error(client.views_open, trigger_id=trigger, view=MODAL)["error"] == "exchanged_trigger_id"
    assert api_error(client.views_open, trigger_id="1.2.3", view=MODAL)["error"] == "invalid_trigger_id"
    expired = local_slack.new_trigger_id(ALICE, age=3.5)
    assert api_error(client.views_open, trigger_id=expired, view=MODAL)["error"] == "expired_trigger_id"

    for _ in range(2):
        client.views_push(trigger_id=local_slack.new_trigger_id(ALICE), view=MODAL)
    pushed = api_error(client.views_push, trigger_id=local_slack.new_trigger_id(ALICE), view=MODAL)
    assert pushed["error"] == "push_limit_reached"
    assert len(local_slack.views[ALICE]["modals"]) == 3

    changed = dict(MODAL, external_id="req-1", title={"type": "plain_text", "text": "Edited"})
    updated = client.views_update(view_id=root["id"], view=changed)["view"]
    assert updated["id"] == root["id"] and updated["hash"] != root["hash"]
    again = client.views_update(external_id="req-1", view=dict(changed, private_metadata="42"))["view"]
    assert again["private_metadata"] == "42"
    assert api_error(client.views_update, view_id="V0NOPE", view=MODAL)["error"] == "not_found"
    assert (
        api_error(client.views_update, view_id=root["id"], hash="stale", view=MODAL)["error"]
        == "hash_conflict"
    )

    home = client.views_publish(user_id=BOB, view=HOME)["view"]
    assert client.views_publish(user_id=BOB, view=HOME)["view"]["id"] == home["id"]
    assert local_slack.views[BOB]["home"]["blocks"] == HOME["blocks"]

    # view_submission acks, applied the way Slack applies them
    top = local_slack.views[ALICE]["modals"][-1]["id"]
    assert local_slack.apply_view_response(top, {"response_action": "errors", "errors": {"title": "no"}})
    local_slack.apply_view_response(top, None)
    assert len(local_slack.views[ALICE]["modals"]) == 2
    local_slack.apply_view_response(root["id"], {"response_action": "clear"})
    assert local_slack.views[ALICE]["modals"] == []


def test_view_limits(local_slack, client):
    long_title = dict(MODAL, title={"type": "plain_text", "text": "x" * 25})
    error = api_error(client.views_open, trigger_id=local_slack.new_trigger_id(ALICE), view=long_title)
    assert error["error"] == "invalid_arguments"
    assert error["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    assert api_error(client.views_publish, user_id=ALICE, view=MODAL)["error"] == "invalid_arguments"

    assert check_view(dict(MODAL, private_metadata="m" * 3001, callback_id="c" * 256)) == [
        "must be less than 3001 characters [json-pointer:/view/private_metadata]",
        "must be less than 256 characters [json-pointer:/view/callback_id]",
    ]
    no_submit = {k: v for k, v in MODAL.items() if k != "submit"}
    assert check_view(no_submit) == [
        "must provide submit when blocks contain input blocks [json-pointer:/view/submit]"
    ]
    assert check_view({"type": "home", "blocks": [{"type": "divider"}] * 100}) == []
    assert check_view({"type": "home", "blocks": [{"type": "divider"}] * 101}) == [
        "no more than 100 items allowed [json-pointer:/view/blocks]"
    ]


def test_check_blocks_limits():
    def button(**overrides):
        return {
            "type": "button",
            "text": {"type": "plain_text", "text": "Go"},
            "action_id": "go",
            **overrides,
        }

    def errors(*blocks):
        return [e.split(" [json-pointer:")[1].rstrip("]") for e in check_blocks(list(blocks), "message")]

    assert check_blocks([section("ok", "a"), {"type": "divider"}], "message") == []
    assert errors({"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}) == [
        "/blocks/0/fields"
    ]
    assert errors({"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}) == [
        "/blocks/0/fields/0/text"
    ]
    assert errors({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}) == [
        "/blocks/0/text/text"
    ]
    assert errors({"type": "header", "text": {"type": "mrkdwn", "text": "h"}}) == ["/blocks/0/text/type"]
    assert errors({"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}) == [
        "/blocks/0/elements"
    ]
    assert errors({"type": "actions", "elements": [button()] * 26}) == ["/blocks/0/elements"]
    assert errors(
        {
            "type": "actions",
            "elements": [
                button(text={"type": "plain_text", "text": "b" * 76}),
                button(value="v" * 2001),
                button(url="https://x/" + "u" * 3000),
                button(action_id="a" * 256),
            ],
        }
    ) == [
        "/blocks/0/elements/0/text/text",
        "/blocks/0/elements/1/value",
        "/blocks/0/elements/2/url",
        "/blocks/0/elements/3/action_id",
    ]

    def option(text="o", value="v"):
        return {"text": {"type": "plain_text", "text": text}, "value": value}

    select = {
        "type": "static_select",
        "action_id": "s",
        "options": [option("t" * 76), option(value="v" * 151)],
    }
    assert errors({"type": "actions", "elements": [select]}) == [
        "/blocks/0/elements/0/options/0/text/text",
        "/blocks/0/elements/0/options/1/value",
    ]
    assert errors({"type": "actions", "elements": [dict(select, options=[option()] * 101)]}) == [
        "/blocks/0/elements/0/options"
    ]
    label = {
        "type": "input",
        "label": {"type": "plain_text", "text": "l" * 2001},
        "element": {"type": "plain_text_input"},
    }
    assert errors(label) == ["/blocks/0/label/text"]
    assert errors(section("a", "dup"), section("b", "dup"), section("c", "i" * 256)) == [
        "/blocks/1/block_id",
        "/blocks/2/block_id",
    ]
    assert errors({"type": "sectoin"}) == ["/blocks/0/type"]
    assert errors({"type": "section", "text": "plain string"}) == ["/blocks/0/text"]
    assert errors({"type": "section", "text": {"type": "mrkdwn", "text": ""}}) == ["/blocks/0/text/text"]
    assert errors({"type": "section", "text": {"type": "markdown", "text": "x"}}) == ["/blocks/0/text/type"]
    assert check_blocks([{"type": "divider"}] * 100, "modal") == []


# -- files ----------------------------------------------------------------------------------


def test_files_upload_v2(local_slack, client):
    parent = client.chat_postMessage(channel=GENERAL, text="report thread")
    result = client.files_upload_v2(
        channel=GENERAL,
        content=b"week,dau\n47,1200\n",
        filename="digest.csv",
        title="Weekly digest",
        initial_comment="This week's numbers",
        thread_ts=parent["ts"],
    )
    (upload,) = local_slack.files
    assert result["file"]["id"] == upload.id
    assert upload.content == b"week,dau\n47,1200\n" and upload.filename == "digest.csv"
    assert (upload.title, upload.channel_id, upload.thread_ts, upload.initial_comment) == (
        "Weekly digest",
        GENERAL,
        parent["ts"],
        "This week's numbers",
    )
    shared = local_slack.messages(GENERAL)[-1]
    assert shared["files"][0]["id"] == upload.id and shared["thread_ts"] == parent["ts"]
    assert [c.method for c in local_slack.calls][-2:] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]


# -- failures and rate limits ----------------------------------------------------------------


def test_fail_next(local_slack, client):
    local_slack.fail_next("chat.postMessage", times=2, status=503)
    retrying = WebClient(
        token=local_slack.bot_token,
        base_url=local_slack.api_url,
        retry_handlers=[
            ServerErrorRetryHandler(
                max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
            )
        ],
    )
    assert retrying.chat_postMessage(channel=GENERAL, text="third time")["ok"]
    assert [c.status for c in local_slack.calls_to("chat.postMessage")] == [503, 503, 200]

    local_slack.fail_next("chat.postMessage")  # default: HTTP 500
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel=GENERAL, text="x")
    assert info.value.response.status_code == 500 and info.value.response["error"] == "fatal_error"

    local_slack.fail_next("chat.postMessage", error="channel_not_found")
    assert api_error(client.chat_postMessage, channel=GENERAL, text="x") == {
        "ok": False,
        "error": "channel_not_found",
    }

    local_slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel=GENERAL, text="x")
    assert info.value.response.status_code == 429 and retry_after(info.value) == "7"
    assert info.value.response["error"] == "ratelimited"

    local_slack.fail_next("users.info", delay=0.25)
    impatient = WebClient(token=local_slack.bot_token, base_url=local_slack.api_url, timeout=0.05)  # type: ignore[arg-type]
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        impatient.users_info(user=ALICE)
    assert client.users_info(user=ALICE)["ok"]  # recovered
    local_slack.fail_next("users.info", times=5)
    local_slack.clear_failures()
    assert client.users_info(user=ALICE)["ok"]


def posts(local_slack, text: str) -> int:
    return sum(1 for m in local_slack.messages(GENERAL) if m["text"] == text)


@pytest.mark.parametrize("failure, raised", [
    ({"status": 500}, SlackApiError),
    ({"status": 503}, SlackApiError),
    ({"status": 502}, SlackApiError),
    ({"status": 429, "retry_after": 3}, SlackApiError),
    ({"fault": "reset"}, ConnectionError),
    ({"fault": "reset", "delay": 0.3}, (TimeoutError, urllib.error.URLError)),  # the client gave up first
])
def test_a_call_refused_before_the_work_does_nothing(local_slack, failure, raised):
    bare = WebClient(token=local_slack.bot_token, base_url=local_slack.api_url, retry_handlers=[], timeout=0.15)
    local_slack.fail_next("chat.postMessage", **failure)
    with pytest.raises(raised):
        bare.chat_postMessage(channel=GENERAL, text="refused")
    time.sleep(failure.get("delay", 0))  # let the server side finish: still nothing done
    [call] = local_slack.calls_to("chat.postMessage")
    assert posts(local_slack, "refused") == 0 and not call.executed and not call.ok


@pytest.mark.parametrize("failure, raised", [
    ({"status": 500}, SlackApiError),
    ({"status": 503}, SlackApiError),
    ({"status": 504}, SlackApiError),
    ({"fault": "reset"}, ConnectionError),
    ({"fault": "truncate"}, http.client.IncompleteRead),
    ({"delay": 0.3}, (TimeoutError, urllib.error.URLError)),  # the answer comes after the client gave up
])
def test_a_reply_lost_after_the_work_leaves_the_work_done(local_slack, failure, raised):
    bare = WebClient(token=local_slack.bot_token, base_url=local_slack.api_url, retry_handlers=[], timeout=0.15)
    local_slack.fail_next("chat.postMessage", when="after", **failure)
    with pytest.raises(raised) as info:
        bare.chat_postMessage(channel=GENERAL, text="done, reply lost")
    assert posts(local_slack, "done, reply lost") == 1
    [call] = local_slack.calls_to("chat.postMessage")
    assert call.executed and not call.ok
    if failure.get("status") == 504:  # a gateway's page, not Slack's JSON
        assert info.value.response.status_code == 504 and "non-JSON" in info.value.response["error"]
    assert bare.chat_postMessage(channel=GENERAL, text="next")["ok"]  # recovered


def test_any_method_can_lose_its_reply_after_the_work(local_slack):
    bare = WebClient(token=local_slack.bot_token, base_url=local_slack.api_url, retry_handlers=[])
    local_slack.fail_next("views.publish", when="after", fault="reset")
    local_slack.fail_next("conversations.open", when="after", status=503)
    with pytest.raises(ConnectionError):
        bare.views_publish(user_id=ALICE, view=HOME)
    assert local_slack.views[ALICE]["home"]["blocks"] == HOME["blocks"]
    with pytest.raises(SlackApiError):
        bare.conversations_open(users=BOB)
    assert local_slack.dm_channel_of(BOB) is not None


def test_an_after_fault_waits_for_a_call_that_does_the_work_and_chance_spreads_them(local_slack):
    bare = WebClient(token=local_slack.bot_token, base_url=local_slack.api_url, retry_handlers=[])
    local_slack.fail_next("chat.postMessage", when="after", fault="reset")
    assert api_error(bare.chat_postMessage, channel="C0NOSUCH", text="x")["error"] == "channel_not_found"
    with pytest.raises(ConnectionError):  # the refused call above did nothing, so it was not hit
        bare.chat_postMessage(channel=GENERAL, text="done")
    local_slack.fail_next("chat.postMessage", times=5, when="after", status=503, chance=0.1)
    hit = []
    for number in range(100):
        try:
            bare.chat_postMessage(channel=GENERAL, text=f"spread {number}")
        except SlackApiError:
            hit.append(number)
    assert len(hit) == 5 and hit != [0, 1, 2, 3, 4]  # spread over the calls, then it recovers
    assert sum(m["text"].startswith("spread") for m in local_slack.messages(GENERAL)) == 100  # all done


def test_fail_next_refuses_faults_slack_cannot_have(local_slack):
    with pytest.raises(ValueError):
        local_slack.fail_next("chat.postMessage", when="after", status=429)  # Slack documents 429 as not done
    with pytest.raises(ValueError):
        local_slack.fail_next("chat.postMessage", when="after", error="channel_not_found")
    with pytest.raises(ValueError):
        local_slack.fail_next("chat.postMessage", fault="truncate")  # a cut reply is the reply of done work


def test_history_and_replies_page_by_cursor_like_slack(local_slack, client):
    parent = client.chat_postMessage(channel=GENERAL, text="parent")
    for n in range(5):
        client.chat_postMessage(channel=GENERAL, text=f"m{n}")
        client.chat_postMessage(channel=GENERAL, text=f"r{n}", thread_ts=parent["ts"])

    def pages(method, **args) -> list[list[str]]:
        seen, cursor = [], None
        while True:
            page = method(channel=GENERAL, limit=2, cursor=cursor, **args)
            seen.append([m["text"] for m in page["messages"]])
            cursor = page["response_metadata"]["next_cursor"]
            assert page["has_more"] == bool(cursor)
            if len(seen) == 1:  # posted between two pages: neither shifts nor hides the rest
                client.chat_postMessage(channel=GENERAL, text="meanwhile")
            if not cursor:
                return seen

    assert pages(client.conversations_history) == [["m4", "m3"], ["m2", "m1"], ["m0", "parent"]]
    assert pages(client.conversations_replies, ts=parent["ts"]) == [["parent", "r0", "r1"], ["r2", "r3"], ["r4"]]
    assert len(client.conversations_history(channel=GENERAL, limit=5000)["messages"]) == 8  # capped at 999, not refused
    local_slack.limit_history_pages(3)  # a non-Marketplace app: fewer than asked, has_more says more follows
    capped = client.conversations_history(channel=GENERAL, limit=100)
    assert len(capped["messages"]) == 3 and capped["has_more"]
    assert api_error(client.conversations_history, channel=GENERAL, cursor="bm9wZQ==")["error"] == "invalid_cursor"


def test_rate_limits_with_retry_after(local_slack, client):
    clock = FakeClock()
    local_slack.clock = clock
    local_slack.set_rate_limit("chat.postMessage", per_second=1, burst=2, per_channel=True)
    local_slack.set_rate_limit("users.info", per_minute=20)  # tier 2
    client.chat_postMessage(channel=GENERAL, text="1")
    client.chat_postMessage(channel=GENERAL, text="2")
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel=GENERAL, text="3")
    assert info.value.response.status_code == 429 and retry_after(info.value) == "1"
    client.chat_postMessage(channel=BOB, text="other channel has its own bucket")
    clock.now += 1.0
    client.chat_postMessage(channel=GENERAL, text="refilled")

    client.users_info(user=ALICE)
    with pytest.raises(SlackApiError) as info:
        client.users_info(user=ALICE)
    assert retry_after(info.value) == "3"  # 60 s / 20
    clock.now += 2.5
    with pytest.raises(SlackApiError) as info:
        client.users_info(user=ALICE)
    assert retry_after(info.value) == "1"  # 0.5 s, rounded up

    # slack_sdk's RateLimitErrorRetryHandler waits out Retry-After (real time, ~1-2 s)
    local_slack.clock = time.monotonic
    local_slack.clear_rate_limits()
    local_slack.set_rate_limit("chat.update", per_second=1)
    posted = client.chat_postMessage(channel=GENERAL, text="v1")
    patient = WebClient(
        token=local_slack.bot_token,
        base_url=local_slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    patient.chat_update(channel=GENERAL, ts=posted["ts"], text="v2")
    patient.chat_update(channel=GENERAL, ts=posted["ts"], text="v3")
    first, second, third = local_slack.calls_to("chat.update")
    assert [first.status, second.status, third.status] == [200, 429, 200]
    assert third.at - second.at >= 1.0
    assert local_slack.messages(GENERAL)[-1]["text"] == "v3"


# -- response_url ---------------------------------------------------------------------------


def test_response_url(local_slack, client):
    posted = client.chat_postMessage(channel=GENERAL, text="card", blocks=[section("pending")])
    url = local_slack.new_response_url(channel_id=GENERAL, user_id=ALICE, message_ts=posted["ts"])
    webhook = WebhookClient(url)

    assert webhook.send(text="only you").status_code == 200
    assert local_slack.ephemerals[-1]["user"] == ALICE and local_slack.ephemerals[-1]["via"] == "response_url"
    webhook.send(text="approved", blocks=[section("approved")], replace_original=True)
    assert local_slack.messages(GENERAL)[-1]["blocks"] == [section("approved")]
    webhook.send(text="for everyone", response_type="in_channel")
    assert local_slack.messages(GENERAL)[-1]["text"] == "for everyone"

    refused = webhook.send(text="x", blocks=[section("y" * 3001)])
    assert (refused.status_code, refused.body) == (400, "invalid_blocks")
    webhook.send(text="four")
    webhook.send(text="five")
    used = webhook.send(text="six")
    assert (used.status_code, used.body) == (404, "used_url")
    assert [body["text"] for body in local_slack.responses(url)][-2:] == ["five", "six"]
    assert [p.status for p in local_slack.response_posts(url)] == [200, 200, 200, 400, 200, 200, 404]

    clock = FakeClock()
    local_slack.clock = clock
    late = local_slack.new_response_url(channel_id=GENERAL, user_id=ALICE)
    clock.now += 30 * 60 + 1
    assert WebhookClient(late).send(text="late").body == "expired_url"


# -- Socket Mode ----------------------------------------------------------------------------


def test_socket_mode_client_acks_and_reconnects(local_slack):
    async def main():
        web_client = AsyncWebClient(base_url=local_slack.api_url)
        sm = SocketModeClient(app_token=local_slack.app_token, web_client=web_client)
        received: list[SocketModeRequest] = []

        async def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
            received.append(request)
            payload = {"text": f"ok {request.payload['text']}"} if request.type == "slash_commands" else None
            await client.send_socket_mode_response(SocketModeResponse(request.envelope_id, payload))

        sm.socket_mode_request_listeners.append(listener)
        try:
            await sm.connect()
            assert await local_slack.wait_for_socket_async(1) == 1
            command = slash_command("/tandem", "help", slack=local_slack)
            ack = await local_slack.socket_send_async("slash_commands", command)
            assert ack["payload"] == {"text": "ok help"} and ack["elapsed"] < 1
            assert received[0].retry_attempt == 0 and received[0].accepts_response_payload is True

            connects = local_slack.socket_connect_count
            assert await local_slack.socket_disconnect_async() == 1
            assert local_slack.socket_connections == 0  # the old one is draining
            await local_slack.wait_for_socket_async(1)
            assert local_slack.socket_connect_count == connects + 1
            event = event_callback(app_home_opened(ALICE), slack=local_slack)
            ack = await local_slack.socket_send_async("events_api", event, retry_attempt=1)
            assert ack["payload"] is None and ack["elapsed"] < 1
            assert received[-1].type == "events_api" and received[-1].retry_attempt == 1
            envelopes = local_slack.socket_envelopes
            assert envelopes[0]["connection"] != envelopes[1]["connection"]
        finally:
            await sm.close()

    asyncio.run(main())


def test_socket_limits_pings_and_disconnect(local_slack):
    async def main():
        async with aiohttp.ClientSession() as session:
            web_client = AsyncWebClient(base_url=local_slack.api_url)

            async def new_url() -> str:
                return (await web_client.apps_connections_open(app_token=local_slack.app_token))["url"]

            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect((await new_url()).replace("ticket=", "ticket=bad"))

            sockets = []
            for n in range(10):
                ws = await session.ws_connect(await new_url(), autoping=False)
                hello = await ws.receive_json()
                assert hello["type"] == "hello" and hello["num_connections"] == n + 1
                assert hello["connection_info"] == {"app_id": "A0TEST"}
                sockets.append(ws)
            await local_slack.wait_for_socket_async(10)

            eleventh = await session.ws_connect(await new_url())
            refused = await eleventh.receive_json()
            assert refused["type"] == "disconnect" and refused["reason"] == "too_many_websockets"
            assert (await eleventh.receive()).type == aiohttp.WSMsgType.CLOSE
            assert local_slack.socket_refused == 1 and local_slack.socket_connections == 10

            await sockets[0].ping(b"are you there")
            pong = await sockets[0].receive()
            assert pong.type == aiohttp.WSMsgType.PONG and pong.data == b"are you there"

            with pytest.raises(TimeoutError):  # nobody acks
                await local_slack.socket_send_async("events_api", {"event": {}}, timeout=0.2)

            assert await local_slack.socket_disconnect_async(grace=0.1) == 10
            assert local_slack.socket_connections == 0  # draining connections receive nothing
            for ws in sockets:
                await ws.ping(b"still there?")  # a draining connection answers nothing, not even pings
                message = await ws.receive()
                if (
                    message.type == aiohttp.WSMsgType.TEXT
                    and json.loads(message.data)["type"] == "events_api"
                ):
                    message = await ws.receive()  # the one that got the unacked envelope
                assert json.loads(message.data) == {
                    "type": "disconnect",
                    "reason": "refresh_requested",
                    "debug_info": {"host": "local"},
                }
                assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE  # no PONG; closed after the grace

    asyncio.run(main())


def test_socket_faults_and_acks_on_the_right_connection(local_slack):
    async def main():
        async with aiohttp.ClientSession() as session:
            web_client = AsyncWebClient(base_url=local_slack.api_url)

            async def connect() -> aiohttp.ClientWebSocketResponse:
                url = (await web_client.apps_connections_open(app_token=local_slack.app_token))["url"]
                ws = await session.ws_connect(url, autoping=False)
                assert (await ws.receive_json())["type"] == "hello"
                return ws

            reset, closed, silent = [await connect() for _ in range(3)]
            await local_slack.wait_for_socket_async(3)
            assert await asyncio.to_thread(local_slack.socket_fault, "reset") == 1  # the oldest
            assert (await reset.receive()).type == aiohttp.WSMsgType.CLOSED  # the socket broke: no close frame
            assert await asyncio.to_thread(local_slack.socket_fault, "close", 2) == 2
            assert (await closed.receive()).type == aiohttp.WSMsgType.CLOSE
            assert local_slack.socket_connections == 1

            local_slack.silent_notice = 0.5
            assert await asyncio.to_thread(local_slack.socket_fault, "silent") == 3
            assert local_slack.socket_connections == 0  # not live, but Slack still sends to it
            await silent.ping(b"anyone?")
            with pytest.raises(TimeoutError):  # no pong, and no envelope either
                await silent.receive(timeout=0.3)
            with pytest.raises(TimeoutError, match="no ack"):
                await local_slack.socket_send_async("events_api", {"event": {}}, timeout=0.1)
            assert local_slack.socket_envelopes[-1]["connection"] == 3
            await asyncio.sleep(0.5)  # Slack noticed: nothing to send to, and it does not wait for one
            with pytest.raises(TimeoutError, match="no live Socket Mode connection"):
                await local_slack.socket_send_async("slash_commands", {"command": "/tandem"}, timeout=2)

            first, second = await connect(), await connect()

            async def ack_on_the_other_one():
                receiving = {asyncio.ensure_future(ws.receive()): other for ws, other in ((first, second),
                                                                                          (second, first))}
                done, pending = await asyncio.wait(receiving, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                received = done.pop()
                await receiving[received].send_json({"envelope_id": json.loads(received.result().data)["envelope_id"]})

            answer = asyncio.ensure_future(ack_on_the_other_one())
            with pytest.raises(TimeoutError, match="no ack"):  # an ack counts only where the envelope went
                await local_slack.socket_send_async("events_api", {"event": {}}, timeout=0.5)
            await answer
            await first.close()
            await second.close()

    asyncio.run(main())


# -- signed HTTP delivery to a real Bolt app ---------------------------------------------------


def test_signed_payloads_reach_a_bolt_app(local_slack):
    app = AsyncApp(
        client=AsyncWebClient(token=local_slack.bot_token, base_url=local_slack.api_url),
        signing_secret=SECRET,
        process_before_response=True,  # listeners finish before the HTTP answer: no polling
    )
    seen: dict = {}

    @app.command("/tandem")
    async def on_command(ack, body, client, respond):
        await ack(text=f"got {body['text']}")
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        await respond(text="posted by response_url", response_type="in_channel")

    @app.action("approve")
    async def on_approve(ack, body, respond):
        await ack()
        seen["action"] = body["actions"][0]
        await respond(text="approved", replace_original=True)

    @app.view("request_form")
    async def on_submit(ack, view):
        seen["values"] = view["state"]["values"]
        seen["submissions"] = seen.get("submissions", 0) + 1
        await ack(response_action="errors", errors={"title": "Too short"})

    @app.shortcut("quick_request")
    async def on_shortcut(ack, body):
        await ack()
        seen["shortcut"] = body["type"]

    @app.shortcut("file_as_request")
    async def on_message_shortcut(ack, body):
        await ack()
        seen["message_shortcut"] = body["message"]["text"]

    @app.event("app_home_opened")
    async def on_home(event, client, request):
        seen["retry"] = request.headers.get("x-slack-retry-num")
        await client.views_publish(user_id=event["user"], view=HOME)

    server = ServerThread(app.web_app()).start()
    try:
        sender = SlackSender(server.url + "/slack/events", SECRET, local_slack)

        answer = sender.command("/tandem", "new", user_id=BOB)
        assert (answer.status, answer.text) == (200, "got new")
        assert answer.sent["user_name"] == "bob" and answer.sent["channel_name"] == "general"
        (modal,) = local_slack.views[BOB]["modals"]
        assert local_slack.messages(GENERAL)[-1]["text"] == "posted by response_url"

        card = local_slack.add_message(
            GENERAL,
            "",
            user="UBOT",
            blocks=[
                {
                    "type": "actions",
                    "block_id": "decide",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "approve",
                            "value": "req-7",
                            "text": {"type": "plain_text", "text": "Approve"},
                        }
                    ],
                }
            ],
        )
        assert sender.action(ALICE, [action("approve")], message=card).status == 200
        assert seen["action"]["block_id"] == "decide" and seen["action"]["value"] == "req-7"
        assert local_slack.messages(GENERAL)[-1]["text"] == "approved"  # replaced the card

        values = {"title": {"value": state_value("plain_text_input", "Hi")}}
        answer = sender.view_submission(BOB, modal, values)
        assert answer.json() == {"response_action": "errors", "errors": {"title": "Too short"}}
        assert seen["values"]["title"]["value"]["value"] == "Hi"
        replayed = sender.replay(answer)  # byte for byte, signature and all: the verifier lets it in
        assert replayed.raw == answer.raw and replayed.signed_headers == answer.signed_headers
        assert replayed.json() == answer.json() and seen["submissions"] == 2

        assert sender.shortcut("quick_request").status == 200 and seen["shortcut"] == "shortcut"
        human = local_slack.add_message(GENERAL, "please build X", user=CHEN)
        assert sender.message_action("file_as_request", human).status == 200
        assert seen["message_shortcut"] == "please build X"

        first = sender.event(app_home_opened(ALICE))
        assert first.status == 200 and seen["retry"] is None
        sender.event(app_home_opened(ALICE), event_id=first.sent["event_id"], retry_num=1)
        assert seen["retry"] == ["1"]
        assert local_slack.views[ALICE]["home"]["blocks"] == HOME["blocks"]

        # forged and stale requests are refused by Bolt's verifier
        body = json.dumps(event_callback(app_home_opened(ALICE)))
        assert sender.post(body, "application/json", signature="v0=" + "0" * 64).status == 401
        assert sender.post(body, "application/json", timestamp=int(time.time()) - 600).status == 401
    finally:
        server.stop()


def test_a_users_file_downloads_with_the_bot_token_only(local_slack):
    import urllib.request

    upload = local_slack.add_file("dau.csv", b"DAU,2026-11-02,100\n")
    url = upload["url_private_download"]
    with urllib.request.urlopen(urllib.request.Request(
            url, headers={"Authorization": f"Bearer {local_slack.bot_token}"})) as response:
        assert response.read() == b"DAU,2026-11-02,100\n"
    with urllib.request.urlopen(url) as response:  # no token: Slack's sign-in page, not the file
        assert response.headers.get_content_type() == "text/html" and b"Sign in" in response.read()


def test_command_text_is_sent_the_way_the_manifest_escapes_it(local_slack):
    # /approval has should_escape on: a known @name arrives escaped, an unknown one as typed
    sent = slash_command("/approval", "delegate @bob until 2026-12-31 #general @nobody", slack=local_slack)
    assert sent["text"] == "delegate <@U0BOB|bob> until 2026-12-31 <#C0GENERAL|general> @nobody"
    assert slash_command("/approval", "delegate <@U0BOB> until x", slack=local_slack)["text"] == \
        "delegate <@U0BOB|bob> until x"
    # /request has it off: a test that wrote an escaped mention gets what the person typed
    assert slash_command("/request", "list <@U0BOB|bob> <#C0GENERAL>", slack=local_slack)["text"] == \
        "list @bob #general"
    local_slack.escape_overrides["/approval"] = False  # an install made from an older manifest
    assert slash_command("/approval", "delegate <@U0BOB|bob> until x", slack=local_slack)["text"] == \
        "delegate @bob until x"
