"""Modal submissions already handled: Slack (or anyone who captured the signed body) may deliver
the same view_submission again within its 5-minute signature window; it must change nothing twice.

A submission is known by its team, view id, view hash and a digest of the submitted values, so a
user who corrects the values after inline errors submits something new. Insert first: the delivery
that inserts the row handles the submission; the others are given its answer once it is stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, select

from models.db import UTCDateTime, insert_once

KEEP_FOR = timedelta(days=1)  # far beyond the 5 minutes a signature is accepted
# A claim still unanswered after this belongs to a delivery that died midway (a listener answers
# within Slack's 3 seconds); a later delivery may take it over rather than be refused for ever.
STALE_AFTER = timedelta(seconds=30)


class HandledSubmission(SQLModel, table=True):
    __tablename__ = "handled_submission"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "view_id", "view_hash", "state_digest", name="uq_handled_submission"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    view_id: str = Field(max_length=32)
    view_hash: str = Field(max_length=64)
    state_digest: str = Field(max_length=64)
    answer: dict | None = Field(default=None, sa_column=sa.Column(sa.JSON(none_as_null=True)))  # the ack; None while handled
    received_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False, index=True))


@dataclass(frozen=True)
class SubmissionKey:
    team_id: str
    view_id: str
    view_hash: str
    state_digest: str

    @classmethod
    def of(cls, *, team_id: str, view: dict) -> SubmissionKey:
        values = json.dumps((view.get("state") or {}).get("values") or {}, sort_keys=True, ensure_ascii=False)
        return cls(team_id=team_id, view_id=view["id"], view_hash=view.get("hash") or "",
                   state_digest=hashlib.sha256(values.encode()).hexdigest())

    def where(self):
        return sa.and_(HandledSubmission.team_id == self.team_id, HandledSubmission.view_id == self.view_id,
                       HandledSubmission.view_hash == self.view_hash,
                       HandledSubmission.state_digest == self.state_digest)


def claim(session: Session, *, key: SubmissionKey, now: datetime) -> bool:
    """True when this delivery is to handle the submission: the first one, or one taking over a
    claim left unanswered for STALE_AFTER (its handler died before answering)."""
    if insert_once(session, HandledSubmission(team_id=key.team_id, view_id=key.view_id, view_hash=key.view_hash,
                                              state_digest=key.state_digest, received_at=now)):
        return True
    taken = session.execute(sa.update(HandledSubmission).where(
        key.where(), HandledSubmission.answer.is_(None), HandledSubmission.received_at < now - STALE_AFTER,
    ).values(received_at=now))
    return taken.rowcount == 1


def earlier(session: Session, *, key: SubmissionKey) -> HandledSubmission | None:
    """The claim of the submission (its answer is None while it is being handled), or None."""
    return session.exec(select(HandledSubmission).where(key.where())).first()


def remember_answer(session: Session, *, key: SubmissionKey, answer: dict) -> None:
    session.execute(sa.update(HandledSubmission).where(key.where()).values(answer=answer))


def release(session: Session, *, key: SubmissionKey) -> None:
    """Forget the claim: the submission changed nothing (inline errors, a failure), so the same
    values may be submitted again and handled again."""
    session.execute(sa.delete(HandledSubmission).where(key.where()))


def forget_old(session: Session, *, now: datetime) -> int:
    return session.execute(sa.delete(HandledSubmission).where(HandledSubmission.received_at < now - KEEP_FOR)).rowcount
