"""Replicas and database outages, with the real app: a schedule change saved on the standby reaches
the active scheduler; an outage or the death of the active replica loses and repeats nothing;
/healthz tells the truth within a second; users hear that the database is unreachable; replicas
starting together on a fresh database both migrate.

Outages are real (tests/dbfaults.py): on PostgreSQL a proxy cuts and refuses connections; on
SQLite the file becomes unreachable. Scheduler clocks run a few seconds before a due time, so
nothing waits for the wall clock's minute.
"""

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

import templates
from clock import utcnow
from localslack.payloads import action, state_value
from models import workspaces
from models.db import make_engine, session_scope
from models.digests import Digest, digests
from tests.conftest import RunningTandem, make_settings, wait_until
from tests.dbfaults import FaultProxy, close_fault, fault_for, outage
from tests.digests.conftest import LEAD, define
from tests.slack import ADMIN, payloads
from tests.standups.conftest import REPORT, SHANGHAI, make_standup
from tests.standups.test_setup import command_modal, values
from tests.test_scheduler import Ahead
from tests.test_socket_mode import health

SHANGHAI_ZONE = ZoneInfo("Asia/Shanghai")
DUE = datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI_ZONE).astimezone(UTC)  # a Monday: standup and digest
FAST = {"scheduler_poll_seconds": 0.2, "scheduler_takeover_seconds": 0.5}  # the back-off, scaled down
ON_POSTGRES = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # replicas share one server


@pytest.fixture
def replicas(slack):
    """start(url, clock=…, **settings): a Tandem replica (HTTP mode, scheduler on) on that database."""
    running: list[RunningTandem] = []

    def start(url: str, clock=None, **overrides) -> RunningTandem:
        replica = RunningTandem(make_settings(slack, url, **{"scheduler_enabled": True, **FAST, **overrides}))
        if clock is not None:
            replica.tandem.scheduler.clock = clock
        running.append(replica.start())
        return replica

    yield start
    for replica in running:
        replica.stop()


@pytest.fixture
def fault(database_url):
    """(the URL to give the app, the fault that takes that database away)."""
    url, made = fault_for(database_url)
    yield url, made
    close_fault(made)


def role(replica) -> str:
    return replica.tandem.scheduler.role()


def active_and_standby(start, url, **kwargs):
    first = start(url, **kwargs)
    wait_until(lambda: role(first) == "active", message="the first replica to take the lock")
    second = start(url, **kwargs)
    time.sleep(0.6)  # the second has tried to take over at least once
    assert role(second) == "standby"
    return first, second


def setting_up(slack):
    slack.add_user(SHANGHAI, name="shan", real_name="Shan Hai", tz="Asia/Shanghai", locale="zh-CN")
    slack.add_channel(REPORT, "standup", members=[SHANGHAI, ADMIN])
    slack.add_channel(LEAD, "leadership", members=[ADMIN])
    slack.add_channel("C0TRIAGE", "product-triage", members=[ADMIN])


def submit_digest(sender, slack, view, **changes):
    fields = {"name": "weekly", "channel": LEAD, "weekday": "0", "time": "09:30", "timezone": "Asia/Shanghai",
              "metrics": ["DAU"], "thresholds": "", "template": "default", **changes}
    kinds = {"channel": "conversations_select", "weekday": "static_select", "metrics": "multi_static_select"}
    state = {k: {k: state_value(kinds.get(k, "plain_text_input"), v)} for k, v in fields.items()}
    response = sender.view_submission(ADMIN, view, state)
    assert response.status == 200 and not (response.json() or {}).get("errors"), response.text


@ON_POSTGRES
def test_a_change_saved_on_the_standby_reaches_the_active_scheduler_within_seconds(replicas, slack, database_url):
    """Every kind of change, each made through the standby's HTTP endpoint, with the default 1 s poll."""
    setting_up(slack)
    poll = {"scheduler_poll_seconds": 1.0}
    active, standby = active_and_standby(replicas, database_url, **poll)
    define(standby.engine, slack.team_id, ["DAU"])
    sender, lags = standby.sender(slack), []

    def reaches_active(what: str, holds) -> None:
        saved = time.monotonic()
        wait_until(lambda: holds(active.tandem.scheduler.jobs), timeout=5, message=f"the active scheduler to see {what}")
        lags.append(time.monotonic() - saved)

    sender.view_submission(ADMIN, command_modal(sender, slack, ADMIN, channel_id=REPORT),
                           values(participants=("multi_users_select", [SHANGHAI])))
    reaches_active("the first standup", lambda jobs: "standups:tick" in jobs)
    view = command_modal_for(sender, slack, "/request", "config")
    sender.view_submission(ADMIN, view, {
        "triage_channel": {"channel": state_value("conversations_select", "C0TRIAGE")},
        "team_mode": {"mode": state_value("radio_buttons", "channel")},
        "product_team": {"users": state_value("multi_users_select", [])}, "sla": {"days": state_value("number_input", "2")}})
    reaches_active("the SLA job", lambda jobs: f"requests:sla:{slack.team_id}" in jobs)
    submit_digest(sender, slack, command_modal_for(sender, slack, "/digest", "new weekly"))
    with session_scope(active.engine) as session:
        key = f"digests:{session.exec(sa.select(Digest.id)).scalar()}"
    reaches_active("the new digest", lambda jobs: key in jobs and "hour='9', minute='30'" in str(jobs[key].trigger))
    submit_digest(sender, slack, command_modal_for(sender, slack, "/digest", "edit weekly"), time="17:45")
    reaches_active("the edited digest", lambda jobs: "hour='17', minute='45'" in str(jobs[key].trigger))
    for words, present in (("pause weekly", False), ("resume weekly", True), ("delete weekly", False)):
        sender.command("/digest", words, user_id=ADMIN)
        reaches_active(f"/digest {words}", lambda jobs, present=present: (key in jobs) == present)
    for words in ("pause app-team", "resume app-team", "delete app-team"):
        response = sender.command("/standup", words, user_id=ADMIN)
        assert response.status == 200
    question = response.json()  # delete asks first: the Delete button (past Slack's confirm dialog) deletes
    sender.action(ADMIN, [action("standup_delete")], message={**question, "ts": "1700000000.000100"},
                  container={"type": "message", "is_ephemeral": True, "channel_id": REPORT})
    reaches_active("the last standup deleted", lambda jobs: "standups:tick" not in jobs)
    assert role(standby) == "standby" and role(active) == "active"
    assert max(lags) < 5.0, lags


def command_modal_for(sender, slack, command: str, text: str, user: str = ADMIN) -> dict:
    """Send a slash command and return the modal it opened."""
    opened = len([c for c in slack.calls_to("views.open") if c.ok])
    sender.command(command, text, user_id=user)
    wait_until(lambda: len([c for c in slack.calls_to("views.open") if c.ok]) > opened, message=f"the {text} modal")
    return slack.views[user]["modals"][-1]


def standup_and_digest_due(replica, slack) -> None:
    """A standup (09:30 Shanghai, every day, one participant) and a digest (Mondays 09:30 Shanghai)."""
    setting_up(slack)
    make_standup(replica, name="daily", zone_mode="team", timezone="Asia/Shanghai", participants=[SHANGHAI],
                 days=list("0123456"), prompt_time="09:30", channel=REPORT)
    define(replica.engine, slack.team_id, ["DAU"])
    with session_scope(replica.engine) as session:
        digests.save_digest(session, digest=Digest(
            team_id=slack.team_id, name="weekly", channel=LEAD, weekday=0, hour=9, minute=30,
            timezone="Asia/Shanghai", metrics=["DAU"], thresholds={}, template="default", owner=""),
            actor=ADMIN, actor_is_admin=True, now=utcnow())


def prompts(slack) -> list[dict]:
    channel = slack.dm_channel_of(SHANGHAI)
    return [m for m in (slack.messages(channel) if channel else []) if "standup_fill" in str(m.get("blocks"))]


def sent_once_on_time(slack, clock: Ahead, *, late: float) -> None:
    """One prompt DM and one digest, each within `late` seconds of the due time."""
    wait_until(lambda: prompts(slack) and slack.messages(LEAD), timeout=10, message="the prompt and the digest")
    time.sleep(1.0)  # a second send, if there were one, would arrive by now
    [prompt], [digest] = prompts(slack), slack.messages(LEAD)
    for message in (prompt, digest):
        assert float(message["ts"]) - clock.wall(DUE) < late


@ON_POSTGRES
def test_two_replicas_through_an_outage_send_the_standup_and_the_digest_once_on_time(replicas, slack, fault):
    """Connections cut and refused for 3 s; the prompt and the digest fall due 2 s after it ends."""
    url, proxy = fault
    clock = Ahead(DUE - timedelta(seconds=8))
    first, second = active_and_standby(replicas, url, clock=clock)
    standup_and_digest_due(first, slack)
    with outage(proxy, seconds=3):
        wait_until(lambda: role(first) != "active", message="the active replica to notice")
        time.sleep(3)
    assert clock() < DUE
    sent_once_on_time(slack, clock, late=2.0)
    assert sorted([role(first), role(second)]) == ["active", "standby"]


@ON_POSTGRES
def test_the_standby_takes_over_from_a_dead_active_replica_and_sends_once(replicas, slack, database_url):
    """The active replica's database connections are cut for good (from the server's side, as when
    its process is killed) 3 s before the due time: the standby takes over and sends, once."""
    proxies = [FaultProxy().start(), FaultProxy().start()]
    try:
        clock = Ahead(DUE - timedelta(seconds=5))
        first = replicas(proxies[0].url(database_url), clock=clock)
        wait_until(lambda: role(first) == "active", message="the first replica to take the lock")
        second = replicas(proxies[1].url(database_url), clock=clock)
        standup_and_digest_due(second, slack)
        while clock() < DUE - timedelta(seconds=3):
            time.sleep(0.05)
        proxies[0].down()
        killed = time.monotonic()
        assert clock() < DUE - timedelta(seconds=1)
        wait_until(lambda: role(second) == "active", timeout=5, message="the standby to take over")
        takeover = time.monotonic() - killed
        sent_once_on_time(slack, clock, late=2.0)
        assert takeover < 2.0  # takeover_seconds 0.5 here; 5 s by default
    finally:
        for proxy in proxies:
            proxy.stop()


def test_healthz_tells_the_truth_within_a_second_during_an_outage(replicas, slack, fault):
    url, made = fault
    replica = replicas(url)
    wait_until(lambda: health(replica)[1]["scheduler"] == "active", message="the scheduler to be active")
    assert health(replica) == (200, {"database": "ok", "slack": "http", "scheduler": "active",
                                     "version": replica.services.version})
    with outage(made):
        for _ in range(3):
            asked = time.monotonic()
            status, body = health(replica)
            assert time.monotonic() - asked < 1.0
            assert (status, body["database"]) == (503, "unreachable")
            assert body["scheduler"] in ("standby", "unverified")  # never "active" while it cannot be confirmed
            time.sleep(0.3)
    wait_until(lambda: health(replica) == (200, {"database": "ok", "slack": "http", "scheduler": "active",
                                                "version": replica.services.version}),
               message="healthz to recover")


def test_replicas_starting_together_on_a_fresh_database_both_migrate(postgres_url, repo_root):
    """Two processes, imports done, told to migrate at the same instant: both succeed."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"tandem_fresh_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    starting = ("import sys; from models.db import migrate; print('ready', flush=True); sys.stdin.readline(); "
                "migrate(sys.argv[1])")
    try:
        starts = [subprocess.Popen([sys.executable, "-c", starting, url], cwd=repo_root, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
        assert [start.stdout.readline().strip() for start in starts] == ["ready", "ready"]  # imports done
        for start in starts:
            start.stdin.write("go\n")
            start.stdin.flush()
        outputs = [start.communicate(timeout=60)[0] for start in starts]
        assert [start.returncode for start in starts] == [0, 0], outputs
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_while_the_database_is_down_users_hear_so_in_their_language(replicas, slack, fault):
    """Each way a user reaches Tandem gets the message: in the ack when it is still to be sent, else
    through the response_url, else in a modal. The language is the one remembered for the user,
    else the DEFAULT_LANGUAGE setting (zh_CN here, while this workspace chose English long ago)."""
    url, made = fault
    engine = make_engine(url)
    with session_scope(engine) as session:
        workspaces.get_workspace(session, team_id=slack.team_id, now=utcnow(), default_language="en")
    engine.dispose()
    replica = replicas(url, scheduler_enabled=False, default_language="zh_CN")
    sender = replica.sender(slack)
    english, chinese = (templates.render("database_unreachable.yaml.j2", language=language, modal=False)["text"]
                        for language in ("en", "zh_CN"))
    slack.add_user("UEN", locale="en-US")
    slack.add_user("UNEW", locale="en-US")  # never seen by Tandem
    assert sender.command("/request", "list", user_id="UEN").status == 200  # Tandem learns UEN's language
    form = command_modal_for(sender, slack, "/request", "new", user="UEN")
    with outage(made):
        quick = sender.command("/request", "list", user_id="UEN")  # answered in the ack
        assert (quick.status, quick.json()["text"]) == (200, english)
        slow = sender.command("/request", "new", user_id="UNEW")  # acked first, answered via response_url
        assert slow.status == 200
        assert wait_until(lambda: slack.responses(slow.sent["response_url"]))[0]["text"] == chinese
        click = sender.action("UEN", [payloads.action("request_accept", "1")], channel_id=REPORT)
        assert click.status == 200
        assert wait_until(lambda: slack.responses(click.sent["response_url"]))[0]["text"] == english
        home = sender.action("UNEW", [payloads.action("request_new_from_home")],
                             view={"id": "VHOME", "type": "home", "blocks": []})
        assert home.status == 200
        modal = wait_until(lambda: slack.views["UNEW"]["modals"], message="the modal")[-1]
        assert modal["blocks"][0]["text"]["text"] == chinese
        submitted = sender.view_submission("UEN", form, {})
        first_input = next(b["block_id"] for b in form["blocks"] if b["type"] == "input")
        assert (submitted.status, submitted.json()) == (200, {"response_action": "errors",
                                                              "errors": {first_input: english}})
