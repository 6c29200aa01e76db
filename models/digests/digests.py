"""Digest rules: save a digest (admins), find one, and record each send exactly once."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from models import keys
from models.db import insert_once
from models.digests.period import CADENCES, Period
from models.digests.tables import SCHEDULED, Digest, DigestSend, DigestTemplate, Metric
from models.errors import RuleError
from models.schedule import schedule_changed

DIGEST_NAME = re.compile(r"^[\w-]{1,40}$")
TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass
class DigestForm:
    name: str
    channel: str | None
    weekday: str
    time: str
    timezone: str
    metrics: list[str]
    thresholds: str  # "DAU=10, NPS=5"
    template: str
    cadence: str = "weekly"


def check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError("digests.bad_zone", given=name[:64]) from None
    return name


def parse_thresholds(text: str, metrics: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """`DAU=10, NPS=5%, CAC target 40` → ({"DAU": 10, "NPS": 5}, {"CAC": 40}): alert past ±N % week
    over week, and a target for this digest instead of the metric's own."""
    changes, targets = {}, {}
    for part in (text or "").replace("\n", ",").split(","):
        words = part.split()
        if not words:
            continue
        try:
            if len(words) == 3 and words[1].lower() == "target":
                name, store, number = words[0], targets, float(words[2])
            elif len(words) == 1 and "=" in words[0]:
                name, value = words[0].split("=", 1)
                store, number = changes, float(value.rstrip("%"))
                if number <= 0:
                    raise ValueError
            else:
                raise ValueError
        except ValueError:
            raise RuleError("digests.bad_thresholds", given=part.strip()[:40]) from None
        if name.upper() not in metrics:
            raise RuleError("digests.bad_thresholds", given=part.strip()[:40])
        store[name.upper()] = number
    return changes, targets


def thresholds_text(digest: Digest) -> str:
    """The thresholds field as a person types it, to edit: `DAU=10, CAC target 40`."""
    parts = [f"{name}={number:g}" for name, number in (digest.thresholds or {}).items()]
    parts += [f"{name} target {number:g}" for name, number in (digest.targets or {}).items()]
    return ", ".join(parts)


def clean(session: Session, *, team_id: str, form: DigestForm) -> Digest:
    """A Digest built from the modal's values, or RuleError naming the first bad field."""
    if not DIGEST_NAME.match(form.name or ""):
        raise RuleError("digests.bad_digest_name", given=(form.name or "")[:40])
    if not form.channel:
        raise RuleError("digests.no_channel")
    if form.cadence not in CADENCES:
        raise RuleError("digests.bad_cadence", given=(form.cadence or "")[:20])
    if not form.weekday.isdigit() or not 0 <= int(form.weekday) <= 6:
        raise RuleError("digests.bad_weekday")
    match = TIME.match((form.time or "").strip())
    if not match:
        raise RuleError("digests.bad_time", given=(form.time or "")[:10])
    known = set(session.exec(select(Metric.name).where(Metric.team_id == team_id)))
    metrics = [m.upper() for m in form.metrics]
    for name in metrics:
        if name not in known:
            raise RuleError("digests.unknown_metric", name=name)
    changes, targets = parse_thresholds(form.thresholds, metrics)
    if not TEMPLATE_NAME.match(form.template or ""):
        raise RuleError("digests.bad_template_name", given=(form.template or "")[:64])
    return Digest(team_id=team_id, name=form.name, channel=form.channel, weekday=int(form.weekday),
                  hour=int(match.group(1)), minute=int(match.group(2)), timezone=check_zone(form.timezone.strip()),
                  metrics=metrics, thresholds=changes, targets=targets, template=form.template, owner="",
                  cadence=form.cadence)


def save_digest(session: Session, *, digest: Digest, actor: str, actor_is_admin: bool, now: datetime) -> Digest:
    if not actor_is_admin:
        raise RuleError("not_admin")
    digest.owner, digest.created_at = actor, now
    if not insert_once(session, digest):
        raise RuleError("digests.digest_exists", name=digest.name)
    schedule_changed(session)
    return digest


EDITABLE = ("name", "channel", "cadence", "weekday", "hour", "minute", "timezone", "metrics", "thresholds", "targets", "template")


def update_digest(session: Session, *, digest_id: int, changed: Digest, actor: str, actor_is_admin: bool) -> Digest:
    """An edit from the modal: the owner or an admin; the name stays unique in the workspace."""
    digest = session.get(Digest, digest_id)
    if digest is None or digest.team_id != changed.team_id:
        raise RuleError("digests.unknown_digest", name=changed.name)
    may_change(digest, actor=actor, actor_is_admin=actor_is_admin)
    clash = session.exec(select(Digest.id).where(Digest.team_id == digest.team_id, Digest.name == changed.name,
                                                 Digest.id != digest.id)).first()
    if clash is not None:
        raise RuleError("digests.digest_exists", name=changed.name)
    if changed.template != digest.template:  # another named template chosen: the Slack-edited one is set aside
        digest.template_version = None
    for field in EDITABLE:
        setattr(digest, field, getattr(changed, field))
    session.add(digest)
    schedule_changed(session)
    return digest


def kept_template(session: Session, *, digest_id: int, template: str) -> str | None:
    """The text of the Slack-edited template an edit keeps (the template's name unchanged), if any."""
    digest = session.get(Digest, digest_id)
    if digest is None or digest.template_version is None or digest.template != template:
        return None
    row = session.exec(select(DigestTemplate).where(DigestTemplate.digest_id == digest_id,
                                                    DigestTemplate.version == digest.template_version)).first()
    return row.source if row else None


def may_change(digest: Digest, *, actor: str, actor_is_admin: bool) -> None:
    if not actor_is_admin and digest.owner != actor:
        raise RuleError("digests.not_owner", name=digest.name)


def set_paused(session: Session, *, digest: Digest, paused: bool) -> None:
    digest.paused = paused
    session.add(digest)
    schedule_changed(session)


def delete_digest(session: Session, *, digest: Digest) -> None:
    """The digest and the record of its sends (the posted messages stay in Slack)."""
    for send in session.exec(select(DigestSend).where(DigestSend.digest_id == digest.id)):
        session.delete(send)
    for version in session.exec(select(DigestTemplate).where(DigestTemplate.digest_id == digest.id)):
        session.delete(version)
    session.flush()
    session.delete(digest)
    schedule_changed(session)


def find_digest(session: Session, *, team_id: str, name: str) -> Digest:
    digest = session.exec(select(Digest).where(Digest.team_id == team_id, Digest.name == name)).first()
    if digest is None:
        raise RuleError("digests.unknown_digest", name=name[:40])
    return digest


def all_digests(session: Session) -> list[Digest]:
    return list(session.exec(select(Digest).order_by(Digest.id)))


def record_send(session: Session, *, digest: Digest, period: Period, kind: str, actor: str | None,
                template_used: str, fell_back: bool, now: datetime, once: bool = False) -> DigestSend | None:
    """Insert the send first. A scheduled send, and a send of `kind` with `once`, has one slot per
    period: None then means it went out already. Others (`--again`) get a slot of their own."""
    slot = SCHEDULED if kind == SCHEDULED else kind if once else f"{kind}:{uuid.uuid4().hex}"
    send = DigestSend(digest_id=digest.id, team_id=digest.team_id, period_start=period.start, period=period.label,
                      slot=slot, kind=kind, sent_by=actor, template_used=template_used, fell_back=fell_back,
                      message_key=keys.digest_send(digest.id, period.label, slot), created_at=now)
    return send if insert_once(session, send) else None


def latest_send(session: Session, *, digest_id: int, period: Period) -> DigestSend | None:
    """The last post of a digest's period, whichever way it was sent."""
    return session.exec(select(DigestSend).where(DigestSend.digest_id == digest_id,
                                                 DigestSend.period == period.label)
                        .order_by(DigestSend.id.desc())).first()
