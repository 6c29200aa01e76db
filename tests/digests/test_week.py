"""A digest's week computed by hand: weekly aggregation, ▲/▼ with %, target and threshold flags,
request numbers and medians, and ISO weeks in the digest's zone across DST changes."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.db import session_scope
from models.digests import period, week
from tests.digests.conftest import add_request, make_digest, seeded_metrics

W46, W47 = date(2026, 11, 9), date(2026, 11, 16)


def test_metric_values_changes_and_flags(engine):
    seeded_metrics(engine, "T1", W46, W47)
    digest = make_digest(engine, "T1", thresholds={"DAU": 10, "CAC": 15, "NPS": 1})
    with session_scope(engine) as session:
        numbers = week.compute(session, digest=digest, monday=W47)
    dau, cac, nps = numbers["metrics"]
    assert (dau["value"], dau["previous"], dau["delta"], dau["pct"], dau["arrow"]) == (130, 110, 20, 18.2, "▲")
    assert (dau["off_target"], dau["past_threshold"], dau["good"]) == (True, True, True)  # 130 < 150; 18.2 > 10
    assert (cac["value"], cac["previous"], cac["delta"], cac["pct"], cac["arrow"]) == (45, 50, -5, -10.0, "▼")
    assert (cac["off_target"], cac["past_threshold"], cac["good"]) == (True, False, True)  # 45 > 40; 10 < 15
    assert (nps["value"], nps["previous"], nps["delta"], nps["pct"], nps["arrow"]) == (35, 35, 0, 0.0, "")
    assert (nps["off_target"], nps["past_threshold"]) == (False, False)  # no target; 0 % is not past 1 %
    assert dau["history"] == [None] * 6 + [110, 130]
    assert numbers["week"] == {"label": "2026-W47", "start": "2026-11-16", "end": "2026-11-22", "zone": "UTC",
                               "hours": 168, "weeks": [f"2026-W{n}" for n in range(40, 48)]}


def test_change_from_zero_or_nothing_has_no_percentage():
    assert week.change(5, 0) == (5, None)
    assert week.change(None, 3) == (None, None)
    assert week.change(90, 120) == (-30, -25.0)


def test_request_counts_by_kind_and_medians(engine):
    start = datetime(2026, 11, 16, tzinfo=UTC)
    h = timedelta(hours=1)
    # W47: opened 3 features + 1 activity; triaged after 2 h, 4 h, 10 h → median 4 h; done after 24 h and 48 h → 36 h
    add_request(engine, "T1", 1, created=start + 1 * h, triaged=start + 3 * h, done=start + 25 * h, status="done",
                events=(("accept", start + 3 * h), ("done", start + 25 * h)))
    add_request(engine, "T1", 2, created=start + 2 * h, triaged=start + 6 * h, done=start + 50 * h, status="done",
                events=(("accept", start + 6 * h), ("done", start + 50 * h)))
    add_request(engine, "T1", 3, created=start + 5 * h, triaged=start + 15 * h, status="declined",
                events=(("decline", start + 15 * h),))
    add_request(engine, "T1", 4, kind="activity", created=start + 7 * h)
    add_request(engine, "T1", 5, created=start - 1 * h, triaged=start - h / 2)  # the week before: not counted
    add_request(engine, "T2", 1, created=start + 1 * h)  # another workspace
    with session_scope(engine) as session:
        stats = week.request_stats(session, team_id="T1", start=start, end=start + timedelta(days=7))
    assert stats["counts"]["opened"] == {"activity": 1, "optimisation": 0, "feature": 3}
    assert stats["totals"] == {"opened": 4, "accepted": 2, "done": 2, "declined": 1}
    assert (stats["median_triage_hours"], stats["median_done_hours"]) == (4.0, 36.0)
    assert [s["ref"] for s in stats["shipped"]] == ["REQ-1", "REQ-2"]


@pytest.mark.parametrize(("zone", "monday", "hours", "start_utc"), [
    ("Europe/Berlin", date(2026, 10, 19), 169, datetime(2026, 10, 18, 22, tzinfo=UTC)),    # CEST → CET
    ("America/New_York", date(2026, 3, 2), 167, datetime(2026, 3, 2, 5, tzinfo=UTC)),      # EST → EDT
    ("Asia/Shanghai", date(2026, 11, 16), 168, datetime(2026, 11, 15, 16, tzinfo=UTC)),
])
def test_iso_weeks_in_the_digests_zone_across_dst(zone, monday, hours, start_utc):
    start, end = week.bounds(monday, ZoneInfo(zone))
    assert start == start_utc and (end - start) == timedelta(hours=hours)


def test_a_request_counts_in_the_week_of_the_digests_zone(engine):
    # Sunday 2026-10-18 22:30 UTC is Monday 00:30 in Berlin: week 43 there, week 42 in UTC.
    add_request(engine, "T1", 1, created=datetime(2026, 10, 18, 22, 30, tzinfo=UTC))
    with session_scope(engine) as session:
        for zone, w42, w43 in (("Europe/Berlin", 0, 1), ("UTC", 1, 0)):
            counted = [week.request_stats(session, team_id="T1", start=s, end=e)["totals"]["opened"]
                       for s, e in (week.bounds(date(2026, 10, 12), ZoneInfo(zone)),
                                    week.bounds(date(2026, 10, 19), ZoneInfo(zone)))]
            assert counted == [w42, w43], zone
    # The last complete week as the digest's zone sees it, just after midnight on a Monday in Berlin.
    now = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)  # Monday 00:30 CET
    assert week.last_complete_week(now, ZoneInfo("Europe/Berlin")) == date(2026, 10, 19)
    assert week.last_complete_week(now, UTC) == date(2026, 10, 12)


def test_standup_participation_on_time_and_blockers(engine):
    from models.standups.tables import Standup, StandupAnswer, StandupRun

    now = datetime(2026, 11, 20, tzinfo=UTC)
    with session_scope(engine) as session:
        standup = Standup(team_id="T1", name="eng", name_key="eng", channel="C1", owner="U1", prompt_time="09:30",
                          names={"A": "Alice Chen"}, created_at=now, updated_at=now)
        session.add(standup)
        session.flush()
        # W47: Monday 3 people (C away), Tuesday 3 people; the Sunday before (W46) is not counted.
        runs = [StandupRun(standup_id=standup.id, team_id="T1", local_date=day, participants=["A", "B", "C"],
                           away=away, report_at=now, created_at=now)
                for day, away in ((W47, ["C"]), (W47 + timedelta(days=1), []), (W47 - timedelta(days=1), []))]
        session.add_all(runs)
        session.flush()
        answers = [(runs[0], "A", "answered", True, False), (runs[0], "B", "answered", False, True),
                   (runs[1], "A", "answered", True, True), (runs[1], "B", "skipped", True, False),
                   (runs[2], "A", "answered", True, True)]
        session.add_all(StandupAnswer(run_id=r.id, team_id="T1", user_id=u, status=st, on_time=ot, has_blocker=b,
                                      answered_at=now, updated_at=now) for r, u, st, ot, b in answers)
    with session_scope(engine) as session:
        stats = week.builtin.standup_stats(session, team_id="T1", first=W47, end=W47 + timedelta(weeks=1))
        assert week.builtin.standup_stats(session, team_id="T1", first=W47 + timedelta(weeks=1),
                                          end=W47 + timedelta(weeks=2)) is None
    # expected 2 + 3 = 5; answered 3 → 60 %; on time 2 of 3 → 66.7 %; blockers: B on Monday, A on Tuesday
    assert {k: stats[k] for k in ("runs", "expected", "answered", "participation_pct", "on_time_pct", "blockers")} \
        == {"runs": 2, "expected": 5, "answered": 3, "participation_pct": 60.0, "on_time_pct": 66.7, "blockers": 2}
    assert stats["blocker_rows"] == [{"user": "B", "name": "B", "standup": "eng", "day": "2026-11-16"},
                                     {"user": "A", "name": "Alice Chen", "standup": "eng", "day": "2026-11-17"}]


def test_approvals_of_the_week(engine):
    from models.approvals.tables import ApprovalEvent, ApprovalRun
    from models.requests import Request

    t0, h = datetime(2026, 11, 17, 1, tzinfo=UTC), timedelta(hours=1)
    stages = [{"name": "Ops lead"}, {"name": "Budget owner"}]
    with session_scope(engine) as session:
        def request(number, status, starts=None):
            row = Request(team_id="T1", number=number, kind="activity", title=f"Sale {number}", status=status,
                          requester="U0", fields={"starts_at": starts} if starts else {}, created_at=t0,
                          updated_at=t0)
            session.add(row)
            session.flush()
            return row

        def approval_run(req, status, finished=None, current=0, since=t0):
            row = ApprovalRun(team_id="T1", request_id=req.id, stages=stages, status=status, current_stage=current,
                              stage_started_at=since, stage_remind_at=since, stage_due_at=since, created_at=t0,
                              finished_at=finished)
            session.add(row)
            session.flush()
            return row

        def events(run, *items):
            session.add_all(ApprovalEvent(run_id=run.id, request_id=run.request_id, team_id="T1", action=a, stage=s,
                                          stage_name=stages[s]["name"], created_at=at) for a, s, at in items)

        # approved: Ops lead took 2 h, Budget owner 6 h; starts next Wednesday (Shanghai time)
        one = approval_run(request(1, "accepted", "2026-11-25T10:00:00+08:00"), "approved", finished=t0 + 8 * h)
        events(one, ("started", 0, t0), ("stage_completed", 0, t0 + 2 * h), ("stage_started", 1, t0 + 2 * h),
               ("stage_completed", 1, t0 + 8 * h))
        # rejected at Budget owner after Ops lead took 4 h; would start next week but was rejected
        two = approval_run(request(2, "declined", "2026-11-24T10:00:00+08:00"), "rejected", finished=t0 + 9 * h)
        events(two, ("started", 0, t0), ("stage_completed", 0, t0 + 4 * h))
        # approved, but starts in two weeks
        approval_run(request(3, "accepted", "2026-12-02T10:00:00+08:00"), "approved", finished=t0 - 48 * h)
        # waiting: REQ-5 since longer than REQ-4
        approval_run(request(4, "in_approval"), "running", current=1, since=t0 + 3 * h)
        approval_run(request(5, "in_approval"), "running", current=0, since=t0 - 30 * h)
    start, end = week.bounds(W47, ZoneInfo("Asia/Shanghai"))
    with session_scope(engine) as session:
        stats = week.builtin.approval_stats(session, team_id="T1", start=start, end=end,
                                            following=period.week_of(W47).shifted(1),
                                            zone=ZoneInfo("Asia/Shanghai"))
    assert (stats["approved"], stats["rejected"]) == (1, 1)
    assert stats["stages"] == [{"stage": "Ops lead", "median_hours": 3.0, "count": 2},
                               {"stage": "Budget owner", "median_hours": 6.0, "count": 1}]
    assert stats["starting_next_week"] == [{"ref": "REQ-1", "title": "Sale 1", "starts": "2026-11-25"}]
    assert [(w["ref"], w["stage"]) for w in stats["waiting"]] == [("REQ-5", "Ops lead"), ("REQ-4", "Budget owner")]


def test_a_digests_own_target_replaces_the_metrics(engine):
    seeded_metrics(engine, "T1", W46, W47)
    digest = make_digest(engine, "T1")
    with session_scope(engine) as session:
        row = session.get(type(digest), digest.id)
        row.targets = {"DAU": 120, "NPS": 40}  # DAU 130 meets 120; NPS 35 misses 40 (it has no target of its own)
        session.add(row)
    with session_scope(engine) as session:
        dau, cac, nps = week.compute(session, digest=row, monday=W47)["metrics"]
    assert [(m["target"], m["off_target"]) for m in (dau, cac, nps)] == [(120, False), (40, True), (40, True)]
