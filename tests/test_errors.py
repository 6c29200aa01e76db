"""What no rule foresaw: the user sees a translated message with a reference; the log has the
traceback under the same reference."""

import logging
import re

import handlers.help


def test_unexpected_error_shows_a_reference_that_is_in_the_log(sender, slack, monkeypatch, caplog):
    slack.add_user("UZH", locale="zh-CN")

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug nobody foresaw")

    monkeypatch.setattr(handlers.help, "tandem_reply", broken)  # fault injection into the real app
    with caplog.at_level(logging.ERROR, logger="tandem.errors"):
        response = sender.command("/tandem", "help", user_id="UZH")
    assert response.status == 200  # not acknowledged yet: the acknowledgement carries the message
    text = response.json()["text"]
    reference = re.search(r"T-[0-9A-F]{6}", text).group(0)
    assert "Tandem 出现内部错误" in text
    record = next(r for r in caplog.records if reference in r.getMessage())
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError

