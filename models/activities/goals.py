"""Goal lines: parsing a target, the activity's window and its baseline, and how far a goal got.

A goal is `{"metric": "GMV", "kind": "absolute"|"change"|"sum", "op": ">="|"<=", "target": 20.0}`:
  - absolute: the metric's value over the window (by its own aggregation: last, average, sum)
    compared with the target ("DAU ≥ 12,000");
  - change: that value against the baseline, in per cent ("GMV +20 %");
  - sum: the total of the daily values over the window ("SIGNUPS sum ≥ 100,000").
The window is the local dates from the start's to the end's (both included, in the workspace's
zone). The baseline rule: the same number of days just before the start, aggregated the same way.

Pace is linear: on day d of n, a goal on pace has come d/n of the way from the baseline (0 for a
sum, or when there is no baseline) to its target.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models.digests.metrics import PRESETS
from models.digests.tables import Metric, MetricPoint

MAX_GOALS = 3
KINDS = ("absolute", "change", "sum")
TARGET_LENGTH = 30
# "≥ 12,000", "12000", "<= 50", "+20 %", "-5%", "sum ≥ 100,000": one optional "sum", one optional
# comparison, one optional sign, a number, one optional per cent sign.
_TARGET = re.compile(r"^(?P<sum>sum\s*)?(?P<op>>=|≥|<=|≤|>|<)?\s*(?P<sign>[+-])?\s*"
                     r"(?P<number>\d[\d,_]*(?:\.\d+)?|\.\d+)\s*(?P<pct>%)?$", re.IGNORECASE)


class GoalError(Exception):
    """A goal line is wrong: a message key and its params (shown under the line's field)."""

    def __init__(self, key: str, **params):
        super().__init__(key)
        self.key, self.params = key, params


@dataclass(frozen=True)
class Window:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def baseline(self) -> Window:
        """The same number of days just before the start."""
        return Window(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


def window_of(fields: dict, zone: ZoneInfo) -> Window | None:
    """The activity's local dates, or None when its dates are missing (an old or broken request)."""
    try:
        starts, ends = datetime.fromisoformat(fields["starts_at"]), datetime.fromisoformat(fields["ends_at"])
    except (KeyError, TypeError, ValueError):
        return None
    return Window(starts.astimezone(zone).date(), ends.astimezone(zone).date())


def catalogue(session: Session, *, team_id: str) -> dict[str, tuple[str, str, str, str]]:
    """The metrics a goal may name: the workspace's own, then the presets it has not defined.
    name → (label, unit, direction, aggregation), as in PRESETS."""
    known = {m.name: (m.label, m.unit, m.direction, m.aggregation)
             for m in session.exec(select(Metric).where(Metric.team_id == team_id).order_by(Metric.name))}
    for name, preset in PRESETS.items():
        known.setdefault(name, preset)
    return known


def parse_target(text: str, *, metric: str, unit: str, aggregation: str, direction: str = "higher") -> dict:
    """One goal from its metric and the target as typed. GoalError when the target is not one of
    the three forms, or is of a form the metric cannot take."""
    cleaned = (text or "").strip().replace("\u3000", " ").replace("％", "%").replace("＋", "+")
    match = _TARGET.match(cleaned)
    if not cleaned or len(cleaned) > TARGET_LENGTH or not match:
        raise GoalError("goal.bad_target", given=cleaned[:TARGET_LENGTH])
    number = float(match["number"].replace(",", "").replace("_", ""))
    negative = match["sign"] == "-"
    if match["sum"]:
        if match["pct"] or match["sign"]:
            raise GoalError("goal.bad_target", given=cleaned)
        if aggregation != "sum":  # a total of a rate or a level (retention, DAU) means nothing
            raise GoalError("goal.sum_needs_sum", metric=metric)
        return {"metric": metric, "kind": "sum", "op": ">=", "target": number}
    if match["sign"] and not match["op"]:
        if not match["pct"]:
            raise GoalError("goal.change_in_percent", metric=metric)
        value = -number if negative else number
        return {"metric": metric, "kind": "change", "op": "<=" if negative else ">=", "target": value}
    if match["pct"] and unit != "%":  # "≥ 20 %" of GMV: a change is written +20 %
        raise GoalError("goal.percent_is_change", metric=metric)
    op = {"≥": ">=", ">": ">=", "≤": "<=", "<": "<="}.get(match["op"] or "", match["op"])
    op = op or (">=" if direction == "higher" else "<=")
    return {"metric": metric, "kind": "absolute", "op": op, "target": -number if negative else number}


def aggregate(values: list[float], aggregation: str) -> float | None:
    if not values:
        return None
    if aggregation == "sum":
        return float(sum(values))
    if aggregation == "average":
        return float(statistics.fmean(values))
    return float(values[-1])


def points(session: Session, *, team_id: str, metric: str, first: date, last: date) -> list[tuple[date, float]]:
    """The metric's (day, value) from `first` to `last`, oldest first."""
    return list(session.exec(
        select(MetricPoint.day, MetricPoint.value).join(Metric, Metric.id == MetricPoint.metric_id)
        .where(Metric.team_id == team_id, Metric.name == metric, MetricPoint.day >= first, MetricPoint.day <= last)
        .order_by(MetricPoint.day)).all())


def aggregation_of(session: Session, *, team_id: str, metric: str) -> str:
    row = session.exec(select(Metric.aggregation).where(Metric.team_id == team_id, Metric.name == metric)).first()
    return row or (PRESETS.get(metric, ("", "", "", "last"))[3])


def baseline(session: Session, *, team_id: str, goal: dict, window: Window) -> float | None:
    before = window.baseline
    values = [v for _d, v in points(session, team_id=team_id, metric=goal["metric"], first=before.start,
                                    last=before.end)]
    how = "sum" if goal["kind"] == "sum" else aggregation_of(session, team_id=team_id, metric=goal["metric"])
    return aggregate(values, how)


@dataclass
class Standing:
    """A goal on a day: the window's value so far, against its target and its baseline."""

    goal: dict
    baseline: float | None
    value: float | None
    target_value: float | None   # the level to reach (a change target turned into one)
    change_pct: float | None     # value against the baseline, in per cent
    way_pct: float | None        # % of the way from the baseline to the target
    pace_pct: float | None       # way as a share of the pace expected today
    last_day: date | None        # the latest day with data in the window
    hit: bool | None             # at the end: reached or not (None: no data)


def standing(session: Session, *, team_id: str, goal: dict, window: Window, through: date) -> Standing:
    """Where `goal` stands with the data up to `through` (a day inside the window, or its end)."""
    last = min(through, window.end)
    rows = points(session, team_id=team_id, metric=goal["metric"], first=window.start, last=last)
    how = "sum" if goal["kind"] == "sum" else aggregation_of(session, team_id=team_id, metric=goal["metric"])
    value = aggregate([v for _d, v in rows], how)
    base = baseline(session, team_id=team_id, goal=goal, window=window)
    target = goal["target"]
    if goal["kind"] == "change":
        target_value = base * (1 + target / 100) if base is not None else None
    else:
        target_value = target
    elapsed = ((last - window.start).days + 1) / window.days
    change = way = None
    if how == "sum":
        # A total grows day by day: on pace it has reached `elapsed` of its target; its change
        # against the baseline compares the total projected to the whole window.
        if value is not None and base not in (None, 0):
            change = (value / elapsed - base) / abs(base) * 100
        if value is not None and target_value not in (None, 0):
            way = value / target_value * 100
    else:
        # A level (DAU, a rate): on pace it has moved `elapsed` of the way from the baseline
        # (or from zero without one) to its target.
        if value is not None and base not in (None, 0):
            change = (value - base) / abs(base) * 100
        start = 0.0 if base is None else base
        if value is not None and target_value is not None and target_value != start:
            way = (value - start) / (target_value - start) * 100
    pace = way / elapsed if way is not None else None
    hit = None
    if value is not None:
        measured = change if goal["kind"] == "change" else value
        if measured is not None:
            hit = measured >= target if goal["op"] == ">=" else measured <= target
    return Standing(goal=goal, baseline=base, value=value, target_value=target_value, change_pct=change,
                    way_pct=way, pace_pct=pace, last_day=rows[-1][0] if rows else None, hit=hit)


def goal_rows(raw: dict) -> list[tuple[int, str, str]]:
    """(line, metric, target text) of each goal line the form holds, filled or half-filled."""
    rows = []
    for line in range(1, MAX_GOALS + 1):
        metric = raw.get(f"goal{line}_metric") or ""
        target = raw.get(f"goal{line}_target") or ""
        target = target.strip() if isinstance(target, str) else ""
        if metric or target:
            rows.append((line, str(metric).strip().upper(), target))
    return rows


def check_goals(session: Session, *, team_id: str, raw: dict, window: Window | None, add) -> list[dict]:
    """The form's goal lines as goals; each problem goes to `add(block_id, key, **params)`.
    A change target needs baseline data (else: say so, and suggest an absolute target)."""
    known = catalogue(session, team_id=team_id)
    goals = []
    for line, metric, target in goal_rows(raw):
        if not metric:
            add(f"goal{line}_metric", "goal.metric_required")
            continue
        if metric not in known:
            add(f"goal{line}_metric", "goal.unknown_metric", metric=metric[:32])
            continue
        if not target:
            add(f"goal{line}_target", "goal.target_required", metric=metric)
            continue
        _label, unit, direction, aggregation = known[metric]
        try:
            goal = parse_target(target, metric=metric, unit=unit, aggregation=aggregation, direction=direction)
        except GoalError as error:
            add(f"goal{line}_target", error.key, **error.params)
            continue
        if any(g["metric"] == metric and g["kind"] == goal["kind"] for g in goals):
            add(f"goal{line}_metric", "goal.repeated", metric=metric)
            continue
        if goal["kind"] == "change" and window is not None and \
                baseline(session, team_id=team_id, goal=goal, window=window) is None:
            before = window.baseline
            add(f"goal{line}_target", "goal.no_baseline", metric=metric, days=window.days,
                first=before.start.isoformat(), last=before.end.isoformat())
            continue
        goals.append(goal)
    return goals


def ensure_metrics(session: Session, *, team_id: str, goals: list[dict], actor: str, now: datetime) -> None:
    """A goal on a preset the workspace has not defined yet defines it (as `/metric define NAME`
    would), so the values recorded for it land where the goal looks."""
    from models.db import insert_once

    for goal in goals:
        name = goal["metric"]
        if name in PRESETS and session.exec(select(Metric.id).where(Metric.team_id == team_id,
                                                                      Metric.name == name)).first() is None:
            label, unit, direction, aggregation = PRESETS[name]
            insert_once(session, Metric(team_id=team_id, name=name, label=label, unit=unit, direction=direction,
                                        aggregation=aggregation, created_by=actor, created_at=now))


def target_text(goal: dict) -> str:
    """A goal's target as the form takes it back: "≥ 12000", "+20%", "sum ≥ 100000"."""
    number = f"{goal['target']:g}" if abs(goal["target"]) < 1e15 else str(goal["target"])
    if goal["kind"] == "change":
        return f"{'+' if goal['target'] >= 0 else ''}{number}%"
    op = "≥" if goal["op"] == ">=" else "≤"
    return f"sum {op} {number}" if goal["kind"] == "sum" else f"{op} {number}"


def form_lines(goals: list[dict]) -> dict:
    """Stored goals as the form's values (goal1_metric, goal1_target, …)."""
    values = {}
    for line, goal in enumerate(goals[:MAX_GOALS], start=1):
        values[f"goal{line}_metric"], values[f"goal{line}_target"] = goal["metric"], target_text(goal)
    return values
