"""Every modal submission handled once: a replayed view_submission gets the first one's answer.

Slack may deliver the same signed view_submission again, and so may anyone who captured it,
within the 5 minutes the signature is accepted. `once_per_submission` wraps every view
submission listener (handlers.listeners.ack_with, the one shape they are written in), so each
modal that creates or changes something does it once, whatever the modal. See
models/submissions.py for the key.
"""

from __future__ import annotations

import asyncio
import logging
import time

from clock import utcnow
from models import submissions
from models.db import session_scope
from models.submissions import SubmissionKey

log = logging.getLogger("tandem.submissions")
WAIT_FOR_FIRST = 2.5  # seconds a duplicate waits for the first delivery's answer (Slack waits 3 for the ack)


def once_per_submission(services, listener):
    """`listener(ack, body)` runs for the first delivery of a submission only. Its answer is stored
    before it reaches Slack, and a later delivery of the same submission gets that answer. An answer
    with inline errors, or a listener that fails before answering, leaves nothing stored: nothing
    was changed, and the user may submit the same values again (after inviting the bot, say)."""

    async def guarded(ack, body):
        key = SubmissionKey.of(team_id=body["team"]["id"], view=body["view"])
        if not await services.in_thread(_claim, services, key):
            answer = await _answer_of_first(services, key)
            if answer is not None:
                log.info("view %s submitted again; answering as the first time", key.view_id)
                await ack(**answer)
                return
        answered = False

        async def remembering_ack(**answer):
            nonlocal answered
            answered = True
            keep = answer.get("response_action") != "errors"
            await services.in_thread(_settle, services, key, answer if keep else None)
            await ack(**answer)

        try:
            await listener(ack=remembering_ack, body=body)
        finally:
            if not answered:
                await services.in_thread(_settle, services, key, None)

    guarded.once_per_submission = True  # tests check that every modal's listener has it
    return guarded


async def _answer_of_first(services, key: SubmissionKey) -> dict | None:
    """The first delivery's answer, waiting while it is being handled; None when it left nothing
    (so this delivery handles it). Still unanswered after WAIT_FOR_FIRST: an empty ack, which
    changes nothing (Slack heeds one answer per submission)."""
    deadline = time.monotonic() + WAIT_FOR_FIRST
    while True:
        first = await services.in_thread(_earlier, services, key)
        if first is None:
            return None if await services.in_thread(_claim, services, key) else {}
        if first.answer is not None:
            return first.answer
        if time.monotonic() > deadline:
            return {}
        await asyncio.sleep(0.05)


def _claim(services, key: SubmissionKey) -> bool:
    with session_scope(services.engine) as session:
        return submissions.claim(session, key=key, now=utcnow())


def _earlier(services, key: SubmissionKey):
    with session_scope(services.engine) as session:
        return submissions.earlier(session, key=key)


def _settle(services, key: SubmissionKey, answer: dict | None) -> None:
    """Store the answer for later deliveries, or (None) release the claim."""
    with session_scope(services.engine) as session:
        if answer is None:
            submissions.release(session, key=key)
        else:
            submissions.remember_answer(session, key=key, answer=answer)
