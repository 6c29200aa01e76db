"""/metric: define, record, list, show, import (CSV pasted after the command), presets."""

from __future__ import annotations

import re
import shlex
from datetime import timedelta
from zoneinfo import ZoneInfo

import templates
from clock import utcnow
from handlers import metric_words as wording
from handlers.common import Services, open_modal, zone_of
from models.db import session_scope
from models.digests import metrics, week
from models.errors import RuleError

SHOW_WEEKS = re.compile(r"^(\d{1,2})w$", re.IGNORECASE)


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        raise RuleError("digests.define_usage") from None


def today_for(services: Services, team_id: str, now):
    with session_scope(services.engine) as session:
        zone = zone_of(services.workspace(session, team_id).timezone)
    return now.astimezone(zone).date()


def notice(language: str, key: str, **p) -> dict:
    return templates.render("digests/notice.yaml.j2", language=language, key=key, p=p)


def define(services: Services, *, command: dict, rest: str, language: str) -> dict:
    definition = metrics.parse_definition(_words(rest))
    with session_scope(services.engine) as session:
        metrics.define_metric(session, team_id=command["team_id"], actor=command["user_id"], definition=definition,
                              now=utcnow())
        currency = wording.currency_of(services, session, command["team_id"])
    shown = wording.metric(vars(definition), language=language, currency=currency)
    return notice(language, "metric_defined", name=definition.name, label=shown["label"], unit=shown["unit"],
                  target=definition.target, direction=definition.direction, aggregation=definition.aggregation)


def record(services: Services, *, command: dict, rest: str, language: str) -> dict:
    words = rest.split()
    if len(words) not in (2, 3):
        raise RuleError("digests.record_usage")
    now = utcnow()
    today = today_for(services, command["team_id"], now)
    with session_scope(services.engine) as session:
        metric = metrics.find_metric(session, team_id=command["team_id"], name=words[0])
        value = metrics.parse_number(words[1])
        day = metrics.parse_day(words[2], today=today) if len(words) == 3 else today
        new = metrics.record_point(session, metric=metric, day=day, value=value, actor=command["user_id"],
                                   source="command", now=now)
        name, unit = metric.name, wording.metric(metric.model_dump(), language=language,
                                               currency=wording.currency_of(services, session, command["team_id"]))["unit"]
    return notice(language, "point_recorded" if new else "point_replaced", name=name, value=value, unit=unit,
                  day=day.isoformat())


def list_metrics(services: Services, *, command: dict, rest: str, language: str) -> dict:
    with session_scope(services.engine) as session:
        currency = wording.currency_of(services, session, command["team_id"])
        rows = [wording.metric(m.model_dump(), language=language, currency=currency)
                for m in metrics.metrics_by_name(session, team_id=command["team_id"]).values()]
    presets = [name for name in metrics.PRESETS if name not in {r["name"] for r in rows}]
    return templates.render("digests/metric_list.yaml.j2", language=language, rows=rows, presets=presets)


def show(services: Services, *, command: dict, rest: str, language: str) -> dict:
    words = rest.split()
    if not words:
        raise RuleError("digests.show_usage")
    weeks = 8
    if len(words) > 1:
        match = SHOW_WEEKS.match(words[1])
        if not match or not 1 <= int(match.group(1)) <= 52:
            raise RuleError("digests.show_usage")
        weeks = int(match.group(1))
    now = utcnow()
    with session_scope(services.engine) as session:
        zone = ZoneInfo(zone_of(services.workspace(session, command["team_id"]).timezone).key)
        metric = metrics.find_metric(session, team_id=command["team_id"], name=words[0])
        this_monday = now.astimezone(zone).date() - timedelta(days=now.astimezone(zone).weekday())
        first = this_monday - timedelta(weeks=weeks - 1)
        values = week.weekly_values(session, metric=metric, first=first, weeks=weeks)
        m = wording.metric(metric.model_dump(), language=language,
                         currency=wording.currency_of(services, session, command["team_id"]))
    rows = []
    for index, value in enumerate(values):
        previous = values[index - 1] if index else None
        delta, pct = week.change(value, previous)
        rows.append({"week": week.week_label(first + timedelta(weeks=index)), "value": value, "delta": delta,
                     "pct": None if pct is None else round(pct, 1)})
    return templates.render("digests/metric_show.yaml.j2", language=language, m=m, rows=rows, weeks=weeks)


def import_csv(services: Services, *, command: dict, rest: str, language: str) -> dict | None:
    data = rest.strip().encode("utf-8")
    if not data:  # nothing pasted: a modal to upload a CSV file (handlers/digests/importing.py)
        view = templates.render("digests/import_modal.yaml.j2", language=language)
        return open_modal(services, command["trigger_id"], view, language=language)
    now = utcnow()
    today = today_for(services, command["team_id"], now)
    with session_scope(services.engine) as session:
        report = metrics.import_csv(session, team_id=command["team_id"], actor=command["user_id"], data=data,
                                    today=today, now=now)
    return import_report(report, language=language)


def import_report(report: metrics.ImportReport, *, language: str) -> dict:
    rejected = [{"line": line, "reason": templates.render("digests/errors.yaml.j2", language=language, key=key,
                                                          params=params)["text"]}
                for line, key, params in report.rejected]
    return templates.render("digests/import_report.yaml.j2", language=language, accepted=report.accepted,
                            rejected=rejected, rejected_count=report.rejected_count)
