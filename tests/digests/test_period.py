"""Period maths by hand: ISO weeks, calendar months and quarters in the digest's zone, the last
complete one at a given moment, the first business day a monthly or quarterly digest goes out,
and what bad period text is told."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.digests.sending import period_for_due, trigger_of
from models.digests import Digest
from models.digests import period as periods
from models.errors import RuleError

SHANGHAI, NEW_YORK = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")


@pytest.mark.parametrize(("text", "kind", "start", "end", "label"), [
    ("2026-W46", "week", date(2026, 11, 9), date(2026, 11, 16), "2026-W46"),
    ("2020w53", "week", date(2020, 12, 28), date(2021, 1, 4), "2020-W53"),
    ("2026-11", "month", date(2026, 11, 1), date(2026, 12, 1), "2026-11"),
    ("2026-2", "month", date(2026, 2, 1), date(2026, 3, 1), "2026-02"),
    ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1), "2026-12"),
    ("2026-Q4", "quarter", date(2026, 10, 1), date(2027, 1, 1), "2026-Q4"),
    ("2026q1", "quarter", date(2026, 1, 1), date(2026, 4, 1), "2026-Q1"),
])
def test_periods_people_write(text, kind, start, end, label):
    period = periods.parse(text)
    assert (period.kind, period.start, period.end, period.label) == (kind, start, end, label)


@pytest.mark.parametrize("bad", ["2026-W54", "2026-13", "2026-Q5", "2026-Q0", "46", "2026-11-09", "Nov", "", "0000-01"])
def test_bad_period_text_names_what_was_given(bad):
    with pytest.raises(RuleError) as refused:
        periods.parse(bad)
    assert (refused.value.key, refused.value.params) == ("digests.bad_period", {"given": bad})


def test_previous_periods_of_the_same_kind_cross_year_ends():
    assert periods.parse("2026-01").shifted(-1).label == "2025-12"
    assert periods.parse("2026-Q1").shifted(-1).label == "2025-Q4"
    assert periods.parse("2026-Q1").shifted(-4).label == "2025-Q1"
    assert periods.parse("2026-W01").shifted(-1).label == "2025-W52"
    assert [p.label for p in periods.history(periods.parse("2026-03"))] == \
        ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert [p.label for p in periods.history(periods.parse("2026-Q1"))] == \
        ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"]


def test_the_last_complete_period_is_counted_in_the_digests_zone():
    # 2026-12-31 20:00 UTC is already 1 January 2027 in Shanghai: December (and Q4) are over there,
    # not yet in New York.
    now = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)
    assert periods.last_complete("monthly", now, SHANGHAI).label == "2026-12"
    assert periods.last_complete("monthly", now, NEW_YORK).label == "2026-11"
    assert periods.last_complete("quarterly", now, SHANGHAI).label == "2026-Q4"
    assert periods.last_complete("quarterly", now, NEW_YORK).label == "2026-Q3"
    assert periods.last_complete("weekly", now, SHANGHAI).label == "2026-W52"


def test_month_bounds_follow_daylight_saving_in_the_zone():
    start, end = periods.parse("2026-03").bounds(NEW_YORK)  # DST starts 8 March: one hour shorter
    assert (start, end) == (datetime(2026, 3, 1, 5, tzinfo=UTC), datetime(2026, 4, 1, 4, tzinfo=UTC))
    assert (end - start) == timedelta(days=31, hours=-1)


def digest(cadence: str) -> Digest:
    return Digest(team_id="T1", name="m", channel="C1", weekday=0, hour=9, minute=30, timezone="Asia/Shanghai",
                  owner="U1", cadence=cadence, created_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(("cadence", "after", "send_day", "reports"), [
    # 1 Aug 2026 is a Saturday: the July digest goes out on Monday 3 August.
    ("monthly", datetime(2026, 7, 31, tzinfo=SHANGHAI), date(2026, 8, 3), "2026-07"),
    # 1 Nov 2026 is a Sunday: Monday 2 November.
    ("monthly", datetime(2026, 10, 31, tzinfo=SHANGHAI), date(2026, 11, 2), "2026-10"),
    # 1 Dec 2026 is a Tuesday: that day.
    ("monthly", datetime(2026, 11, 20, tzinfo=SHANGHAI), date(2026, 12, 1), "2026-11"),
    # quarterly: 1 Jan 2027 is a Friday; Q3's on Thursday 1 October 2026 (no digest on 1 Nov or 1 Dec).
    ("quarterly", datetime(2026, 11, 20, tzinfo=SHANGHAI), date(2027, 1, 1), "2026-Q4"),
    ("quarterly", datetime(2026, 9, 20, tzinfo=SHANGHAI), date(2026, 10, 1), "2026-Q3"),
])
def test_monthly_and_quarterly_digests_go_out_on_the_first_business_day(cadence, after, send_day, reports):
    trigger = trigger_of(digest(cadence))
    fire = trigger.get_next_fire_time(None, after)
    assert (fire.date(), fire.hour, fire.minute) == (send_day, 9, 30)
    assert period_for_due(cadence, fire, SHANGHAI).label == reports
    # The trigger also wakes on the other weekdays among days 1–3; those runs send nothing.
    later, others = trigger.get_next_fire_time(fire, fire + timedelta(minutes=1)), 0
    while later.month == fire.month:
        assert period_for_due(cadence, later, SHANGHAI) is None
        later, others = trigger.get_next_fire_time(later, later + timedelta(minutes=1)), others + 1
    assert others == {date(2026, 12, 1): 2, date(2026, 11, 2): 1, date(2026, 10, 1): 1}.get(send_day, 0)


def test_weekly_digests_keep_their_weekday():
    fire = trigger_of(digest("weekly")).get_next_fire_time(None, datetime(2026, 11, 18, tzinfo=SHANGHAI))
    assert (fire.date(), fire.hour) == (date(2026, 11, 23), 9)
    assert period_for_due("weekly", fire, SHANGHAI).label == "2026-W47"
