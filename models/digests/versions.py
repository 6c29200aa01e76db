"""Digest templates edited in Slack: every save is a new version, kept for ever; a revert saves an
old version's text again as the newest (so history only grows and says who did what). The digest
uses the version in Digest.template_version; None means its named template (Tandem's default or
a file of the team's directory).

Rules only: whether the text renders is checked by the caller before saving (handlers), against
the last complete period's data, as for a file template."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from models.db import insert_once
from models.digests.digests import may_change
from models.digests.tables import Digest, DigestTemplate
from models.errors import RuleError

MAX_SOURCE = 24_000  # characters: eight modal fields of 3,000 (Slack's limit for one text input)


def current(session: Session, *, digest: Digest) -> DigestTemplate | None:
    """The version the digest uses, None when it uses its named template."""
    if digest.template_version is None:
        return None
    return session.exec(select(DigestTemplate).where(DigestTemplate.digest_id == digest.id,
                                                     DigestTemplate.version == digest.template_version)).first()


def history(session: Session, *, digest: Digest) -> list[DigestTemplate]:
    """Newest first."""
    return list(session.exec(select(DigestTemplate).where(DigestTemplate.digest_id == digest.id)
                             .order_by(DigestTemplate.version.desc())))


def find(session: Session, *, digest: Digest, version: str) -> DigestTemplate:
    number = version.lstrip("vV")
    row = session.exec(select(DigestTemplate).where(DigestTemplate.digest_id == digest.id,
                                                    DigestTemplate.version == int(number))).first() \
        if number.isdigit() and len(number) < 9 else None
    if row is None:
        raise RuleError("digests.no_version", name=digest.name, version=version[:12])
    return row


def check_source(source: str) -> str:
    if not source.strip():
        raise RuleError("digests.template_empty")
    if len(source) > MAX_SOURCE:
        raise RuleError("digests.template_too_long", length=f"{len(source):,}", limit=f"{MAX_SOURCE:,}")
    return source


def save(session: Session, *, digest_id: int, source: str, actor: str, actor_is_admin: bool, now: datetime,
         reverted_from: int | None = None) -> DigestTemplate | None:
    """A new version in use, or None when the text is the one in use already (a resubmitted modal,
    a revert to what is in use): nothing changes then."""
    digest = session.get(Digest, digest_id)
    if digest is None:
        raise RuleError("digests.unknown_digest", name=str(digest_id))
    may_change(digest, actor=actor, actor_is_admin=actor_is_admin)
    check_source(source)
    in_use = current(session, digest=digest)
    if in_use is not None and in_use.source == source:
        return None
    latest = history(session, digest=digest)
    row = DigestTemplate(digest_id=digest.id, team_id=digest.team_id, version=latest[0].version + 1 if latest else 1,
                         source=source, saved_by=actor, reverted_from=reverted_from, saved_at=now)
    if not insert_once(session, row):  # someone saved the same version number a moment ago
        raise RuleError("digests.template_saved_meanwhile", name=digest.name)
    digest.template_version = row.version
    session.add(digest)
    return row
