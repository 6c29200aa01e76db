"""Team templates run under limits (time, output, size of ranges and repetitions, memory), in a child
process: a template that never ends is refused under the template field within the time limit,
and everybody else's commands are answered meanwhile."""

import select as readable
import threading
import time

import pytest
from sqlmodel import select

from handlers.common import rule_error_message
from handlers.digests import rendering
from localslack.payloads import state_value
from models.db import session_scope
from models.digests import Digest
from templates import sandbox
from tests.conftest import wait_until
from tests.digests.conftest import LEAD, make_digest, reply, seeded_metrics, weeks
from tests.digests.test_digest import posted
from tests.digests.test_templates import CONTEXT, team_dir, write  # noqa: F401  (team_dir is a fixture)
from tests.outbox import drained
from tests.slack import ADMIN, GENERAL

FOREVER = 'text: "x"\nblocks: []\n{% for i in range(10000) %}{% for j in range(10000) %}{% if j < 0 %}{{ j }}{% endif %}{% endfor %}{% endfor %}\n'
TOO_MUCH_OUTPUT = 'text: "x"\nblocks: []\n{% for i in range(5000) %}{{ "abcdefghij" }}{% endfor %}\n'
HUGE_REPEAT = 'text: "x"\nblocks:\n  - type: section\n    text: {type: mrkdwn, text: "{{ \'x\' * 10**9 }}"}\n'
HUGE_POWER = 'text: "x"\nblocks: []\n\n{{ 7 ** 100000 }}\n'
HUGE_RANGE = 'text: "{{ range(100000)|length }}"\nblocks: []\n'
HUGE_STRING = "text: \"{{ 'x'|center(10**9) }}\"\nblocks: []\n"


@pytest.fixture(scope="module", autouse=True)
def child_started():
    sandbox.start_in_background()  # what the bot does when DIGEST_TEMPLATES_DIR is set


@pytest.mark.parametrize(("source", "limit", "line"), [
    (FOREVER, "time", None), (TOO_MUCH_OUTPUT, "output", None), (HUGE_REPEAT, "size", 4),
    (HUGE_POWER, "size", 4), (HUGE_RANGE, "size", 1), (HUGE_STRING, "memory", None),
])
def test_each_limit_stops_a_team_template_in_time(tmp_path, source, limit, line):
    write(tmp_path, "team", source)
    started = time.monotonic()
    with pytest.raises(rendering.TemplateProblem) as stopped:
        rendering.render(str(tmp_path), "team", language="en", context=CONTEXT)
    assert (stopped.value.limit, stopped.value.line) == (limit, line)
    assert time.monotonic() - started < sandbox.TIME_LIMIT + 3.0  # a child's start-up is not on the clock


def test_what_stays_within_the_limits_renders(tmp_path):
    write(tmp_path, "team", 'text: "{{ "x" * 100 }} {{ 2 ** 64 }} {{ range(10000)|length }}"\nblocks: []\n')
    [message] = rendering.render(str(tmp_path), "team", language="en", context=CONTEXT)
    assert message["text"] == "x" * 100 + " 18446744073709551616 10000"


@pytest.mark.parametrize(("limit", "en", "zh"), [
    ("time", "Template team was stopped after 2 seconds: it takes too long to render", "模板 team 运行 2 秒后被停止"),
    ("output", "Template team was stopped: its output passed 40,000 characters.", "输出超过了 40,000 个字符"),
    ("size", "stopped at line 3: a value grew too large (a range may hold 10,000 items, repeated text 40,000",
     "range 最多 10,000 项"),
    ("memory", "more than the 256 MB of memory a template may use", "超过了模板可用的 256 MB"),
])
def test_the_refusal_names_the_limit_in_both_languages(limit, en, zh):
    problem = rendering.TemplateProblem("team", 3 if limit == "size" else None, "stopped", limit=limit)
    assert en in rule_error_message(problem.refusal(), language="en")["text"]
    assert zh in rule_error_message(problem.refusal(), language="zh_CN")["text"]


def test_saving_a_template_that_never_ends_is_refused_while_everybody_else_is_answered(
        sender, slack, tandem, lead, team_dir):  # noqa: F811
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    write(team_dir, "forever", FOREVER)
    # As in a running bot, the child that will render is ready by the time someone saves (its start-up
    # is not on the 2 s clock, but it is on Slack's 3 s one).
    sandbox.start_in_background()
    assert readable.select([sandbox._spare.stdout], [], [], 20)[0]
    sender.command("/digest", "new leadership", user_id=ADMIN, channel_id=GENERAL)
    view = wait_until(lambda: ((slack.views.get(ADMIN) or {}).get("modals") or [None])[-1], message="the modal")
    values = {"name": "leadership", "channel": LEAD, "weekday": "0", "time": "09:30", "timezone": "UTC",
              "metrics": ["DAU"], "thresholds": "", "template": "forever"}
    kinds = {"channel": "conversations_select", "weekday": "static_select", "metrics": "multi_static_select"}
    state = {k: {k: state_value(kinds.get(k, "plain_text_input"), v)} for k, v in values.items()}

    acks, done = [], threading.Event()

    def others():  # people who never saw the digest: each asks for help, needing a lookup and the database
        for n in range(1000):
            if done.is_set():
                return
            user = f"UOTHER{n}"
            slack.add_user(user, locale="en-US")
            started = time.monotonic()
            assert tandem.sender(slack).command("/tandem", "help", user_id=user).status == 200
            acks.append(time.monotonic() - started)
            time.sleep(0.05)

    meanwhile = threading.Thread(target=others)
    meanwhile.start()
    try:
        started = time.monotonic()
        response = sender.view_submission(ADMIN, view, state)
        took = time.monotonic() - started
    finally:
        done.set()
        meanwhile.join(10)
    assert response.json()["errors"]["template"].startswith("Template forever was stopped after 2 seconds")
    assert took < 3.0  # within Slack's wait for the modal's acknowledgement
    assert len(acks) >= 3 and max(acks) < 1.0, acks
    with session_scope(tandem.engine) as session:
        assert session.exec(select(Digest)).all() == []


def test_a_template_stopped_when_the_digest_is_due_falls_back_and_tells_the_owner(
        sender, slack, tandem, lead, team_dir):  # noqa: F811
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    write(team_dir, "big", 'text: "x"\nblocks: []\n')
    make_digest(tandem.engine, slack.team_id, template="big")
    write(team_dir, "big", TOO_MUCH_OUTPUT)  # edited after it was saved
    reply(sender, slack, "/digest", "send weekly now")
    [message] = posted(slack)
    assert "*Business metrics*" in message["blocks"][2]["text"]["text"]  # the default's layout
    told = drained(lambda: slack.messages(slack.dm_channel_of(ADMIN)), "the owner's DM")[0]
    assert told["text"] == ("Template big was stopped: its output passed 40,000 characters. This digest weekly "
                            "used Tandem's default template; fix the template and check it with "
                            "`/digest template check weekly`.")
