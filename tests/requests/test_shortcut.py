"""The "Turn into request" message shortcut with a message longer than the form holds: what fits is
filled in, and the modal says it was shortened and where the full message is."""

import json
from datetime import UTC, datetime

from localslack.payloads import state_value
from models.requests.forms import LIMITS
from templates.blockkit import check_view
from tests.requests.conftest import OPS, OPS_ZH
from tests.requests.test_filing import opened_modal, requests_in_db, text

LONG = "The checkout flow drops the coupon when the user switches the currency. " * 232  # 16,704 characters


def shortcut_on(sender, slack, text_, user=OPS):
    slack.add_message("C0GENERAL", text_, user=OPS)
    message = slack.messages("C0GENERAL")[-1]
    sender.message_action("request_from_message", message, "C0GENERAL", user_id=user)
    return opened_modal(slack, user)


def notice_of(view) -> str:
    return view["blocks"][0]["elements"][0]["text"]


def details_of(view) -> str:
    return next(b for b in view["blocks"] if b.get("block_id") == "details")["element"]["initial_value"]


def test_a_long_message_is_prefilled_as_far_as_it_fits_and_the_modal_says_so(sender, slack, tandem, workspace):
    view = shortcut_on(sender, slack, LONG)
    assert check_view(view) == []
    assert details_of(view) == LONG[:LIMITS["details"]]
    notice = notice_of(view)
    assert notice.startswith(f":scissors: The message has {len(LONG):,} characters; the first 2,000 are filled in")
    permalink = slack.calls_to("chat.getPermalink")[0].response["permalink"]
    assert f"<{permalink}|Open the full message>" in notice
    # The note stays when the kind changes, and the request is filed with the message's link.
    sender.action(OPS, [{"action_id": "request_kind", "block_id": "kind", "type": "static_select",
                         "selected_option": {"value": "feature", "text": {"type": "plain_text", "text": "f"}}}],
                  view=view)
    view = slack.view(view["id"])
    assert notice_of(view) == notice
    values = {"title": {"value": text("Coupon lost")}, "problem": {"value": text(LONG[:2000])},
              "user_story": {"value": text("As a buyer")}, "expected_value": {"value": text("Fewer tickets")},
              "kind": {"request_kind": state_value("static_select", "feature")}}
    assert sender.view_submission(OPS, view, values).status == 200
    assert requests_in_db(tandem)[0].source_permalink == permalink


def test_quotes_and_line_breaks_count_twice_in_the_metadata(sender, slack, workspace):
    view = shortcut_on(sender, slack, '"\n' * 1500)
    assert check_view(view) == []  # private_metadata within its 3000 characters
    kept = details_of(view)
    assert 1350 < len(kept) < 1500 and kept.startswith("\"\n\"")
    assert len(view["private_metadata"]) <= 3000
    assert json.loads(view["private_metadata"])["prefill"] == kept
    assert f"the first {len(kept):,} are filled in" in notice_of(view)


def test_a_slow_permalink_does_not_cost_the_trigger_and_the_modal_names_the_channel(sender, slack, workspace):
    slack.fail_next("chat.getPermalink", delay=3.5)  # longer than the trigger_id lives
    started = datetime.now(UTC)
    view = shortcut_on(sender, slack, LONG, user=OPS_ZH)
    assert (datetime.now(UTC) - started).total_seconds() < 3
    assert "完整消息仍在 <#C0GENERAL> 中。" in notice_of(view)
    assert notice_of(view).startswith(f":scissors: 原消息有 {len(LONG):,} 个字符")


def test_a_message_that_fits_has_no_note(sender, slack, workspace):
    view = shortcut_on(sender, slack, "Checkout button is broken on iOS")
    assert details_of(view) == "Checkout button is broken on iOS"
    assert not any(":scissors:" in str(b) for b in view["blocks"])
