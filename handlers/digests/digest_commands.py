"""/digest: new (admins, a modal), edit, pause, resume, delete, list, preview, send now, resend a
past period (a week 2026-W46, a month 2026-11, a quarter 2026-Q4), template check."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import templates
from clock import utcnow
from handlers import metric_words as wording
from handlers.common import Services, admin_and_language, bot_is_in, form_values, metadata_of, open_modal
from handlers.digests import rendering, sending
from handlers.listeners import Outcome
from models import keys
from models.db import session_scope
from models.digests import Digest, digests, metrics, versions, week
from models.digests import period as periods
from models.errors import RuleError

# Rule errors about one field of the modal, shown inline under that block.
FIELD_ERRORS = {"digests.bad_digest_name": "name", "digests.digest_exists": "name", "digests.no_channel": "channel",
                "digests.bot_not_in_channel": "channel", "digests.bad_cadence": "cadence",
                "digests.bad_weekday": "weekday", "digests.bad_time": "time", "digests.bad_zone": "timezone",
                "digests.unknown_metric": "metrics", "digests.bad_thresholds": "thresholds",
                "digests.bad_template_name": "template", "digests.template_broken": "template",
                "digests.template_limit": "template", "digests.no_template": "template"}


def notice(language: str, key: str, **p) -> dict:
    return templates.render("digests/notice.yaml.j2", language=language, key=key, p=p)


def open_new(services: Services, *, command: dict, words: list[str], language: str) -> dict | None:
    admin, _ = admin_and_language(services, command["team_id"], command["user_id"])
    if not admin:
        raise RuleError("not_admin")
    with session_scope(services.engine) as session:
        zone = services.workspace(session, command["team_id"]).timezone
    form = {"id": None, "name": words[0] if words else "", "channel": None, "cadence": "weekly", "weekday": 0, "time": "09:00",
            "timezone": zone, "metrics": [], "thresholds": "", "template": "default"}
    return _open_modal(services, command, form, language=language)


def edit(services: Services, *, command: dict, words: list[str], language: str) -> dict | None:
    """/digest edit NAME: the same modal, filled in with the digest as it is (owner or admin)."""
    if len(words) != 1:
        raise RuleError("digests.manage_usage", command="edit")
    digest = _own_digest(services, command, words[0])
    form = {"id": digest.id, "name": digest.name, "channel": digest.channel, "cadence": digest.cadence,
            "weekday": digest.weekday,
            "time": f"{digest.hour:02d}:{digest.minute:02d}", "timezone": digest.timezone,
            "metrics": list(digest.metrics), "thresholds": digests.thresholds_text(digest),
            "template": digest.template}
    return _open_modal(services, command, form, language=language)


def _open_modal(services: Services, command: dict, form: dict, *, language: str) -> dict | None:
    with session_scope(services.engine) as session:
        names = list(metrics.metrics_by_name(session, team_id=command["team_id"]))
    if not names:
        raise RuleError("digests.no_metrics")
    form["metrics"] = [name for name in form["metrics"] if name in names[:100]]  # initial options must be options
    metadata = {"channel": command.get("channel_id"), "digest": form["id"]}
    view = templates.render("digests/new_modal.yaml.j2", language=language, metric_names=names[:100], d=form,
                            metadata=json.dumps(metadata))
    return open_modal(services, command["trigger_id"], view, language=language)


def check_template(services: Services, digest: Digest, *, language: str, source: str | None = None) -> None:
    """Render against the last complete period's data; RuleError with the line and error when it
    breaks. With `source`, that text (a template edited in Slack) instead of the named template."""
    with session_scope(services.engine) as session:
        context = wording.digest_context(
            week.compute(session, digest=digest,
                         period=periods.last_complete(digest.cadence, utcnow(), ZoneInfo(digest.timezone))),
            language=language, currency=wording.currency_of(services, session, digest.team_id))
    directory = sending.team_dir(services)
    if source is None and not rendering.exists(directory, digest.template):
        raise RuleError("digests.no_template", name=digest.template)
    try:
        rendering.render(directory, digest.name if source is not None else digest.template, language=language,
                         context=context, source=source)
    except rendering.TemplateProblem as problem:
        raise problem.refusal() from None


def submit_new(services: Services, body: dict) -> Outcome:
    """Save the digest (the modal closes), or inline errors."""
    team_id, user_id = body["team"]["id"], body["user"]["id"]
    values = form_values(body["view"])
    form = digests.DigestForm(
        name=(values.get("name") or "").strip(), channel=values.get("channel"), weekday=values.get("weekday") or "",
        time=values.get("time") or "", timezone=values.get("timezone") or "",
        template=(values.get("template") or "default").strip(), metrics=values.get("metrics") or [],
        thresholds=values.get("thresholds") or "", cadence=values.get("cadence") or "weekly")
    admin, language = admin_and_language(services, team_id, user_id)
    editing = metadata_of(body["view"]).get("digest")
    try:
        with session_scope(services.engine) as session:
            digest = digests.clean(session, team_id=team_id, form=form)
            # an edit keeping the template's name keeps the version edited in Slack, if any: check that one
            source = digests.kept_template(session, digest_id=int(editing), template=digest.template) \
                if editing else None
        if not bot_is_in(services, digest.channel):
            raise RuleError("digests.bot_not_in_channel", channel=digest.channel)
        check_template(services, digest, language=language, source=source)  # validated when saved, not when due
        with session_scope(services.engine) as session:
            if editing:
                digest = digests.update_digest(session, digest_id=int(editing), changed=digest, actor=user_id,
                                               actor_is_admin=admin)
            else:
                digest = digests.save_digest(session, digest=digest, actor=user_id, actor_is_admin=admin,
                                             now=utcnow())
            saved = notice(language, "digest_saved", name=digest.name, channel=digest.channel,
                           cadence=digest.cadence, weekday=digest.weekday, time=f"{digest.hour:02d}:{digest.minute:02d}",
                           zone=digest.timezone, template=digest.template)
            # One confirmation per submitted modal (the view id), however often Slack retries it.
            services.delivery.queue(session, key=keys.digest_saved(digest.id, body["view"].get("id")),
                                    team_id=team_id, method="chat.postMessage", now=utcnow(), channel=user_id,
                                    text=saved["text"], blocks=saved["blocks"])
    except RuleError as error:
        return Outcome.refused(error, language=language, block=FIELD_ERRORS.get(error.key, "name"))
    services.delivery.kick()
    return Outcome()


def list_digests(services: Services, *, command: dict, words: list[str], language: str) -> dict:
    with session_scope(services.engine) as session:
        rows = [d.model_dump() for d in digests.all_digests(session) if d.team_id == command["team_id"]]
    return templates.render("digests/list.yaml.j2", language=language, rows=rows)


def preview(services: Services, *, command: dict, words: list[str], language: str) -> dict:
    if not words or len(words) > 2:
        raise RuleError("digests.preview_usage")
    period = periods.parse(words[1]) if len(words) == 2 else None
    try:
        messages = sending.preview(services, team_id=command["team_id"], name=words[0], period=period,
                                   language=language, now=utcnow())
    except rendering.TemplateProblem as problem:
        raise problem.refusal() from None
    blocks = [block for message in messages for block in message["blocks"]][:50]
    return {"response_type": "ephemeral", "text": messages[0]["text"], "blocks": blocks}


def _own_digest(services: Services, command: dict, name: str) -> Digest:
    """The digest, if the caller owns it or is a workspace admin."""
    admin, _ = admin_and_language(services, command["team_id"], command["user_id"])
    with session_scope(services.engine) as session:
        digest = digests.find_digest(session, team_id=command["team_id"], name=name)
    digests.may_change(digest, actor=command["user_id"], actor_is_admin=admin)
    return digest


def pause(services: Services, *, command: dict, words: list[str], language: str) -> dict:
    return _set_paused(services, command, words, language=language, paused=True)


def resume(services: Services, *, command: dict, words: list[str], language: str) -> dict:
    return _set_paused(services, command, words, language=language, paused=False)


def _set_paused(services: Services, command: dict, words: list[str], *, language: str, paused: bool) -> dict:
    if len(words) != 1:
        raise RuleError("digests.manage_usage", command="pause" if paused else "resume")
    digest = _own_digest(services, command, words[0])
    with session_scope(services.engine) as session:
        digests.set_paused(session, digest=session.get(Digest, digest.id), paused=paused)
    return notice(language, "digest_paused" if paused else "digest_resumed", name=digest.name)


def delete(services: Services, *, command: dict, words: list[str], language: str) -> dict:
    if len(words) != 1:
        raise RuleError("digests.manage_usage", command="delete")
    digest = _own_digest(services, command, words[0])
    with session_scope(services.engine) as session:
        digests.delete_digest(session, digest=session.get(Digest, digest.id))
    return notice(language, "digest_deleted", name=digest.name)


def send_now(services: Services, *, command: dict, words: list[str], language: str) -> dict:
    if len(words) != 2 or words[1].lower() != "now":
        raise RuleError("digests.send_usage")
    digest = _own_digest(services, command, words[0])
    now = utcnow()
    period = periods.last_complete(digest.cadence, now, ZoneInfo(digest.timezone))
    sending.send(services, digest_id=digest.id, period=period, kind="now", actor=command["user_id"], now=now)
    return notice(language, "digest_sent", name=digest.name, week=period.label, channel=digest.channel)


def resend(services: Services, *, command: dict, words: list[str], language: str) -> dict:
    """A past period, posted once: one posted before (however) is posted again only with --again.
    Any kind of period works for any digest: a weekly digest can post a month's numbers too."""
    again = "--again" in words
    words = [word for word in words if word != "--again"]
    if len(words) != 2:
        raise RuleError("digests.resend_usage")
    period = periods.parse(words[1])
    digest = _own_digest(services, command, words[0])
    now = utcnow()
    if period.end > now.astimezone(ZoneInfo(digest.timezone)).date():  # it ends at its last day's midnight
        raise RuleError("digests.period_not_over", period=period.label)
    earlier = None if again else sending.earlier_post(services, digest_id=digest.id, period=period)
    if earlier is None and sending.send(services, digest_id=digest.id, period=period, kind="resend",
                                        actor=command["user_id"], now=now, once=not again) is None:
        earlier = sending.earlier_post(services, digest_id=digest.id, period=period)  # a resend running alongside
    if earlier is not None:
        return templates.render("digests/already_posted.yaml.j2", language=language, name=digest.name,
                                week=period.label, channel=digest.channel, **earlier)
    return notice(language, "digest_resent", name=digest.name, week=period.label, channel=digest.channel)


def template_check(services: Services, *, command: dict, words: list[str], language: str) -> dict:
    if len(words) != 2 or words[0].lower() != "check":
        raise RuleError("digests.template_usage")
    with session_scope(services.engine) as session:
        digest = digests.find_digest(session, team_id=command["team_id"], name=words[1])
        in_use = versions.current(session, digest=digest)
    check_template(services, digest, language=language, source=in_use.source if in_use else None)
    return notice(language, "template_ok", name=digest.name,
                  template=f"v{in_use.version}" if in_use else digest.template)
