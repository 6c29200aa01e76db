"""Titles, fields, labels and reasons made of `<>&`, emoji, RTL, Chinese and combining characters, at
their limit and past it: at the limit everything renders within Slack's limits (the local Slack
refuses what Slack would: the card, the DMs, the thread, the views, all checked there), past it the
form says the limit; and nothing falls back to the error message of an unforeseen failure."""

import logging

import pytest

from localslack.payloads import app_home_opened
from tests.outbox import drained
from tests.requests.conftest import OPS, PM1, TRIAGE, card_of
from tests.requests.test_filing import feature_values, open_and_pick, requests_in_db
from tests.requests.test_triage import card, card_shows, dms, open_reason, submit
from tests.slack import check_blocks

# Each "character" a reader sees; some are several code points (Python's len counts those).
ALPHABETS = {"markup": ["<", ">", "&"], "emoji": ["👍🏽", "🇨🇳", "👨\u200d👩\u200d👧", "🎉"],
             "rtl": list("שלוםعربي"), "chinese": list("需求标题"), "combining": ["e\u0301", "a\u0308", "o\u0302"]}


def hostile(alphabet: str, length: int) -> str:
    """`length` code points of the alphabet's characters (a sequence may be cut at the end)."""
    text = ""
    while len(text) < length:
        text += ALPHABETS[alphabet][len(text) % len(ALPHABETS[alphabet])]
    return text[:length]


def everything_is_valid(slack) -> None:
    sent = [c for c in slack.calls if c.method.startswith(("chat.", "views.")) and c.method != "chat.getPermalink"]
    assert sent and all(c.ok for c in sent), [(c.method, c.response) for c in sent if not c.ok]


@pytest.mark.parametrize("title", [hostile(name, 150) for name in ALPHABETS] + ["<" * 40, "&" * 140 + " title"],
                         ids=[*ALPHABETS, "40 <", "140 &"])
def test_a_title_at_its_limit_is_filed_and_shown_everywhere(sender, slack, tandem, workspace, caplog, title):
    view = open_and_pick(sender, slack, OPS)
    labels = ", ".join(hostile("markup", 29) + str(n) for n in range(6))  # 6 labels of 30, 185 with commas
    with caplog.at_level(logging.WARNING):
        response = sender.view_submission(OPS, view, feature_values(title=title, problem=hostile("markup", 2000),
                                                                    labels=labels))
        assert response.status == 200 and response.text in ("", "{}")
        [request] = requests_in_db(tandem)
        assert request.title == title  # stored as typed
        posted = drained(lambda: slack.messages(TRIAGE), "the card")[0]
        header = posted["blocks"][0]["text"]["text"]
        assert len(header) <= 150 and header.startswith("REQ-1 ")
        shown = sender.command("/request", "show REQ-1", user_id=OPS).json()
        assert check_blocks(shown["blocks"]) == [] and len(shown["blocks"][0]["text"]["text"]) <= 150
        listed = sender.command("/request", "list", user_id=OPS).json()
        assert check_blocks(listed["blocks"]) == []
        sender.event(app_home_opened(OPS))
        tandem.settle()
    everything_is_valid(slack)
    assert drained(lambda: [c for c in slack.calls_to("views.publish") if c.ok], "the Home tab")
    assert not [r for r in caplog.records if r.name in ("tandem.errors", "tandem.templates")], caplog.text


@pytest.mark.parametrize("alphabet", ["markup", "emoji", "combining"])
def test_a_title_past_its_limit_is_refused_with_the_limit(sender, slack, tandem, workspace, alphabet):
    view = open_and_pick(sender, slack, OPS)
    answer = sender.view_submission(OPS, view, feature_values(title=hostile(alphabet, 151))).json()
    assert answer == {"response_action": "errors", "errors": {"title": "151 characters; at most 150 fit."}}
    assert requests_in_db(tandem) == []


def test_a_reason_at_its_limit_reaches_the_card_the_thread_and_the_requester(sender, slack, tandem, workspace,
                                                                            caplog):
    view = open_and_pick(sender, slack, OPS)
    sender.view_submission(OPS, view, feature_values(title=hostile("rtl", 150)))
    [request] = requests_in_db(tandem)
    drained(lambda: card_of(tandem, request), "the card")
    reason_view = open_reason(sender, slack, tandem, request, PM1, "request_decline")
    assert "2000" in submit(sender, slack, PM1, reason_view, "reason", hostile("markup", 2001))["reason"]
    with caplog.at_level(logging.WARNING):
        assert submit(sender, slack, PM1, reason_view, "reason", hostile("markup", 2000)) is None
        card_shows(slack, tandem, request, "Declined")
        dm = drained(lambda: len(dms(slack, OPS)) == 2 and slack.messages(OPS)[1], "the DM")
        tandem.settle()
    assert dm["blocks"][0]["text"]["text"].endswith("…")  # 10,000 characters escaped: shortened, visibly
    assert len(card(slack, tandem, request)["blocks"][0]["text"]["text"]) <= 150
    everything_is_valid(slack)
    assert not [r for r in caplog.records if r.name in ("tandem.errors", "tandem.templates")], caplog.text
