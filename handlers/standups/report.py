"""The day's report: one parent message in the report channel, edited in place.

The parent is posted once (models/keys.py: standup_report); every later change queues a
chat.update by reference under a new version key. Above 20 participants each person's
answers go in the thread (one reply per person, edited in place on a change).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

import templates
from delivery import REF, THREAD
from handlers.common import Services
from models import keys
from models.standups import Standup, StandupAnswer, StandupRun
from models.standups.answers import report_state


def lock_run(session: Session, run_id: int) -> StandupRun | None:
    """The run, locked for this transaction (PostgreSQL; SQLite's write lock serialises already)."""
    return session.exec(select(StandupRun).where(StandupRun.id == run_id).with_for_update()).first()


def queue_report(services: Services, session: Session, *, standup: Standup, run: StandupRun, now: datetime,
                 changed_user: str | None = None) -> None:
    """Post the report, or edit it to what the tables hold now (call with the run locked)."""
    state = report_state(session, standup=standup, run=run)
    language = services.workspace(session, run.team_id).language
    message = templates.render("standups/report.yaml.j2", language=language, r=state)
    queue, key = services.delivery.queue, keys.standup_report(run.id)
    args = dict(team_id=run.team_id, now=now, text=message["text"], blocks=message["blocks"])
    run.report_version += 1
    session.add(run)
    if not queue(session, key=key, method="chat.postMessage", channel=standup.channel, unfurl_links=False, **args):
        queue(session, key=keys.edit(key, run.report_version), method="chat.update", **{REF: key}, **args)
    if state["threaded"] and changed_user:
        _queue_reply(services, session, standup=standup, run=run, user_id=changed_user, language=language,
                     state=state, now=now)


def _queue_reply(services: Services, session: Session, *, standup: Standup, run: StandupRun, user_id: str,
                 language: str, state: dict, now: datetime) -> None:
    answer = session.exec(select(StandupAnswer).where(StandupAnswer.run_id == run.id,
                                                      StandupAnswer.user_id == user_id)).first()
    if answer is None or answer.status != "answered":
        return
    entry = next(e for e in state["entries"] if e["user"] == user_id)
    reply = templates.render("standups/answer_reply.yaml.j2", language=language, e=entry,
                             questions=state["questions"])
    key = keys.standup_answer(run.id, user_id)
    queue = services.delivery.queue
    args = dict(team_id=run.team_id, now=now, text=reply["text"], blocks=reply["blocks"])
    if not queue(session, key=key, method="chat.postMessage", **{THREAD: keys.standup_report(run.id)}, **args):
        queue(session, key=keys.edit(key, run.report_version), method="chat.update", **{REF: key}, **args)
