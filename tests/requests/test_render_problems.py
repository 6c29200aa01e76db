"""A render problem (a template producing what Slack would refuse) never reaches the user as an HTTP
500: the submitted modal gets a modal pushed over it with the reference the log has."""

import logging
import re

from handlers.requests import notify
from templates import RenderError
from tests.requests.conftest import OPS
from tests.requests.test_filing import feature_values, open_and_pick, requests_in_db


def test_a_render_problem_in_a_submitted_modal_is_a_reference_not_a_500(sender, slack, tandem, workspace,
                                                                        monkeypatch, caplog):
    def unrenderable(*args, **kwargs):
        raise RenderError("requests/card.yaml.j2", ["51 blocks in a message, at most 50 allowed [/blocks]"])

    view = open_and_pick(sender, slack, OPS)
    monkeypatch.setattr(notify, "queue_filed", unrenderable)
    with caplog.at_level(logging.ERROR, logger="tandem.errors"):
        response = sender.view_submission(OPS, view, feature_values())
    assert response.status == 200
    answer = response.json()
    assert answer["response_action"] == "push"  # over the form, which keeps what was typed
    text = answer["view"]["blocks"][0]["text"]["text"]
    reference = re.search(r"T-[0-9A-F]{6}", text).group(0)
    assert "Something went wrong on Tandem’s side" in text and "Traceback" not in str(answer)
    assert any(reference in r.getMessage() and r.exc_info[0] is RenderError for r in caplog.records)
    assert requests_in_db(tandem) == []
