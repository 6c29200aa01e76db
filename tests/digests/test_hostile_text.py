"""Metric names and labels made of `<>&`, emoji, RTL, Chinese and combining characters: names are
refused with what a name may be; labels at their limit (100) and units (20) render in /metric list,
/metric show, the preview and the posted digest within Slack's limits; a longer label is refused
with the limit stated (it used to be cut without a word)."""

import logging

from models.db import session_scope
from models.digests import Digest
from templates import escape_mrkdwn
from tests.digests.conftest import make_digest, reply, seeded_metrics, weeks
from tests.digests.test_digest import posted
from tests.requests.test_hostile_text import ALPHABETS, everything_is_valid, hostile
from tests.slack import check_blocks


def test_hostile_metric_names_are_refused_with_what_a_name_may_be(sender, slack, tandem):
    for name in ("<b>", "&amp;", "需求", "e\u0301", "A" * 33):
        said = reply(sender, slack, "/metric", f"define {name} \"Label\"")["text"]
        assert said == f"`{name.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')}` cannot be a " \
                       "metric name: use letters, digits and _, starting with a letter (at most 32)."


def test_labels_and_units_at_their_limit_render_everywhere_and_longer_ones_are_refused(sender, slack, tandem,
                                                                                         lead, caplog):
    said = reply(sender, slack, "/metric", f"define LONG \"{hostile('markup', 101)}\"")["text"]
    assert said == "That label is 101 characters; at most 100 fit."
    seeded_metrics(tandem.engine, slack.team_id, *weeks())
    for number, alphabet in enumerate(ALPHABETS):
        reply(sender, slack, "/metric", f"define M{number} \"{hostile(alphabet, 100)}\" {hostile(alphabet, 20)}")
    digest = make_digest(tandem.engine, slack.team_id)
    with session_scope(tandem.engine) as session:
        session.get(Digest, digest.id).metrics = ["DAU", *(f"M{n}" for n in range(len(ALPHABETS)))]
    with caplog.at_level(logging.WARNING):
        for text in ("list", "show M0", "show M4"):
            assert check_blocks(reply(sender, slack, "/metric", text)["blocks"]) == []
        preview = reply(sender, slack, "/digest", "preview weekly")
        assert check_blocks(preview["blocks"]) == [] and escape_mrkdwn(hostile("markup", 100))[:30] in str(preview)
        reply(sender, slack, "/digest", "send weekly now")
        posted(slack)
        tandem.settle()
    everything_is_valid(slack)
    assert not [r for r in caplog.records if r.name in ("tandem.errors", "tandem.templates")], caplog.text
