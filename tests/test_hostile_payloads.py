"""Every kind of listener (slash command, block action, view submission, shortcut, message shortcut,
event) sent generated malformed and hostile payloads, signed, over HTTP to the real app.

Malformed ones (tests/hostile.py: a field Slack always sends missing or of the wrong type, an id
that is no id, metadata that is not JSON, a body that is no payload at all) are answered 4xx with
one short log line, and change no row and call no Slack method. Hostile ones are well formed but
carry text made to break things (`<!channel>`, `&`, quotes, RTL, emoji, NUL): whatever they ask,
the answer is never a 5xx and nobody is shown a traceback.
"""

import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SIGNING_SECRET
from tests.hostile import HOSTILE_TEXT, base, encode, malformed, signed, snapshot

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@EXAMPLES
@given(data=st.data())
def test_malformed_payloads_are_refused_with_one_log_line_and_change_nothing(data, sender, slack, tandem, caplog):
    kind, body, content_type = data.draw(malformed(slack))
    before, calls = snapshot(tandem.engine), len(slack.calls)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = sender.post(body, content_type, **signed(SIGNING_SECRET, body))
    assert 400 <= response.status < 500, (kind, body[:300], response.status)
    assert "Traceback" not in response.text and len(response.text) < 300
    assert [r.name for r in caplog.records] == ["tandem.inbound"], [r.getMessage()[:200] for r in caplog.records]
    assert len(caplog.records[0].getMessage()) < 400 and not caplog.records[0].exc_info
    assert snapshot(tandem.engine) == before and len(slack.calls) == calls


COMMANDS = ["/request list", "/request show", "/request edit", "/request export", "/standup history",
            "/standup away", "/standup stats", "/metric record", "/metric define", "/metric show", "/digest preview",
            "/digest resend", "/approval delegate", "/approval show", "/tandem language", "/tandem"]


@st.composite
def hostile(draw, slack) -> tuple[str, dict]:
    """A payload of each kind, well formed, with hostile text where people (or forgers) write."""
    kind = draw(st.sampled_from(["command", "block_actions", "view_submission", "message_action", "event"]))
    payload = base(kind, slack)
    text = draw(HOSTILE_TEXT)
    if kind == "command":
        payload["command"], _, first = draw(st.sampled_from(COMMANDS)).partition(" ")
        payload["text"] = f"{first} {text}"
    elif kind == "block_actions":
        action = draw(st.sampled_from(["request_accept", "request_edit", "request_decline", "request_list_older",
                                       "standup_fill", "approval_approve", "request_new_from_home"]))
        payload["actions"][0].update(action_id=action, value=text)
    elif kind == "view_submission":
        payload["view"]["callback_id"] = draw(st.sampled_from(["request_form", "request_reason", "approval_reason",
                                                                "standup_answer", "digest_new", "metric_import"]))
        payload["view"]["state"]["values"]["title"]["value"]["value"] = text
    elif kind == "message_action":
        payload["message"]["text"] = text
    else:
        payload["event"]["tab"] = text
    return kind, payload


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_text_never_gets_a_5xx_nor_shows_a_traceback(data, sender, slack, tandem):
    kind, payload = data.draw(hostile(slack))
    response = sender.post(*encode(kind, payload))
    assert response.status < 500, (kind, payload)
    tandem.settle()
    shown = [response.text, str(slack.responses(payload.get("response_url") or "none")),
             *map(str, slack.ephemerals), *map(str, slack.views.values()), *(str(call.args) for call in slack.calls)]
    assert not [s for s in shown if "Traceback" in s or 'File "' in s]
