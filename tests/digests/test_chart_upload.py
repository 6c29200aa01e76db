"""The chart inside the digest message when Slack misbehaves: an upload refused (text only), the
reply of completeUploadExternal or of the post lost (one file, one message), Slack still processing
the file past our patience (text only), and the words of the chart in Chinese."""

from handlers.digests import chart_upload
from models.db import session_scope
from models.digests.week import week_label
from tests.digests.conftest import LEAD, make_digest, reply, seeded_metrics, weeks
from tests.digests.test_digest import chart_of, posted


def send_now(sender, slack, tandem) -> dict:
    previous, last = weeks()
    seeded_metrics(tandem.engine, slack.team_id, previous, last)
    make_digest(tandem.engine, slack.team_id)
    reply(sender, slack, "/digest", "send weekly now")
    [message] = posted(slack)
    tandem.settle()
    assert len(slack.messages(LEAD)) == 1
    return message


def test_a_refused_upload_leaves_a_text_only_digest(sender, slack, tandem, lead):
    slack.fail_next("files.getUploadURLExternal", status=500)
    message = send_now(sender, slack, tandem)
    assert "▲ +20 (+18.2%)" in str(message["blocks"]) and all(b["type"] != "image" for b in message["blocks"])
    assert not [f for f in slack.files if f.completed]


def test_a_lost_reply_of_complete_upload_does_not_upload_twice(sender, slack, tandem, lead):
    slack.fail_next("files.completeUploadExternal", when="after", fault="reset")
    message = send_now(sender, slack, tandem)
    chart = chart_of(slack, message)  # files.info told that the lost call had completed it
    assert [f.id for f in slack.files] == [chart.id] and len(slack.calls_to("files.completeUploadExternal")) == 1


def test_a_lost_reply_of_the_post_posts_once_with_one_chart(sender, slack, tandem, lead):
    slack.fail_next("chat.postMessage", when="after", status=503)
    message = send_now(sender, slack, tandem)
    assert [f.id for f in slack.files] == [chart_of(slack, message).id]
    assert len(slack.calls_to("chat.postMessage")) >= 1 and len(slack.calls_to("files.getUploadURLExternal")) == 1


def test_a_file_slack_is_still_processing_is_not_waited_for_forever(sender, slack, tandem, lead, monkeypatch):
    monkeypatch.setattr(chart_upload, "READY_CHECKS", (0.01, 0.01))
    slack.file_processing_checks = 10  # still processing after every check we make
    message = send_now(sender, slack, tandem)
    assert all(b["type"] != "image" for b in message["blocks"])  # text only rather than refused as invalid_blocks
    assert len(slack.calls_to("files.info")) == 3


def test_the_chart_speaks_chinese(sender, slack, tandem, lead):
    with session_scope(tandem.engine) as session:
        workspace = tandem.services.workspace(session, slack.team_id)
        workspace.language = "zh_CN"
        session.add(workspace)
    message = send_now(sender, slack, tandem)
    image = message["blocks"][-1]
    assert image["title"]["text"] == f"关键指标（截至 {week_label(weeks()[1])}）"
    assert image["alt_text"] == "关键指标近几个周期的折线图"
    assert chart_of(slack, message).title == image["title"]["text"]


def test_a_chart_slack_cannot_show_when_the_post_goes_out_is_left_out(sender, slack, tandem, lead, monkeypatch):
    """Slack said the file was ready, then could not show it when the post went (processing again,
    deleted): the message would be refused as invalid_blocks for good; it goes out as text only."""
    monkeypatch.setattr(chart_upload, "_ready", lambda services, file_id: True)
    slack.file_processing_checks = 10
    message = send_now(sender, slack, tandem)
    assert all(b["type"] != "image" for b in message["blocks"]) and "▲ +20 (+18.2%)" in str(message["blocks"])
    assert not [c for c in slack.calls_to("chat.postMessage") if c.response.get("error") == "invalid_blocks"]
