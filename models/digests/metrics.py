"""Business metrics: define, record, import (CSV) and points from the API. No Slack here.

Rules take a Session and `now`, and raise RuleError("digests.…") on bad input. Imports
check every row first; the CSV import stores the good rows and reports each bad one, the API
stores all points or none.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, select

from models.db import insert_once
from models.digests.tables import AGGREGATIONS, Metric, MetricPoint
from models.errors import RuleError

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
LABEL_LENGTH = 100  # Metric.label's column
CSV_LIMIT = 5 * 1024 * 1024   # bytes of one CSV import
CSV_ROWS = 50_000
REPORTED_REJECTS = 50          # rejected rows listed by line; the rest are counted


def N_(text: str) -> str:
    """Marks a word for the catalog (babel.cfg extracts N_() from Python); translated where it is shown
    (handlers/digests/words.py), so what is stored stays the English a team can type."""
    return text


MONEY = "¤"  # the unit of a money preset: the workspace's currency (/tandem currency, DEFAULT_CURRENCY)
# The metric set teams start from: name → (label, unit, direction, aggregation)
PRESETS = {
    "DAU": (N_("Daily active users"), N_("users"), "higher", "average"),
    "MAU": (N_("Monthly active users"), N_("users"), "higher", "last"),
    "RETENTION": (N_("Retention"), "%", "higher", "last"),
    "CONVERSION": (N_("Conversion rate"), "%", "higher", "average"),
    "GMV": (N_("Gross merchandise value"), MONEY, "higher", "sum"),
    "NPS": (N_("Net promoter score"), "", "higher", "last"),
    "ARPU": (N_("Average revenue per user"), MONEY, "higher", "last"),
    "ROI": (N_("Return on investment"), "%", "higher", "last"),
    "CAC": (N_("Customer acquisition cost"), MONEY, "lower", "average"),
    "LTV": (N_("Customer lifetime value"), MONEY, "higher", "last"),
}
DIRECTION_WORDS = {"higher-is-better": "higher", "higher": "higher", "lower-is-better": "lower", "lower": "lower"}


@dataclass
class Definition:
    name: str
    label: str
    unit: str = ""
    target: float | None = None
    direction: str = "higher"
    aggregation: str = "last"


@dataclass
class ImportReport:
    accepted: int = 0
    rejected: list[tuple[int, str, dict]] = field(default_factory=list)  # (line, message key, params)
    rejected_count: int = 0


def parse_number(text: str) -> float:
    try:
        value = float(str(text).strip().replace(",", ""))
    except ValueError:
        raise RuleError("digests.not_a_number", given=str(text)[:40]) from None
    if not math.isfinite(value):
        raise RuleError("digests.not_a_number", given=str(text)[:40])
    return value


def parse_day(text: str, *, today: date) -> date:
    try:
        day = date.fromisoformat(str(text).strip())
    except ValueError:
        raise RuleError("digests.bad_date", given=str(text)[:40]) from None
    if day > today:
        raise RuleError("digests.future_date", given=day.isoformat(), today=today.isoformat())
    return day


def parse_definition(words: list[str]) -> Definition:
    """`DAU "Daily active users" users 10000 higher-is-better average`; a preset needs only its name."""
    if not words:
        raise RuleError("digests.define_usage")
    name = words[0]
    if not NAME.match(name):
        raise RuleError("digests.bad_name", given=name[:40])
    preset = PRESETS.get(name.upper())
    if len(words) == 1:
        if preset is None:
            raise RuleError("digests.define_usage")
        label, unit, direction, aggregation = preset
        return Definition(name.upper(), label, unit, None, direction, aggregation)
    if len(words[1]) > LABEL_LENGTH:
        raise RuleError("digests.label_too_long", length=len(words[1]), limit=LABEL_LENGTH)
    definition = Definition(name.upper(), words[1])
    if preset:
        definition.unit, definition.direction, definition.aggregation = preset[1], preset[2], preset[3]
    for word in words[2:]:
        low = word.lower()
        if low in DIRECTION_WORDS:
            definition.direction = DIRECTION_WORDS[low]
        elif low in AGGREGATIONS:
            definition.aggregation = low
        elif re.fullmatch(r"[-+]?[\d,]*\.?\d+", word):
            definition.target = parse_number(word)
        elif low.startswith("target="):
            definition.target = parse_number(word.split("=", 1)[1])
        elif len(word) <= 20:
            definition.unit = word
        else:
            raise RuleError("digests.define_usage")
    return definition


def find_metric(session: Session, *, team_id: str, name: str) -> Metric:
    metric = session.exec(select(Metric).where(Metric.team_id == team_id, Metric.name == name.upper())).first()
    if metric is None:
        raise RuleError("digests.unknown_metric", name=name[:40])
    return metric


def metrics_by_name(session: Session, *, team_id: str) -> dict[str, Metric]:
    return {m.name: m for m in session.exec(select(Metric).where(Metric.team_id == team_id).order_by(Metric.name))}


def define_metric(session: Session, *, team_id: str, actor: str, definition: Definition, now: datetime) -> Metric:
    metric = Metric(team_id=team_id, name=definition.name, label=definition.label, unit=definition.unit,
                    target=definition.target, direction=definition.direction,
                    aggregation=definition.aggregation, created_by=actor, created_at=now)
    if not insert_once(session, metric):
        raise RuleError("digests.metric_exists", name=definition.name)
    return metric


def record_point(session: Session, *, metric: Metric, day: date, value: float, actor: str, source: str,
                 now: datetime) -> bool:
    """Store the day's value. True if new, False if it replaced an earlier value for that day."""
    point = session.exec(select(MetricPoint).where(MetricPoint.metric_id == metric.id,
                                                   MetricPoint.day == day)).first()
    if point is None:
        point = MetricPoint(metric_id=metric.id, team_id=metric.team_id, day=day, value=value, source=source,
                            recorded_by=actor, recorded_at=now)
        if insert_once(session, point):
            return True
        point = session.exec(select(MetricPoint).where(MetricPoint.metric_id == metric.id,
                                                       MetricPoint.day == day)).one()
    point.value, point.source, point.recorded_by, point.recorded_at = value, source, actor, now
    session.add(point)
    return False


def check_point(known: dict[str, Metric], name: str, day_text: str, value_text: str, *, today: date):
    """(metric, day, value) of one point, or RuleError saying what is wrong with it."""
    metric = known.get(str(name).strip().upper())
    if metric is None:
        raise RuleError("digests.unknown_metric", name=str(name).strip()[:40])
    return metric, parse_day(day_text, today=today), parse_number(value_text)


def import_csv(session: Session, *, team_id: str, actor: str, data: bytes, today: date, now: datetime) -> ImportReport:
    """A `metric,date,value` CSV (header optional): stores each good row, reports each bad one."""
    if len(data) > CSV_LIMIT:
        raise RuleError("digests.csv_too_big", size_mb=round(len(data) / 1048576, 1), limit_mb=CSV_LIMIT // 1048576)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RuleError("digests.csv_not_utf8") from None
    known = metrics_by_name(session, team_id=team_id)
    report, seen = ImportReport(), {}
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if line == 1 and [c.strip().lower() for c in row[:3]] == ["metric", "date", "value"]:
            continue
        if line > CSV_ROWS + 1:
            raise RuleError("digests.csv_too_many_rows", limit=CSV_ROWS)
        try:
            if len(row) != 3:
                raise RuleError("digests.csv_columns", count=len(row))
            metric, day, value = check_point(known, *row, today=today)
        except RuleError as error:
            report.rejected_count += 1
            if len(report.rejected) < REPORTED_REJECTS:
                report.rejected.append((line, error.key, error.params))
            continue
        seen[(metric.name, day)] = (metric, value)  # a later row for the same day wins
        report.accepted += 1
    for (_name, day), (metric, value) in seen.items():
        record_point(session, metric=metric, day=day, value=value, actor=actor, source="import", now=now)
    return report


def store_api_points(session: Session, *, team_id: str, points: list, today: date, now: datetime) -> int:
    """All points or none: the first bad one raises RuleError naming its index."""
    known = metrics_by_name(session, team_id=team_id)
    checked = []
    for index, point in enumerate(points):
        if not isinstance(point, dict) or not {"metric", "date", "value"} <= set(point):
            raise RuleError("digests.api_bad_point", index=index)
        try:
            checked.append(check_point(known, point["metric"], point["date"], point["value"], today=today))
        except RuleError as error:
            error.params["index"] = index
            raise
    for metric, day, value in checked:
        record_point(session, metric=metric, day=day, value=value, actor="api", source="api", now=now)
    return len(checked)
