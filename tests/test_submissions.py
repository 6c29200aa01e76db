"""Modal submissions handled once: the claim, its answer, its release, and every modal using it."""

import asyncio
import re
from datetime import timedelta

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from clock import utcnow
from models import submissions
from models.db import session_scope
from models.submissions import STALE_AFTER, SubmissionKey

VIEW = {"id": "V0FORM", "hash": "1.abc", "state": {"values": {"title": {"value": {"type": "plain_text_input",
                                                                                   "value": "Bulk export"}}}}}


def key(**view) -> SubmissionKey:
    return SubmissionKey.of(team_id="T0TEST", view={**VIEW, **view})


def test_one_claim_per_submission_until_released(engine):
    now = utcnow()
    with session_scope(engine) as session:
        assert submissions.claim(session, key=key(), now=now)
        assert not submissions.claim(session, key=key(), now=now)  # the same again: a replay
        assert submissions.claim(session, key=key(state={"values": {}}), now=now)  # other values: new
        assert submissions.claim(session, key=key(hash="2.def"), now=now)  # the view was updated: new
    with session_scope(engine) as session:
        submissions.remember_answer(session, key=key(), answer={})
        assert submissions.earlier(session, key=key()).answer == {}  # "closed" is an answer, not None
        submissions.release(session, key=key(hash="2.def"))  # inline errors: nothing was changed
        assert submissions.claim(session, key=key(hash="2.def"), now=now)


def test_a_claim_left_unanswered_is_taken_over_once_stale(engine):
    now = utcnow()
    with session_scope(engine) as session:
        assert submissions.claim(session, key=key(), now=now)
        assert not submissions.claim(session, key=key(), now=now + STALE_AFTER - timedelta(seconds=1))
        assert submissions.claim(session, key=key(), now=now + STALE_AFTER + timedelta(seconds=1))
        submissions.remember_answer(session, key=key(), answer={"response_action": "clear"})
        assert not submissions.claim(session, key=key(), now=now + 10 * STALE_AFTER)  # answered: never again
        assert submissions.forget_old(session, now=now + timedelta(days=2)) == 1


def test_every_modal_of_the_app_is_handled_once_per_submission(tandem, repo_root):
    callback_ids = {match for path in (repo_root / "templates").rglob("*.j2")
                    for match in re.findall(r"^callback_id: (\w+)$", path.read_text(), re.MULTILINE)}
    assert len(callback_ids) >= 10

    async def listener_for(callback_id):
        body = {"type": "view_submission", "team": {"id": "T0TEST"}, "user": {"id": "U0ALICE"},
                "view": {**VIEW, "type": "modal", "callback_id": callback_id}}
        request = AsyncBoltRequest(body=body, mode="socket_mode")
        for listener in tandem.tandem.app._async_listeners:  # noqa: SLF001 (Bolt has no public list)
            if await listener.async_matches(req=request, resp=BoltResponse(status=200)):
                return listener.ack_function
        return None

    for callback_id in sorted(callback_ids):
        listener = asyncio.run(listener_for(callback_id))
        assert getattr(listener, "once_per_submission", False), f"{callback_id} is not handled once per submission"
