"""Outbox keys are stored in the outbox: their formats are a schema, pinned here."""


from models import keys


def test_the_stored_formats_stay_as_they_are():
    card = keys.request_card(7)
    assert card == "request:7:card"
    assert keys.edit(card, 3) == "request:7:card:v3"
    assert keys.request_change(7, 12, "home:U1") == "request:7:event:12:home:U1"
    approval = keys.approval_card(4, 1, "U1")
    assert approval == "approval:4:1:U1:card"
    assert keys.handed_over(approval, "U2") == "approval:4:1:U1:card:to:U2"
    assert keys.handed_over(approval, "U2").startswith(keys.handed_over(approval))
    assert keys.approval_dm(4, "reset:2", "U3") == "approval:4:dm:reset:2:U3"
    assert keys.standup_answer(9, "U1") == "standup:run:9:report:answer:U1"
    assert keys.digest_send(5, "2026-W47", "scheduled") == "digests:5:2026-W47:scheduled"


def test_a_thread_reply_finds_its_request_only_under_a_card():
    assert keys.request_of_card(keys.request_card(42)) == 42
    for other in (keys.edit(keys.request_card(42), 2), keys.request_filed_dm(42), keys.standup_report(42), None, ""):
        assert keys.request_of_card(other) is None
