"""Standup answers at their limit (2000 characters) made of `<>&`, emoji, RTL, Chinese and combining
characters: the report, its edits, history and stats all stay within Slack's limits (the local Slack
checks each post), shortened visibly where they must be; one character more is refused."""

import logging

import pytest

from tests.requests.test_hostile_text import ALPHABETS, everything_is_valid, hostile
from tests.slack import check_blocks
from tests.standups.conftest import BERLIN, NY, tick
from tests.standups.test_running import answer, report


@pytest.mark.parametrize("alphabet", list(ALPHABETS))
def test_answers_at_their_limit_render_everywhere(sender, slack, tandem, today, caplog, alphabet):
    tick(tandem, today)
    tandem.settle()
    full = hostile(alphabet, 2000)
    assert answer(sender, slack, NY, hostile(alphabet, 2001)).json()["errors"] == {
        "q0": "2001 characters; at most 2000 fit."}
    with caplog.at_level(logging.WARNING):
        assert answer(sender, slack, NY, full, full, full).status == 200
        assert answer(sender, slack, BERLIN, full, full, full).status == 200
        tandem.settle()
        assert report(slack)
        history = sender.command("/standup", "history", user_id=NY).json()
        stats = sender.command("/standup", "stats daily", user_id=NY).json()
    assert check_blocks(history["blocks"]) == [] and check_blocks(stats["blocks"]) == []
    everything_is_valid(slack)
    assert not [r for r in caplog.records if r.name in ("tandem.errors", "tandem.templates")], caplog.text
