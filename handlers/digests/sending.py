"""Posting a digest: compute the period, render the team's template (or the default when it
breaks, telling the owner), upload the chart unshared (chart_upload.py), then queue the messages in
the outbox under the send's key, the chart inside the first as an image block. A scheduled send
happens once per (digest, period)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from slack_sdk.errors import SlackApiError
from sqlmodel import select

import templates
from delivery import THREAD
from handlers import metric_words as wording
from handlers.common import Services, rule_error_message
from handlers.digests import chart, chart_upload, rendering
from models import keys
from models.db import session_scope
from models.digests import SCHEDULED, Digest, DigestSend, digests, versions, week
from models.digests import period as periods
from models.digests.period import Period
from models.outbox import message_ref, was_queued
from scheduler import Job

log = logging.getLogger("tandem.digests")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def team_dir(services: Services) -> str:
    return services.settings.digest_templates_dir or ""


def render_for(services: Services, digest: Digest, context: dict, language: str, in_use=None):
    """(messages, template used, the problem that made it fall back or None). `in_use`: the version
    of a template edited in Slack the digest uses (None: its named template)."""
    name = f"v{in_use.version}" if in_use is not None else digest.template
    try:
        return rendering.render(team_dir(services), name, language=language, context=context,
                                source=in_use.source if in_use is not None else None), name, None
    except rendering.TemplateProblem as problem:
        if in_use is None and digest.template == rendering.DEFAULT:
            raise
        log.warning("digest %s: template %s broke (%s); using the default", digest.name, digest.template, problem)
        messages = rendering.render("", rendering.DEFAULT, language=language, context=context)
        return messages, rendering.DEFAULT, problem


def preview(services: Services, *, team_id: str, name: str, period: Period | None, language: str, now: datetime):
    with session_scope(services.engine) as session:
        digest = digests.find_digest(session, team_id=team_id, name=name)
        period = period or periods.last_complete(digest.cadence, now, ZoneInfo(digest.timezone))
        context = wording.digest_context(week.compute(session, digest=digest, period=period), language=language,
                                         currency=wording.currency_of(services, session, team_id))
        in_use = versions.current(session, digest=digest)
    if in_use is not None:
        return rendering.render(team_dir(services), digest.name, language=language, context=context,
                                source=in_use.source)
    return rendering.render(team_dir(services), digest.template, language=language, context=context)


def send(services: Services, *, digest_id: int, period: Period, kind: str, actor: str | None,
         now: datetime, once: bool = False) -> DigestSend | None:
    """Queue the digest for `period`; None if this scheduled send (or this `once` send: a plain
    resend) was done before.

    The send's row is inserted first (its slot decides whether to send); then the chart is
    uploaded, unshared; then the messages are queued in the outbox under the send's key, with the
    chart as an image block in the first (text only when the upload failed). A run that stopped
    in between (a crash) is finished by the next run for the same slot once RESUME_AFTER passed."""
    with session_scope(services.engine) as session:
        digest = session.get(Digest, digest_id)
        if digest is None or (kind == SCHEDULED and digest.paused):  # deleted or paused since it was scheduled
            return None
        language = services.workspace(session, digest.team_id).language
        context = wording.digest_context(week.compute(session, digest=digest, period=period, backfill=kind == "resend"),
                                         language=language, currency=wording.currency_of(services, session, digest.team_id))
        messages, used, problem = render_for(services, digest, context, language,
                                             versions.current(session, digest=digest))
        record = digests.record_send(session, digest=digest, period=period, kind=kind, actor=actor,
                                     template_used=used, fell_back=problem is not None, now=now, once=once)
        owed = record or unfinished(session, digest_id=digest.id, period=period,
                                    slot=SCHEDULED if kind == SCHEDULED else kind, now=now)
        if owed is None:
            return None
        session.expunge(digest)
    words = templates.messages("digests/chart_words.yaml.j2", language=language, period=period.label)
    png = chart.chart_png(context["metrics"], context["period"]["labels"], words)
    if png is not None:  # outside any transaction: SQLite has one writer, and Slack takes its time
        file_id = chart_upload.upload_chart(services, owed.id, png=png, filename=f"digest-{period.label}.png",
                                            title=words["title"], alt=words["alt"])
        if file_id is not None:
            shown = templates.render("digests/chart_block.yaml.j2", language=language, file_id=file_id,
                                     period=period.label)
            messages[0] = {**messages[0], CHART: {"file": file_id, "without": messages[0]["blocks"],
                                                  "with": messages[0]["blocks"] + shown["blocks"]}}
    with session_scope(services.engine) as session:  # queued under the send's keys: at most once each
        queue_messages(services, session, digest, owed, messages, problem, language=language, now=now)
    services.delivery.kick()
    return record


# The first message's blocks with the chart and without it, chosen when the outbox sends it: a
# message naming a file Slack cannot show (still processing, deleted since) would be refused as
# invalid_blocks for good, and the digest lost with it.
CHART = "$digest_chart"


def chart_args(services: Services, team_id: str, chart: dict) -> dict:
    """The blocks to post: with the chart when Slack shows the file as ready, else text only."""
    try:
        ready = bool(services.delivery.call("files.info", file=chart["file"])["file"].get("mimetype"))
    except SlackApiError as exc:
        if exc.response.get("error") != "file_not_found":
            raise  # Slack unwell: the outbox tries again later
        ready = False
    if not ready:
        log.warning("digest chart %s cannot be shown now; the digest goes out as text only", chart["file"])
    return {"blocks": chart["with"] if ready else chart["without"]}


RESUME_AFTER = timedelta(minutes=5)  # the scheduler's run lease: a run that old is not running any more


def unfinished(session, *, digest_id: int, period: Period, slot: str, now: datetime) -> DigestSend | None:
    """The send of this slot whose messages were never queued (its run stopped before), if it is
    old enough that its run is not still uploading the chart."""
    row = session.exec(select(DigestSend).where(DigestSend.digest_id == digest_id, DigestSend.period == period.label,
                                                DigestSend.slot == slot)).first()
    if row is None or was_queued(session, key=row.message_key) or row.created_at > now - RESUME_AFTER:
        return None
    return row


def queue_messages(services: Services, session, digest: Digest, record: DigestSend, messages: list[dict],
                   problem, *, language: str, now: datetime) -> None:
    first = record.message_key
    for index, message in enumerate(messages):
        key, thread = (keys.digest_part(first, index), {THREAD: first}) if index else (first, {})
        blocks = {CHART: message[CHART]} if CHART in message else {"blocks": message["blocks"]}
        services.delivery.queue(session, key=key, team_id=digest.team_id, method="chat.postMessage", now=now,
                                channel=digest.channel, text=message["text"], unfurl_links=False, **blocks, **thread)
    if problem is not None:
        told = templates.render("digests/notice.yaml.j2", language=language, key="template_fell_back",
                                p={"name": digest.name, "template": problem.template, "line": problem.line,
                                   "error": problem.error[:1500], "limit": problem.limit,
                                   "problem": rule_error_message(problem.refusal(), language=language)["text"]})
        services.delivery.queue(session, key=keys.digest_owner_notice(first), team_id=digest.team_id,
                                method="chat.postMessage", now=now, channel=digest.owner, text=told["text"],
                                blocks=told["blocks"])


def earlier_post(services: Services, *, digest_id: int, period: Period) -> dict | None:
    """The period's last post, if any: when, and its link once Slack has it (None while queued)."""
    with session_scope(services.engine) as session:
        earlier = digests.latest_send(session, digest_id=digest_id, period=period)
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


def period_for_due(cadence: str, due_at: datetime, zone: ZoneInfo) -> Period | None:
    """The period a digest due at `due_at` reports: the last complete one of its kind in its zone.
    None when a monthly or quarterly digest's alarm rang on a day that is not its send day: the
    trigger wakes it on days 1–3 of the month, Monday to Friday, and only the first of those counts."""
    if periods.kind_of(cadence) != "week" and not periods.is_send_day(cadence, due_at.astimezone(zone).date()):
        return None
    return periods.last_complete(cadence, due_at, zone)


def trigger_of(digest: Digest) -> CronTrigger:
    """Weekly: its weekday. Monthly and quarterly: the first business day of the month (quarter),
    which is among days 1–3 Monday to Friday; period_for_due picks it out of those."""
    zone = ZoneInfo(digest.timezone)
    if periods.kind_of(digest.cadence) == "week":
        return CronTrigger(day_of_week=WEEKDAYS[digest.weekday], hour=digest.hour, minute=digest.minute,
                           timezone=zone)
    months = "1,4,7,10" if digest.cadence == "quarterly" else "*"
    return CronTrigger(month=months, day="1-3", day_of_week="mon-fri", hour=digest.hour, minute=digest.minute,
                       timezone=zone)


def digest_job(services: Services, digest: Digest) -> Job:
    zone, digest_id, cadence = ZoneInfo(digest.timezone), digest.id, digest.cadence

    def run(due_at: datetime, now: datetime) -> None:
        period = period_for_due(cadence, due_at, zone)
        if period is not None:
            send(services, digest_id=digest_id, period=period, kind=SCHEDULED, actor=None, now=now)

    # A change of cadence changes the trigger, and the scheduler replaces a job whose trigger changed.
    return Job(key=f"digests:{digest_id}", trigger=trigger_of(digest), run=run, grace=None)


def job_sources(services: Services) -> list:
    def source(session, now):
        for digest in digests.all_digests(session):
            if not digest.paused:
                yield digest_job(services, digest)

    return [source]
