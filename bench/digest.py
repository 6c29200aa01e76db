"""How long a digest takes to compute and render, against the raw SQL aggregates of the same numbers.

    .venv/bin/python bench/digest.py [--points 1000000] [--requests 100000] [--iterations 20]
                                     [--cadence weekly|monthly|quarterly]
                                     [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

A fresh database (a SQLite file in a temporary directory; with --postgres a new database on that
server, dropped afterwards) is migrated and filled by bulk inserts (SQLAlchemy core executemany;
not timed): 400 metrics × 2,500 days = 1M metric points, and 100k requests over two years with
their accept/decline/done events. The digest reports 10 of the metrics (last, sum and average
aggregations mixed) for the last complete week (or month, or quarter: --cadence).

Timed, alternating, the median of --iterations runs each:

  digest  models.digests.week.compute + handlers.digests.rendering.render (the default template,
          in the sandbox), as a send does before queueing
  raw     hand-written SQL returning the same numbers: per metric the aggregates of the periods the
          digest charts (8 weeks, 6 months, 5 quarters; window function for "last"), request counts by kind and action, both medians, the shipped list,
          and the standup and approval aggregates (empty here: the queries run all the same)

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from handlers.digests import rendering  # noqa: E402
from models.db import make_engine, migrate, session_scope  # noqa: E402
from models.digests import Digest, Metric, MetricPoint, week  # noqa: E402
from models.digests import period as periods  # noqa: E402
from models.requests import KINDS, Request, RequestEvent  # noqa: E402

TARGET = 1.5
TEAM = "T0BENCH01"
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)  # a Monday: the digest reports 2026-W47
BATCH = 20_000


def fill(engine, *, points: int, requests: int) -> Digest:
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
    with session_scope(engine) as session:
        digest = Digest(team_id=TEAM, name="weekly", channel="C0LEAD", timezone="Asia/Shanghai",
                        metrics=[f"M{i:03d}" for i in range(0, 400, 40)], thresholds={"M000": 5}, owner="U0",
                        created_at=NOW)
        session.add(digest)
    return digest


def run_digest(engine, digest: Digest, period: periods.Period) -> dict:
    with session_scope(engine) as session:
        context = week.compute(session, digest=digest, period=period)
    rendering.render("", "default", language="en", context=context)
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
    return out


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--postgres")
    parser.add_argument("--cadence", choices=periods.CADENCES, default="weekly")
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
        digest = fill(engine, points=args.points, requests=args.requests)
        print(f"filled in {perf_counter() - began:.1f}s", file=sys.stderr)
        if engine.dialect.name == "sqlite":
            with engine.begin() as c:
                c.exec_driver_sql("ANALYZE")
        period = periods.last_complete(args.cadence, NOW, week.ZoneInfo(digest.timezone))
        same_numbers(run_digest(engine, digest, period), raw_sql(engine, digest, period))
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
            "requests": args.requests, "iterations": args.iterations, "digest_ms": round(digest_ms, 2),
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
