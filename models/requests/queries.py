"""Finding requests: filters, keyset pages, counts, the timeline, export and overdue lists.

Pages are keyset-paginated on the per-workspace number (newest first) over composite indexes,
so a page costs the same with a thousand requests or a hundred thousand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from models.errors import RuleError
from models.requests.tables import (
    KINDS,
    OPEN_STATUSES,
    STATUSES,
    Request,
    RequestComment,
    RequestEvent,
    RequestLabel,
)

PAGE_SIZE = 10
REF_PATTERN = re.compile(r"^(?:REQ-?)?(\d{1,9})$", re.IGNORECASE)


@dataclass(frozen=True)
class Filters:
    mine: bool = False
    assigned: bool = False
    open: bool = False
    statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def as_text(self) -> str:
        words = [w for w, on in (("mine", self.mine), ("assigned", self.assigned), ("open", self.open)) if on]
        words += [f"status:{s}" for s in self.statuses] + [f"kind:{k}" for k in self.kinds]
        return " ".join(words + [f"label:{label}" for label in self.labels])


def parse_ref(text: str) -> int:
    match = REF_PATTERN.match((text or "").strip())
    if not match:
        raise RuleError("requests.bad_ref", given=(text or "").strip()[:40])
    return int(match.group(1))


def parse_filters(words: list[str]) -> Filters:
    values: dict = {"statuses": [], "kinds": [], "labels": []}
    flags = {"mine": False, "assigned": False, "open": False}
    for word in words:
        lowered = word.lower()
        if lowered in flags:
            flags[lowered] = True
            continue
        name, _, value = lowered.partition(":")
        if name == "status" and value in STATUSES:
            values["statuses"].append(value)
        elif name == "kind" and value in KINDS:
            values["kinds"].append(value)
        elif name == "label" and value:
            values["labels"].append(value.lstrip("#"))
        else:
            raise RuleError("requests.bad_filter", given=word[:40])
    return Filters(**flags, **{k: tuple(v) for k, v in values.items()})


def _where(query, *, team_id: str, user_id: str, filters: Filters):
    query = query.where(Request.team_id == team_id)
    if filters.mine:
        query = query.where(Request.requester == user_id)
    if filters.assigned:
        query = query.where(Request.assignee == user_id)
    statuses = allowed_statuses(filters)
    if statuses is not None:
        query = query.where(Request.status.in_(statuses) if statuses else sa.false())
    if filters.kinds:
        query = query.where(Request.kind.in_(filters.kinds))
    for label in filters.labels:
        query = query.where(sa.exists().where(RequestLabel.request_id == Request.id, RequestLabel.label == label))
    return query


@dataclass
class Page:
    items: list[Request]
    has_newer: bool
    has_older: bool
    filters: Filters = field(default_factory=Filters)


def list_page(session: Session, *, team_id: str, user_id: str, filters: Filters, before: int | None = None,
              after: int | None = None, size: int = PAGE_SIZE) -> Page:
    """One page, newest first. `before`: older than that number; `after`: newer than it."""
    statuses = allowed_statuses(filters)
    # The status condition is added per status by _ordered, so each reads one index range.
    query = _where(select(Request), team_id=team_id, user_id=user_id,
                   filters=replace(filters, open=False, statuses=()))
    if after is not None:
        rows = _ordered(session, query.where(Request.number > after), statuses, newest_first=False, limit=size + 1)
        has_newer, rows = len(rows) > size, rows[:size]
        rows.reverse()
        has_older = bool(rows) and bool(_ordered(session, query.where(Request.number < rows[-1].number), statuses,
                                                 newest_first=True, limit=1))
        return Page(rows, has_newer, has_older, filters)
    query_page = query.where(Request.number < before) if before is not None else query
    rows = _ordered(session, query_page, statuses, newest_first=True, limit=size + 1)
    has_older, rows = len(rows) > size, rows[:size]
    has_newer = before is not None and bool(rows) and bool(
        _ordered(session, query.where(Request.number > rows[0].number), statuses, newest_first=False, limit=1))
    return Page(rows, has_newer, has_older, filters)


def allowed_statuses(filters: Filters) -> tuple[str, ...] | None:
    """The statuses `open` and `status:` leave (both: the statuses in both), or None: any status."""
    allowed = set(OPEN_STATUSES) if filters.open else None
    if filters.statuses:
        allowed = set(filters.statuses) if allowed is None else allowed & set(filters.statuses)
    return None if allowed is None else tuple(s for s in STATUSES if s in allowed)


def _ordered(session: Session, query, statuses: tuple[str, ...] | None, *, newest_first: bool,
             limit: int) -> list[Request]:
    """The first `limit` rows of `query` (which has no status condition) by number, in `statuses`.

    With several statuses, each status is read on its own (team_id, [requester|assignee,] status,
    number) index range and only the first `limit` of each are merged: the cost follows the page
    size, not how many requests there are or how rare the wanted statuses are among them.
    """
    order = Request.number.desc() if newest_first else Request.number.asc()
    if statuses is not None and not statuses:
        return []
    if statuses is None or len(statuses) == 1:
        query = query if statuses is None else query.where(Request.status == statuses[0])
        return list(session.exec(query.order_by(order).limit(limit)))
    parts = [query.with_only_columns(Request.id).where(Request.status == status).order_by(order).limit(limit)
             .subquery() for status in statuses]
    ids = sa.union_all(*(select(part.c.id) for part in parts)).subquery()
    return list(session.exec(select(Request).where(Request.id.in_(select(ids.c.id))).order_by(order).limit(limit)))


def count(session: Session, *, team_id: str, user_id: str, filters: Filters) -> int:
    query = _where(select(sa.func.count()).select_from(Request), team_id=team_id, user_id=user_id, filters=filters)
    return session.exec(query).one()


def timeline(session: Session, *, request_id: int) -> list[RequestEvent | RequestComment]:
    events = list(session.exec(select(RequestEvent).where(RequestEvent.request_id == request_id)
                               .order_by(RequestEvent.id)))
    comments = list(session.exec(select(RequestComment).where(RequestComment.request_id == request_id)
                                 .order_by(RequestComment.id)))
    # At the same moment a comment comes first: the requester's reply is what moved need_info back.
    return sorted(events + comments, key=lambda item: (item.created_at, isinstance(item, RequestEvent)))


def export_rows(session: Session, *, team_id: str, user_id: str, filters: Filters, chunk: int = 1000):
    """All matching requests, oldest first, streamed in chunks."""
    last = 0
    while True:
        rows = export_chunk(session, team_id=team_id, user_id=user_id, filters=filters, after=last, size=chunk)
        if not rows:
            return
        yield from rows
        last = rows[-1].number


def export_chunk(session: Session, *, team_id: str, user_id: str, filters: Filters, after: int = 0,
                 size: int = 1000) -> list[Request]:
    """The next `size` matching requests numbered above `after`, oldest first. A caller may read
    each chunk in its own transaction, so a long export never holds one open."""
    query = _where(select(Request), team_id=team_id, user_id=user_id, filters=filters)
    return list(session.exec(query.where(Request.number > after).order_by(Request.number).limit(size)))


def untriaged_before(session: Session, *, team_id: str, cutoff: datetime, limit: int = 20) -> tuple[list[Request], int]:
    """New requests filed before `cutoff`, oldest first (up to `limit`), and how many there are."""
    where = (Request.team_id == team_id, Request.status == "new", Request.created_at < cutoff)
    rows = list(session.exec(select(Request).where(*where).order_by(Request.number).limit(limit)))
    total = session.exec(select(sa.func.count()).select_from(Request).where(*where)).one()
    return rows, total
