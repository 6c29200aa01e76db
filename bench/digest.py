"""How long a digest takes to compute and render, against the raw SQL aggregates of the same numbers.

    .venv/bin/python bench/digest.py [--points 1000000] [--requests 100000] [--iterations 20]
                                     [--activities 1000] [--cadence weekly|monthly|quarterly]
                                     [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

A fresh database (a SQLite file in a temporary directory; with --postgres a new database on that
server, dropped afterwards) is migrated and filled by bulk inserts (SQLAlchemy core executemany;
not timed): 400 metrics × 2,500 days = 1M metric points, and 100k requests over two years with
their accept/decline/done events, and --activities (1,000) activity requests with one to three
goals each, their daily progress rows (as the daily look writes them) and, for half of the ended
ones, a review. The digest reports 10 of the metrics (last, sum and average aggregations mixed)
for the last complete week (or month, or quarter: --cadence), and the activities section
(running with pace, ended with hit/missed and ROI, reviews due).

Timed, alternating, the median of --iterations runs each:

  digest  models.digests.week.compute + handlers.digests.rendering.render (the default template,
          in the sandbox), as a send does before queueing
  raw     hand-written SQL returning the same numbers: per metric the aggregates of the periods the
          digest charts (8 weeks, 6 months, 5 quarters; window function for "last"), request counts by kind and action, both medians, the shipped list,
          and the standup and approval aggregates (empty here: the queries run all the same), and
          the activities: those whose days touch the period, the reviews due, the latest progress
          day of each, the reviews

Checks both give the same numbers, then prints ONE JSON line: both medians, the ratio (target
<= 1.5), pass, and peak memory (tracemalloc peak of one digest; ru_maxrss of the process).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from handlers import metric_words  # noqa: E402
from handlers.digests import rendering  # noqa: E402
from models.activities import ActivityProgress, ActivityReview, ActivityWindow  # noqa: E402
from models.db import make_engine, migrate, session_scope  # noqa: E402
from models.digests import Digest, Metric, MetricPoint, week  # noqa: E402
from models.digests import period as periods  # noqa: E402
from models.requests import KINDS, Request, RequestEvent  # noqa: E402

TARGET = 1.5
TEAM = "T0BENCH01"
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)  # a Monday: the digest reports 2026-W47
BATCH = 20_000


def fill_activities(engine, *, count: int, first_number: int, rng: random.Random) -> None:
    """`count` activities with goals around NOW: running, ended lately, ended long ago; progress rows
    for each of their days up to yesterday; a review for half of the ended ones."""
    today = NOW.date()
    requests, plans = [], []
    for i in range(count):
        start = today + timedelta(days=rng.randint(-150, 10))  # a quarter back too: quarterly digests
        end = start + timedelta(days=rng.randint(6, 20))
        ended = end < today
        reviewed = ended and rng.random() < 0.5
        goals = [{"metric": f"M{rng.randrange(400):03d}", "kind": rng.choice(("absolute", "change", "sum")),
                  "op": ">=", "target": float(rng.randint(10, 1000))} for _ in range(rng.randint(1, 3))]
        starts = datetime.combine(start, datetime.min.time(), UTC) - timedelta(hours=8)  # local midnight, Shanghai
        fields = {"details": "bench", "expected_effect": "bench", "starts_at": starts.isoformat(),
                  "ends_at": (starts + timedelta(days=(end - start).days, hours=23)).isoformat(), "goals": goals}
        requests.append({"team_id": TEAM, "number": first_number + i, "kind": "activity", "title": f"Activity {i}",
                         "status": "reviewed" if reviewed else ("done" if ended else "in_progress"),
                         "priority": "P2", "requester": "U0OPS", "labels": [], "fields": fields, "version": 1,
                         "created_at": NOW - timedelta(days=90), "updated_at": NOW})
        plans.append((start, end, min(end, today - timedelta(days=1)), len(goals), reviewed))
    with engine.begin() as c:
        c.execute(sa.insert(Request), requests)
        ids = [r.id for r in c.execute(sa.select(Request.id).where(Request.number >= first_number)
                                       .order_by(Request.number))]
        progress, reviews = [], []
        c.execute(sa.insert(ActivityWindow), [  # as filing keeps it
            {"request_id": request_id, "team_id": TEAM, "first_day": start, "last_day": end}
            for request_id, (start, end, _last, _goals, _reviewed) in zip(ids, plans, strict=True)])
        for request_id, (start, _end, last, goals, reviewed) in zip(ids, plans, strict=True):
            day = start
            while day <= last:
                progress += [{"request_id": request_id, "team_id": TEAM, "goal": g, "day": day,
                              "value": rng.uniform(0, 1000), "pace_pct": rng.uniform(20, 180),
                              "way_pct": rng.uniform(0, 120), "hit": rng.random() < 0.5, "created_at": NOW}
                             for g in range(goals)]
                day += timedelta(days=1)
            if reviewed:
                reviews.append({"request_id": request_id, "team_id": TEAM, "author": "U0OPS", "worked": "",
                                "not_worked": "", "next_time": "", "results": [], "hit": rng.random() < 0.5,
                                "roi_pct": rng.uniform(-50, 300), "version": 1, "created_at": NOW,
                                "updated_at": NOW})
        for offset in range(0, len(progress), BATCH):
            c.execute(sa.insert(ActivityProgress), progress[offset:offset + BATCH])
        if reviews:
            c.execute(sa.insert(ActivityReview), reviews)


def fill(engine, *, points: int, requests: int, activities: int = 1000) -> Digest:
    rng = random.Random(7)
    n_metrics = 400
    days = points // n_metrics
    first_day = NOW.date() - timedelta(days=days)
    aggregations = ("last", "sum", "average")
    with engine.begin() as c:
        c.execute(sa.insert(Metric), [
            {"team_id": TEAM, "name": f"M{i:03d}", "label": f"Metric {i}", "unit": "", "target": 100.0,
             "direction": "higher", "aggregation": aggregations[i % 3], "created_by": "U0", "created_at": NOW}
            for i in range(n_metrics)])
        ids = [row.id for row in c.execute(sa.select(Metric.id).order_by(Metric.id))]
    rows = []
    for metric_id in ids:
        for d in range(days):
            rows.append({"metric_id": metric_id, "team_id": TEAM, "day": first_day + timedelta(days=d),
                         "value": round(rng.uniform(50, 150), 2), "source": "api", "recorded_by": "",
                         "recorded_at": NOW})
            if len(rows) >= BATCH:
                with engine.begin() as c:
                    c.execute(sa.insert(MetricPoint), rows)
                rows = []
    if rows:
        with engine.begin() as c:
            c.execute(sa.insert(MetricPoint), rows)
    span = timedelta(days=730).total_seconds()
    start = NOW - timedelta(days=730)
    for offset in range(0, requests, BATCH):
        batch, outcomes = [], []
        for number in range(offset + 1, min(requests, offset + BATCH) + 1):
            created = start + timedelta(seconds=rng.uniform(0, span))
            triaged = created + timedelta(hours=rng.uniform(0.5, 72))
            status = rng.choices(("done", "declined", "new"), (70, 20, 10))[0]
            done = triaged + timedelta(hours=rng.uniform(4, 400)) if status == "done" else None
            batch.append({"team_id": TEAM, "number": number, "kind": rng.choice(KINDS), "title": f"Request {number}",
                          "status": status, "priority": "P2", "requester": "U0OPS", "labels": [], "fields": {},
                          "version": 1, "created_at": created, "updated_at": created,
                          "triaged_at": triaged if status != "new" else None, "done_at": done})
            outcomes.append((status, triaged, done))
        with engine.begin() as c:
            c.execute(sa.insert(Request), batch)
            ids = [r.id for r in c.execute(sa.select(Request.id).where(Request.number > offset)
                                           .order_by(Request.number).limit(len(batch)))]
            events = []
            for request_id, (status, triaged, done) in zip(ids, outcomes, strict=True):
                if status == "declined":
                    events.append((request_id, "decline", triaged))
                elif status == "done":
                    events += [(request_id, "accept", triaged), (request_id, "done", done)]
            c.execute(sa.insert(RequestEvent), [
                {"request_id": r, "team_id": TEAM, "actor": "U0PM", "action": a, "detail": {}, "created_at": at}
                for r, a, at in events])
    if activities:
        fill_activities(engine, count=activities, first_number=requests + 1, rng=rng)
    with session_scope(engine) as session:
        digest = Digest(team_id=TEAM, name="weekly", channel="C0LEAD", timezone="Asia/Shanghai",
                        metrics=[f"M{i:03d}" for i in range(0, 400, 40)], thresholds={"M000": 5}, owner="U0",
                        created_at=NOW)
        session.add(digest)
    return digest


def run_digest(engine, digest: Digest, period: periods.Period) -> dict:
    with session_scope(engine) as session:
        context = week.compute(session, digest=digest, period=period)
    # As a send does: the metric rows in the reader's words and currency, then the template.
    rendering.render("", "default", language="en",
                     context=metric_words.digest_context(context, language="en", currency="USD"))
    return context


def raw_sql(engine, digest: Digest, period: periods.Period) -> dict:
    start, end = period.bounds(week.ZoneInfo(digest.timezone))
    spans = periods.history(period)
    first = spans[0].start
    pg = engine.dialect.name == "postgresql"
    if period.kind == "week":
        week_of = "((day - :first) / 7)" if pg else "CAST((julianday(day) - julianday(:first)) / 7 AS INTEGER)"
    else:  # calendar months and quarters are not of one length: bucket by their first days
        week_of = "(CASE " + " ".join(f"WHEN day < '{span.end}' THEN {i}" for i, span in enumerate(spans)) + " END)"
    hours = ("EXTRACT(EPOCH FROM ({b} - {a})) / 3600" if pg else "(julianday({b}) - julianday({a})) * 24")
    args = {"first": first, "stop": spans[-1].end, "team": TEAM,
            "start": start if pg else start.replace(tzinfo=None), "end": end if pg else end.replace(tzinfo=None)}
    out = {"metrics": {}, "requests": {}}
    with engine.connect() as c:
        for metric_id, name, how in c.execute(sa.text(
                "SELECT id, name, aggregation FROM metric WHERE team_id = :team AND name IN :names")
                .bindparams(sa.bindparam("names", expanding=True)), {"team": TEAM, "names": digest.metrics}):
            where = "metric_id = :m AND day >= :first AND day < :stop"
            if how == "last":
                sql = (f"SELECT w, value FROM (SELECT {week_of} AS w, value, ROW_NUMBER() OVER (PARTITION BY "
                       f"{week_of} ORDER BY day DESC) AS rn FROM metric_point WHERE {where}) x WHERE rn = 1")
            else:
                sql = f"SELECT {week_of} AS w, {how.replace('average', 'AVG')}(value) FROM metric_point " \
                      f"WHERE {where} GROUP BY 1"
            out["metrics"][name] = dict(c.execute(sa.text(sql), {**args, "m": metric_id}).all())
        out["requests"]["opened"] = dict(c.execute(sa.text(
            "SELECT kind, COUNT(*) FROM request WHERE team_id = :team AND created_at >= :start AND created_at < :end "
            "GROUP BY kind"), args).all())
        out["requests"]["moves"] = {(k, a): n for k, a, n in c.execute(sa.text(
            "SELECT r.kind, e.action, COUNT(*) FROM request_event e JOIN request r ON r.id = e.request_id "
            "WHERE e.team_id = :team AND e.created_at >= :start AND e.created_at < :end "
            "AND e.action IN ('accept', 'decline', 'done') GROUP BY r.kind, e.action"), args)}
        for label, column, extra in (("triage", "triaged_at", ""), ("done", "done_at", "AND status = 'done'")):
            where = f"team_id = :team AND {column} >= :start AND {column} < :end {extra}"
            n = c.execute(sa.text(f"SELECT COUNT(*) FROM request WHERE {where}"), args).scalar()
            middle = c.execute(sa.text(f"SELECT {hours.format(a='created_at', b=column)} AS h FROM request "
                                       f"WHERE {where} ORDER BY h LIMIT :k OFFSET :o"),
                               {**args, "k": 2 - n % 2, "o": (n - 1) // 2}).scalars().all()
            out["requests"][label] = round(sum(middle) / len(middle), 1) if middle else None
        out["requests"]["shipped"] = c.execute(sa.text(
            "SELECT number, title, kind FROM request WHERE team_id = :team AND status = 'done' AND done_at >= :start "
            "AND done_at < :end ORDER BY done_at LIMIT 15"), args).all()
        # standups and approvals (the bench workspace has none; the queries still run, as in a digest)
        args["monday"], args["next"] = period.start, period.end
        out["standups"] = c.execute(sa.text(
            "SELECT COUNT(*), SUM(CASE WHEN a.status = 'answered' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN a.has_blocker THEN 1 ELSE 0 END) FROM standup_run r LEFT JOIN standup_answer a "
            "ON a.run_id = r.id WHERE r.team_id = :team AND r.local_date >= :monday AND r.local_date < :next"),
            args).one()
        out["approvals"] = [c.execute(sa.text(sql), args).all() for sql in (
            "SELECT status, COUNT(*) FROM approval_run WHERE team_id = :team AND finished_at >= :start "
            "AND finished_at < :end AND status IN ('approved', 'rejected') GROUP BY status",
            "SELECT e.stage_name, COUNT(*) FROM approval_event e JOIN approval_event s ON s.run_id = e.run_id "
            "AND s.stage = e.stage AND s.action IN ('started', 'stage_started') WHERE e.team_id = :team "
            "AND e.action = 'stage_completed' AND e.created_at >= :start AND e.created_at < :end "
            "GROUP BY e.stage_name",
            "SELECT r.number, r.fields FROM request r WHERE r.team_id = :team AND r.kind = 'activity' AND r.status "
            "IN ('accepted', 'in_progress') AND EXISTS (SELECT 1 FROM approval_run a WHERE a.request_id = r.id "
            "AND a.status = 'approved')",
            "SELECT r.number, a.stage_started_at FROM approval_run a JOIN request r ON r.id = a.request_id "
            "WHERE a.team_id = :team AND a.status = 'running' ORDER BY a.stage_started_at LIMIT 5")]
        out["activities"] = raw_activities(c, first=period.start, last=period.last_day)
    return out


def raw_activities(c, *, first: date, last: date) -> dict:
    """The activities section by hand: the activities whose days touch the period, the reviews due
    (count and the first 10), the latest progress day of each running or ended one, the reviews."""
    args = {"team": TEAM, "first": first, "last": last, "due_by": last - timedelta(days=2)}
    near = c.execute(sa.text(
        "SELECT r.id, r.number, w.first_day, w.last_day FROM activity_window w JOIN request r ON r.id = w.request_id "
        "WHERE w.team_id = :team AND w.last_day >= :first AND w.first_day <= :last "
        "AND r.status IN ('accepted', 'in_progress', 'done', 'reviewed') ORDER BY r.number"), args).all()
    as_day = (lambda v: v) if not near or isinstance(near[0].last_day, date) else date.fromisoformat
    running = [r for r in near if as_day(r.first_day) <= last < as_day(r.last_day)]
    ended = [r for r in near if first <= as_day(r.last_day) <= last]
    waiting = ("FROM activity_window w JOIN request r ON r.id = w.request_id WHERE w.team_id = :team "
               "AND w.last_day <= :due_by AND r.status IN ('accepted', 'in_progress', 'done')")
    due_count = c.execute(sa.text(f"SELECT COUNT(*) {waiting}"), args).scalar()
    c.execute(sa.text(f"SELECT r.number, r.title, w.last_day {waiting} ORDER BY r.number LIMIT 10"), args).all()
    latest = {}
    ids = [r.id for r in running + ended] or [-1]
    for request_id, pace, hits, goals in c.execute(sa.text(
            "SELECT p.request_id, MIN(p.pace_pct), SUM(CASE WHEN p.hit THEN 1 ELSE 0 END), COUNT(*) "
            "FROM activity_progress p WHERE p.request_id IN :ids AND p.day = (SELECT MAX(q.day) FROM "
            "activity_progress q WHERE q.request_id = p.request_id AND q.day <= :last) GROUP BY p.request_id")
            .bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids, "last": last}):
        latest[request_id] = (pace, hits == goals)
    reviews = {r.request_id: (None if r.hit is None else bool(r.hit), r.roi_pct) for r in c.execute(sa.text(
        "SELECT request_id, hit, roi_pct FROM activity_review WHERE request_id IN :ids")
        .bindparams(sa.bindparam("ids", expanding=True)), {"ids": [r.id for r in ended] or [-1]})}
    hit_of = {r.id: reviews[r.id][0] if r.id in reviews and reviews[r.id][0] is not None
              else latest.get(r.id, (None, None))[1] for r in ended}
    return {"running": [(f"REQ-{r.number}", round(latest[r.id][0]) if r.id in latest else None)
                        for r in running[:10]],
            "running_count": len(running), "ended_count": len(ended), "due_count": due_count,
            "hit": sum(1 for h in hit_of.values() if h), "missed": sum(1 for h in hit_of.values() if h is False)}


def same_numbers(context: dict, raw: dict) -> None:
    for metric in context["metrics"]:
        expected = [raw["metrics"][metric["name"]].get(i) for i in range(len(metric["history"]))]
        assert all(a is None and b is None or abs(a - b) < 1e-6 for a, b in zip(metric["history"], expected,
                                                                               strict=True)), metric["name"]
    requests = context["requests"]
    assert requests["counts"]["opened"] == {k: raw["requests"]["opened"].get(k, 0) for k in KINDS}
    assert requests["counts"]["done"] == {k: raw["requests"]["moves"].get((k, "done"), 0) for k in KINDS}
    assert requests["median_triage_hours"] == raw["requests"]["triage"], (requests, raw["requests"])
    assert requests["median_done_hours"] == raw["requests"]["done"]
    assert [s["ref"] for s in requests["shipped"]] == [f"REQ-{n}" for n, _t, _k in raw["requests"]["shipped"]]
    mine = context["sections"].get("activities") or dict.fromkeys(
        ("running_count", "ended_count", "due_count", "hit", "missed"), 0)
    mine.setdefault("running", [])
    theirs = raw["activities"]
    assert [(a["ref"], a["pace_pct"]) for a in mine["running"]] == theirs["running"], (mine["running"], theirs)
    for name in ("running_count", "ended_count", "due_count", "hit", "missed"):
        assert mine[name] == theirs[name], (name, mine[name], theirs[name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--postgres")
    parser.add_argument("--cadence", choices=periods.CADENCES, default="weekly")
    parser.add_argument("--activities", type=int, default=1000)
    args = parser.parse_args()
    admin = name = None
    if args.postgres:
        name = f"tandem_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = args.postgres.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='tandem-bench-')}/digest.db"
    try:
        migrate(url)
        engine = make_engine(url)
        began = perf_counter()
        digest = fill(engine, points=args.points, requests=args.requests, activities=args.activities)
        print(f"filled in {perf_counter() - began:.1f}s", file=sys.stderr)
        if engine.dialect.name == "sqlite":
            with engine.begin() as c:
                c.exec_driver_sql("ANALYZE")
        period = periods.last_complete(args.cadence, NOW, week.ZoneInfo(digest.timezone))
        checked = run_digest(engine, digest, period)
        same_numbers(checked, raw_sql(engine, digest, period))
        section = checked["sections"].get("activities") or {}
        timings = {"digest": [], "raw": []}
        for _ in range(args.iterations):
            for label, function in (("digest", run_digest), ("raw", raw_sql)):
                began = perf_counter()
                function(engine, digest, period)
                timings[label].append(perf_counter() - began)
        tracemalloc.start()
        run_digest(engine, digest, period)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        digest_ms = statistics.median(timings["digest"]) * 1000
        raw_ms = statistics.median(timings["raw"]) * 1000
        ratio = digest_ms / raw_ms
        print(json.dumps({
            "bench": "digest", "database": engine.dialect.name, "cadence": args.cadence, "metric_points": args.points,
            "period": period.label, "requests": args.requests, "activities": args.activities,
            "activity_section": {k: section.get(k, 0) for k in ("running_count", "ended_count", "due_count")},
            "iterations": args.iterations, "digest_ms": round(digest_ms, 2),
            "raw_sql_ms": round(raw_ms, 2), "ratio": round(ratio, 3), "target": TARGET, "pass": ratio <= TARGET,
            "digest_peak_kib": round(peak / 1024), "process_max_rss_mib": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
        engine.dispose()
    finally:
        if admin is not None:
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
