"""Posting a digest: compute the week, render the team's template (or the default when it
breaks, telling the owner), queue the messages in the outbox under the send's key, then put
the chart into the digest's thread. A scheduled send happens once per (digest, week)."""

from __future__ import annotations

import logging
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from slack_sdk.errors import SlackApiError
from sqlmodel import select

import templates
from delivery import THREAD
from handlers.common import Services, rule_error_message
from handlers.digests import chart, rendering
from handlers.digests import words as wording
from models import keys
from models.db import session_scope
from models.digests import SCHEDULED, Digest, DigestSend, digests, week
from models.outbox import message_ref
from scheduler import Job

log = logging.getLogger("tandem.digests")
POST_WAIT = 20.0  # seconds the chart waits for its digest to be posted
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def team_dir(services: Services) -> str:
    return services.settings.digest_templates_dir or ""


def render_for(services: Services, digest: Digest, context: dict, language: str):
    """(messages, template used, the problem that made it fall back or None)."""
    try:
        return rendering.render(team_dir(services), digest.template, language=language, context=context), \
            digest.template, None
    except rendering.TemplateProblem as problem:
        if digest.template == rendering.DEFAULT:
            raise
        log.warning("digest %s: template %s broke (%s); using the default", digest.name, digest.template, problem)
        messages = rendering.render("", rendering.DEFAULT, language=language, context=context)
        return messages, rendering.DEFAULT, problem


def preview(services: Services, *, team_id: str, name: str, monday: date | None, language: str, now: datetime):
    with session_scope(services.engine) as session:
        digest = digests.find_digest(session, team_id=team_id, name=name)
        monday = monday or week.last_complete_week(now, ZoneInfo(digest.timezone))
        context = wording.digest_context(week.compute(session, digest=digest, monday=monday), language=language,
                                       currency=wording.currency_of(services, session, team_id))
    return rendering.render(team_dir(services), digest.template, language=language, context=context)


def send(services: Services, *, digest_id: int, monday: date, kind: str, actor: str | None,
         now: datetime, once: bool = False) -> DigestSend | None:
    """Queue the digest for the week starting `monday`; None if this scheduled send (or this `once`
    send: a plain resend) was done before.

    The send's row and its messages are written in one transaction (the outbox sends them after
    commit); the chart follows outside it, into the posted digest's thread."""
    with session_scope(services.engine) as session:
        digest = session.get(Digest, digest_id)
        if digest is None or (kind == SCHEDULED and digest.paused):  # deleted or paused since it was scheduled
            return None
        language = services.workspace(session, digest.team_id).language
        context = wording.digest_context(week.compute(session, digest=digest, monday=monday, backfill=kind == "resend"),
                                       language=language, currency=wording.currency_of(services, session, digest.team_id))
        messages, used, problem = render_for(services, digest, context, language)
        record = digests.record_send(session, digest=digest, period_start=monday, kind=kind, actor=actor,
                                     template_used=used, fell_back=problem is not None, now=now, once=once)
        if record is None and kind == SCHEDULED:  # sent before; a run resumed after a crash may still owe the chart
            owed = session.exec(select(DigestSend).where(
                DigestSend.digest_id == digest.id, DigestSend.period_start == monday, DigestSend.slot == SCHEDULED,
                DigestSend.chart_uploaded.is_(False))).first()
        elif record is None:
            owed = None
        else:
            owed = record
            queue_messages(services, session, digest, record, messages, problem, language=language, now=now)
    services.delivery.kick()
    png = chart.chart_png(context["metrics"], context["week"]["weeks"]) if owed is not None else None
    if png is not None:  # outside the transaction: SQLite has one writer, and the upload waits on the outbox
        upload_chart(services, owed, channel=digest.channel, png=png, label=context["week"]["label"],
                     language=language)
    return record


def queue_messages(services: Services, session, digest: Digest, record: DigestSend, messages: list[dict],
                   problem, *, language: str, now: datetime) -> None:
    first = record.message_key
    for index, message in enumerate(messages):
        key, thread = (keys.digest_part(first, index), {THREAD: first}) if index else (first, {})
        services.delivery.queue(session, key=key, team_id=digest.team_id, method="chat.postMessage", now=now,
                                channel=digest.channel, text=message["text"], blocks=message["blocks"],
                                unfurl_links=False, **thread)
    if problem is not None:
        told = templates.render("digests/notice.yaml.j2", language=language, key="template_fell_back",
                                p={"name": digest.name, "template": problem.template, "line": problem.line,
                                   "error": problem.error[:1500], "limit": problem.limit,
                                   "problem": rule_error_message(problem.refusal(), language=language)["text"]})
        services.delivery.queue(session, key=keys.digest_owner_notice(first), team_id=digest.team_id,
                                method="chat.postMessage", now=now, channel=digest.owner, text=told["text"],
                                blocks=told["blocks"])


def earlier_post(services: Services, *, digest_id: int, monday: date) -> dict | None:
    """The week's last post, if any: when, and its link once Slack has it (None while queued)."""
    with session_scope(services.engine) as session:
        earlier = digests.latest_send(session, digest_id=digest_id, period_start=monday)
        ref = message_ref(session, key=earlier.message_key) if earlier else None
    if earlier is None:
        return None
    link = None
    if ref is not None:
        try:
            link = services.delivery.call("chat.getPermalink", channel=ref[0], message_ts=ref[1])["permalink"]
        except SlackApiError as exc:  # deleted since, or the channel is gone: say when, without a link
            log.info("no permalink for %s: %s", earlier.message_key, exc.response.get("error"))
    return {"when": earlier.created_at, "link": link, "posted": ref is not None}


def posted_ref(services: Services, key: str, *, wait_seconds: float = POST_WAIT) -> tuple[str, str] | None:
    """(channel, ts) of the message queued under `key` once Slack has it; this thread helps the
    outbox worker send it, and gives up after `wait_seconds` (Slack down: the outbox keeps trying)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        services.delivery.drain()
        with session_scope(services.engine) as session:
            ref = message_ref(session, key=key)
        if ref is not None or time.monotonic() > deadline:
            return ref
        time.sleep(0.05)  # the worker holds the message: it is being sent right now


def upload_chart(services: Services, record: DigestSend, *, channel: str, png: bytes, label: str,
                 language: str) -> bool:
    """Upload the chart into the digest's thread once the digest is posted (its ts is known)."""
    ref = posted_ref(services, record.message_key)
    if ref is None:
        log.warning("digest %s not posted yet; its chart is skipped", record.message_key)
        return False
    words = templates.messages("digests/chart_words.yaml.j2", language=language, week=label)
    services.delivery.call("files_upload_v2", channel=ref[0], thread_ts=ref[1], file=png,
                           filename=f"digest-{label}.png", title=words["title"], alt_txt=words["alt"])
    with session_scope(services.engine) as session:
        row = session.get(DigestSend, record.id)
        row.chart_uploaded = True
        session.add(row)
    return True


def week_for_due(due_at: datetime, zone: ZoneInfo) -> date:
    """The ISO week a digest due at `due_at` reports: the last complete one in its zone."""
    return week.last_complete_week(due_at, zone)


def digest_job(services: Services, digest: Digest) -> Job:
    zone, digest_id = ZoneInfo(digest.timezone), digest.id

    def run(due_at: datetime, now: datetime) -> None:
        send(services, digest_id=digest_id, monday=week_for_due(due_at, zone), kind=SCHEDULED, actor=None, now=now)

    trigger = CronTrigger(day_of_week=WEEKDAYS[digest.weekday], hour=digest.hour, minute=digest.minute,
                          timezone=zone)
    return Job(key=f"digests:{digest_id}", trigger=trigger, run=run, grace=None)


def job_sources(services: Services) -> list:
    def source(session, now):
        for digest in digests.all_digests(session):
            if not digest.paused:
                yield digest_job(services, digest)

    return [source]


