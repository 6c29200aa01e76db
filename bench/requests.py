"""How `/request list` and the App Home's requests part scale: 1k requests next to 100k, same run.

    .venv/bin/python bench/requests.py [--iterations 200] [--sizes 1000,100000]
                                       [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

For each size a fresh database is migrated (a SQLite file in a temporary directory by default; with
--postgres, a new database on that server, dropped afterwards) and filled with realistic requests
by bulk inserts (SQLAlchemy core executemany; not timed): several requesters, assignees and labels,
English and Chinese titles, the kinds' own fields, an audit trail, and most requests closed (done,
declined, duplicate) with 4% open, spread over the whole history. The timed user, a product manager,
files and owns more than the others, so that even the 1k workspace fills every page they see.

Then, alternating between the sizes so that drift hits both alike, it times:

  list   handlers.requests.finding.list_reply: `/request list`, `/request list open`, `/request list mine`
  home   what publish_home does before views.publish: the language, finding.home_context (my open,
         assigned to me, needs triage: a product-team member sees all three) and rendering home.yaml.j2

with Services built as bot.build builds them, talking to localslack's LocalSlack for users.info.
Prints ONE JSON line: p95 per size, the 100k/1k ratios and pass (ratio <= 1.3). Diagnostics and the
per-filter figures go to stderr; --explain prints the query plans of the list and Home queries.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

import templates  # noqa: E402
from delivery import Delivery  # noqa: E402
from handlers.common import Services  # noqa: E402
from handlers.requests import finding  # noqa: E402
from localslack import LocalSlack  # noqa: E402
from models.db import make_engine, migrate  # noqa: E402
from models.requests import Request, RequestConfig, RequestEvent, RequestLabel  # noqa: E402
from settings import Settings  # noqa: E402

TARGET = 1.3
TEAM_ID = "T0BENCH01"
PM = "U0BENCHPM"                     # the product manager whose list and Home are timed
REQUESTERS = [PM] + [f"U0OPS{i:02d}" for i in range(11)]
ASSIGNEES = [PM] + [f"U0ENG{i:02d}" for i in range(7)]
LABELS = ["q4", "growth", "checkout", "search", "ios", "android", "data", "campaign", "retention", "payments"]
# status → weight (per cent): most requests are closed; a few per cent are open.
STATUSES = {"done": 71.0, "declined": 16.0, "duplicate": 9.0, "new": 1.5, "need_info": 0.5,
            "accepted": 1.2, "in_progress": 0.8}
# The product manager is busier than the rest (weight 4 against 1 each), so that even with 1k
# requests each of their Home sections and lists has a full page: the two sizes then show the same
# number of items, and the ratio measures how the queries scale, not how much there is to show.
REQUESTER_WEIGHTS = {user: 4 if user == PM else 1 for user in REQUESTERS}
ASSIGNEE_WEIGHTS = {user: 4 if user == PM else 1 for user in ASSIGNEES}
KINDS = {"activity": 40, "optimisation": 35, "feature": 25}
PRIORITIES = {"P0": 5, "P1": 20, "P2": 55, "P3": 20}
TITLES = ["Double 11 campaign landing page", "双十一会场页面改版", "Faster CSV export", "搜索结果排序优化",
          "Dark mode for the merchant app", "新用户首单立减活动", "Retention push for lapsed users",
          "Checkout: remember the last address", "直播间优惠券", "Weekly cohort dashboard", "会员日 🎉 拉新活动",
          "Reduce app start time on Android"]
LIST_VARIANTS = {"all": [], "open": ["open"], "mine": ["mine"]}


def log(message: str) -> None:
    print(f"[bench/requests] {message}", file=sys.stderr, flush=True)


def pick(rng: random.Random, weights: dict) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# -- data -------------------------------------------------------------------------------------
def fields_for(kind: str, rng: random.Random, now: datetime) -> dict:
    if kind == "activity":
        starts = now + timedelta(days=rng.randint(1, 60))
        return {"details": "会场主图、推送和短信，预算见附件。Banner, push and SMS.", "expected_effect": "+5% GMV",
                "support": rng.sample(["design", "engineering", "data", "copywriting", "budget"], 2),
                "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(days=3)).isoformat(),
                "target_metric": "GMV", "target_value": "5", "budget_amount": "20000", "budget_currency": "CNY"}
    if kind == "optimisation":
        return {"current_problem": "Search takes 3 s on Android", "proposed_change": "Cache the first page",
                "affected": "All Android users", "evidence_link": "https://example.com/dash/42"}
    return {"problem": "Ops export data by hand every week", "user_story": "As ops I want a weekly export",
            "expected_value": "2 hours a week saved"}


def fill(url: str, size: int, *, seed: int = 7) -> None:
    """Bulk-insert `size` requests (and their labels and audit events) into a migrated database."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    first = now - timedelta(minutes=15 * size)  # one request every 15 minutes, the newest just now
    engine = make_engine(url)
    requests, labels, events = [], [], []
    for number in range(1, size + 1):
        created = first + timedelta(minutes=15 * number)
        kind, status = pick(rng, KINDS), pick(rng, STATUSES)
        requester = pick(rng, REQUESTER_WEIGHTS)
        assignee = pick(rng, ASSIGNEE_WEIGHTS) if status in ("accepted", "in_progress", "done") or rng.random() < 0.1 \
            else None
        triaged = created + timedelta(hours=rng.randint(1, 30)) if status not in ("new",) else None
        done = triaged + timedelta(days=rng.randint(1, 20)) if status == "done" else None
        chosen = rng.sample(LABELS, rng.choice((0, 1, 1, 2, 3)))
        requests.append({
            "id": number, "team_id": TEAM_ID, "number": number, "kind": kind, "title": rng.choice(TITLES),
            "status": status, "priority": pick(rng, PRIORITIES), "requester": requester, "assignee": assignee,
            "wanted_by": date.fromordinal(created.date().toordinal() + 30) if rng.random() < 0.5 else None,
            "labels": chosen, "fields": fields_for(kind, rng, created), "duplicate_of": None,
            "source_permalink": None, "version": 1 + (status != "new") + (done is not None),
            "created_at": created, "updated_at": done or triaged or created, "triaged_at": triaged, "done_at": done,
        })
        labels += [{"request_id": number, "label": label, "team_id": TEAM_ID} for label in chosen]
        trail = [("filed", None, "new", requester, created)]
        if triaged:
            to = "accepted" if status in ("accepted", "in_progress", "done") else status
            trail.append(({"accepted": "accept", "need_info": "need_info", "declined": "decline",
                           "duplicate": "duplicate"}[to], "new", to, PM, triaged))
        if done:
            trail.append(("done", "accepted", "done", assignee or PM, done))
        events += [{"request_id": number, "team_id": TEAM_ID, "actor": actor, "action": action,
                    "from_status": before, "to_status": after, "reason": "不在本季度计划内" if after == "declined" else None,
                    "detail": {}, "created_at": moment} for action, before, after, actor, moment in trail]
    with engine.begin() as connection:
        for table, rows in ((Request.__table__, requests), (RequestLabel.__table__, labels),
                            (RequestEvent.__table__, events)):
            for start in range(0, len(rows), 5000):
                connection.execute(table.insert(), rows[start:start + 5000])
        connection.execute(RequestConfig.__table__.insert(), [{
            "team_id": TEAM_ID, "triage_channel": "C0TRIAGE", "product_team_mode": "users", "product_team": [PM],
            "sla_business_days": 1, "last_number": size, "updated_at": now}])
        if engine.dialect.name == "postgresql":  # identity columns continue after the explicit ids
            connection.execute(sa.text("SELECT setval(pg_get_serial_sequence('request', 'id'), :n)"), {"n": size})
    # What autovacuum does on a live PostgreSQL after a bulk load: statistics and the visibility map.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


# -- databases --------------------------------------------------------------------------------
class Databases:
    """A fresh database per size: SQLite files in a temporary directory, or PostgreSQL databases."""

    def __init__(self, postgres: str | None):
        self.postgres = postgres
        self.tmp = tempfile.TemporaryDirectory(prefix="tandem-bench-")
        self.made: list[str] = []

    def new(self, size: int) -> str:
        if not self.postgres:
            return f"sqlite:///{self.tmp.name}/requests-{size}.db"
        name = f"tandem_bench_{size}_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(self.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.made.append(name)
        return self.postgres.rsplit("/", 1)[0] + "/" + name

    def close(self) -> None:
        if self.made:
            admin = sa.create_engine(self.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                for name in self.made:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        self.tmp.cleanup()


def services_for(url: str, slack: LocalSlack) -> Services:
    """Services as bot.build makes them (no Bolt app, no scheduler): the engine, Delivery, a pool."""
    settings = Settings(_env_file=None, slack_bot_token=slack.bot_token, slack_api_url=slack.api_url,
                        database_url=url, scheduler_enabled=False, log_level="WARNING")
    engine = make_engine(url)
    delivery = Delivery(token=settings.slack_bot_token, api_url=settings.slack_api_url, engine=engine)
    return Services(settings=settings, engine=engine, delivery=delivery,
                    executor=ThreadPoolExecutor(max_workers=2), version="bench")


# -- what is timed ----------------------------------------------------------------------------
def list_once(services: Services, words: list[str]) -> dict:
    return finding.list_reply(services, command={"team_id": TEAM_ID, "user_id": PM}, words=words)


def home_once(services: Services) -> dict:
    language = services.language_of(TEAM_ID, PM)
    return templates.render("home.yaml.j2", language=language, version=services.version,
                            **finding.home_context(services, TEAM_ID, PM))


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000


def explain(services: Services) -> None:
    """The plans of every statement one list of each kind and one Home tab run (stderr)."""
    engine = services.engine
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT") and "request" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for words in LIST_VARIANTS.values():
            list_once(services, words)
        home_once(services)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    with engine.connect() as connection:
        for statement, parameters in seen:
            rows = connection.exec_driver_sql(prefix + statement, parameters).all()
            plan = "\n    ".join(" ".join(str(c) for c in row) for row in rows)
            log(f"{' '.join(statement.split())[:400]}\n  params {parameters}\n    {plan}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sizes", default="1000,100000", help="two sizes: small,large")
    parser.add_argument("--postgres", help="a PostgreSQL server URL (its admin database); default: SQLite files")
    parser.add_argument("--explain", action="store_true", help="print the query plans (stderr)")
    args = parser.parse_args(argv)
    small, large = (int(s) for s in args.sizes.split(","))

    slack = LocalSlack(team_id=TEAM_ID)
    slack.start()
    for user in {*REQUESTERS, *ASSIGNEES}:
        slack.add_user(user, name=user.lower())
    databases = Databases(args.postgres)
    try:
        services = {}
        for size in (small, large):
            url = databases.new(size)
            started = perf_counter()
            migrate(url)
            fill(url, size)
            services[size] = services_for(url, slack)
            home = finding.home_context(services[size], TEAM_ID, PM)["requests_home"]
            log(f"{size} requests in {url.split('@')[-1]} ready in {perf_counter() - started:.1f}s; the timed user "
                "has " + ", ".join(f"{name} {section['count']}" for name, section in home.items()))
        if args.explain:
            for size in (small, large):
                log(f"--- plans with {size} requests")
                explain(services[size])

        samples = {size: {**{f"list {v}": [] for v in LIST_VARIANTS}, "home": []} for size in (small, large)}
        for i in range(args.warmup + args.iterations):
            for size in (small, large):
                for variant, words in LIST_VARIANTS.items():
                    start = perf_counter()
                    list_once(services[size], words)
                    if i >= args.warmup:
                        samples[size][f"list {variant}"].append(perf_counter() - start)
                start = perf_counter()
                home_once(services[size])
                if i >= args.warmup:
                    samples[size]["home"].append(perf_counter() - start)
        for name in samples[small]:
            a, b = p95(samples[small][name]), p95(samples[large][name])
            log(f"{name:12s} p95 {a:7.2f} ms with {small}, {b:7.2f} ms with {large}: ratio {b / a:.2f}")

        def pooled(size, kind):
            return p95([s for name, values in samples[size].items() if name.startswith(kind) for s in values])

        p = {"list_1k": pooled(small, "list"), "list_100k": pooled(large, "list"),
             "home_1k": pooled(small, "home"), "home_100k": pooled(large, "home")}
        ratio_list, ratio_home = p["list_100k"] / p["list_1k"], p["home_100k"] / p["home_1k"]
        ratio = max(ratio_list, ratio_home)
        print(json.dumps({
            "bench": "requests", "database": "postgresql" if args.postgres else "sqlite",
            "sizes": [small, large], "iterations": args.iterations,
            "p95_ms": {k: round(v, 3) for k, v in p.items()},
            "ratio_list": round(ratio_list, 3), "ratio_home": round(ratio_home, 3), "ratio": round(ratio, 3),
            "target": TARGET, "pass": ratio <= TARGET,
        }), flush=True)
        for s in services.values():
            s.engine.dispose()
            s.executor.shutdown()
    finally:
        databases.close()
        slack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
