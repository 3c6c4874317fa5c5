"""Repeat rules on booking requests (bookings.validation.repeat, the validator and the lifecycle services): the nine
cycles against dates written out by hand, DST, the occurrence cap and the advance limit, one error per
failing occurrence, staff's skipConflicts, EventSeries on hold and approval, create-only, and a conflict
check whose number of queries does not grow with the number of occurrences.

This module: the nine cycles and DST, on the expansion alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bookings.validation.repeat import Cycle, expand_repeat, parse_repeat
from tests.conftest import LONDON

from .repeat_helpers import FRI, MON, SAT, SUN, THU, TUE, WED, rule


def dates(start: str, raw_rule: dict, *, hours: int = 1, tz: ZoneInfo = LONDON) -> list[str]:
    """The local start dates of the expansion of `raw_rule` from `start` (local, naive ISO)."""
    parsed, errors = parse_repeat(raw_rule, "event.repeat")
    assert not errors, errors
    first = datetime.fromisoformat(start)
    times = expand_repeat(start_local=first, end_local=first + timedelta(hours=hours), tz=tz, rule=parsed)
    for s, e in times:  # every occurrence keeps the wall-clock time and length of the request
        assert s.astimezone(tz).time() == first.time() and e.astimezone(tz) - s.astimezone(tz) == timedelta(hours=hours)
    return [s.astimezone(tz).date().isoformat() for s, _ in times]


# === the nine cycles ===================================================================================
# 2027-01-04 is a Monday; 1 January 2027 a Friday.

CYCLES = {
    # 1 Daily
    "daily": (
        "2027-01-04T09:00",
        rule(Cycle.DAILY, "2027-01-08"),
        ["2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08"],
    ),
    "daily every 2": (
        "2027-01-04T09:00",
        rule(Cycle.DAILY, "2027-01-12", every=2),
        ["2027-01-04", "2027-01-06", "2027-01-08", "2027-01-10", "2027-01-12"],
    ),
    "daily on Mon, Wed, Fri": (
        "2027-01-04T09:00",
        rule(Cycle.DAILY, "2027-01-15", days=(MON, WED, FRI)),
        ["2027-01-04", "2027-01-06", "2027-01-08", "2027-01-11", "2027-01-13", "2027-01-15"],
    ),
    "daily on weekdays from a Friday": (
        "2027-01-08T09:00",
        rule(Cycle.DAILY, "2027-01-14", days=(MON, TUE, WED, THU, FRI)),
        ["2027-01-08", "2027-01-11", "2027-01-12", "2027-01-13", "2027-01-14"],
    ),
    # 2 Weekly
    "weekly": (
        "2027-01-04T09:00",
        rule(Cycle.WEEKLY, "2027-02-01"),
        ["2027-01-04", "2027-01-11", "2027-01-18", "2027-01-25", "2027-02-01"],
    ),
    "weekly every 2": (
        "2027-01-04T09:00",
        rule(Cycle.WEEKLY, "2027-02-15", every=2),
        ["2027-01-04", "2027-01-18", "2027-02-01", "2027-02-15"],
    ),
    "weekly on Tue and Thu (the start, a Monday, is not one)": (
        "2027-01-04T09:00",
        rule(Cycle.WEEKLY, "2027-01-21", days=(TUE, THU)),
        ["2027-01-05", "2027-01-07", "2027-01-12", "2027-01-14", "2027-01-19", "2027-01-21"],
    ),
    "weekly every 2 on Mon and Fri": (
        "2027-01-04T09:00",
        rule(Cycle.WEEKLY, "2027-02-05", every=2, days=(MON, FRI)),
        ["2027-01-04", "2027-01-08", "2027-01-18", "2027-01-22", "2027-02-01", "2027-02-05"],
    ),
    "weekly on weekends": (
        "2027-01-04T09:00",
        rule(Cycle.WEEKLY, "2027-01-17", days=(SAT, SUN)),
        ["2027-01-09", "2027-01-10", "2027-01-16", "2027-01-17"],
    ),
    # 3 Monthly: the same day of the month; months without it are skipped
    "monthly": (
        "2027-01-15T09:00",
        rule(Cycle.MONTHLY, "2027-05-15"),
        ["2027-01-15", "2027-02-15", "2027-03-15", "2027-04-15", "2027-05-15"],
    ),
    "monthly every 2": (
        "2027-01-15T09:00",
        rule(Cycle.MONTHLY, "2027-09-30", every=2),
        ["2027-01-15", "2027-03-15", "2027-05-15", "2027-07-15", "2027-09-15"],
    ),
    "monthly on the 31st": (
        "2027-01-31T09:00",
        rule(Cycle.MONTHLY, "2027-08-31"),
        ["2027-01-31", "2027-03-31", "2027-05-31", "2027-07-31", "2027-08-31"],
    ),
    # 4 Yearly
    "yearly": (
        "2027-03-10T09:00",
        rule(Cycle.YEARLY, "2030-03-10"),
        ["2027-03-10", "2028-03-10", "2029-03-10", "2030-03-10"],
    ),
    "yearly every 2": (
        "2027-03-10T09:00",
        rule(Cycle.YEARLY, "2033-01-01", every=2),
        ["2027-03-10", "2029-03-10", "2031-03-10"],
    ),
    "yearly on 29 February": (
        "2028-02-29T09:00",
        rule(Cycle.YEARLY, "2036-12-31"),
        ["2028-02-29", "2032-02-29", "2036-02-29"],
    ),
    # 5 FirstOfMonth: no weekday chosen, the start's (Monday)
    "first Monday": (
        "2027-01-04T09:00",
        rule(Cycle.FIRST_OF_MONTH, "2027-05-31"),
        ["2027-01-04", "2027-02-01", "2027-03-01", "2027-04-05", "2027-05-03"],
    ),
    "first Monday every 2 months": (
        "2027-01-04T09:00",
        rule(Cycle.FIRST_OF_MONTH, "2027-05-31", every=2),
        ["2027-01-04", "2027-03-01", "2027-05-03"],
    ),
    # 6 SecondOfMonth
    "second Tuesday and Thursday": (
        "2027-01-04T09:00",
        rule(Cycle.SECOND_OF_MONTH, "2027-03-31", days=(TUE, THU)),
        ["2027-01-12", "2027-01-14", "2027-02-09", "2027-02-11", "2027-03-09", "2027-03-11"],
    ),
    "second Friday every 2 months": (
        "2027-01-04T09:00",
        rule(Cycle.SECOND_OF_MONTH, "2027-06-30", every=2, days=(FRI,)),
        ["2027-01-08", "2027-03-12", "2027-05-14"],
    ),
    # 7 ThirdOfMonth
    "third Monday": (
        "2027-01-04T09:00",
        rule(Cycle.THIRD_OF_MONTH, "2027-04-30"),
        ["2027-01-18", "2027-02-15", "2027-03-15", "2027-04-19"],
    ),
    "third Saturday and Sunday every 2 months": (
        "2027-01-04T09:00",
        rule(Cycle.THIRD_OF_MONTH, "2027-05-31", every=2, days=(SAT, SUN)),
        ["2027-01-16", "2027-01-17", "2027-03-20", "2027-03-21", "2027-05-15", "2027-05-16"],
    ),
    # 8 LastOfMonth
    "last Friday": (
        "2027-01-04T09:00",
        rule(Cycle.LAST_OF_MONTH, "2027-04-30", days=(FRI,)),
        ["2027-01-29", "2027-02-26", "2027-03-26", "2027-04-30"],
    ),
    "last Monday every 2 months": (
        "2027-01-04T09:00",
        rule(Cycle.LAST_OF_MONTH, "2027-06-30", every=2),
        ["2027-01-25", "2027-03-29", "2027-05-31"],
    ),
    # 9 FourthOfMonth
    "fourth Wednesday": (
        "2027-01-04T09:00",
        rule(Cycle.FOURTH_OF_MONTH, "2027-03-31", days=(WED,)),
        ["2027-01-27", "2027-02-24", "2027-03-24"],
    ),
    "fourth Monday and Wednesday every 2 months": (
        "2027-01-04T09:00",
        rule(Cycle.FOURTH_OF_MONTH, "2027-05-31", every=2, days=(MON, WED)),
        ["2027-01-25", "2027-01-27", "2027-03-22", "2027-03-24", "2027-05-24", "2027-05-26"],
    ),
}


@pytest.mark.parametrize("name", list(CYCLES))
def test_each_cycle_gives_the_dates_written_out(name):
    start, raw_rule, expected = CYCLES[name]
    assert dates(start, raw_rule) == expected


def test_every_cycle_is_covered_with_every_1_and_2():
    seen = {(int(r["repeats"]), r.get("repeatEvery", 1)) for _, r, _ in CYCLES.values()}
    assert seen >= {(cycle, every) for cycle in range(1, 10) for every in (1, 2)}


def test_repeat_until_is_an_inclusive_local_date_and_the_time_of_day_is_kept():
    assert dates("2027-01-04T23:30", rule(Cycle.DAILY, "2027-01-06")) == ["2027-01-04", "2027-01-05", "2027-01-06"]
    assert dates("2027-01-04T09:00", rule(Cycle.DAILY, "2027-01-04")) == ["2027-01-04"]


# === DST: local wall-clock time ===========================================================================


def test_weekly_0900_london_from_september_to_april_stays_0900_local():
    parsed, _ = parse_repeat(rule(Cycle.WEEKLY, "2028-04-10"), "event.repeat")
    times = expand_repeat(
        start_local=datetime(2027, 9, 6, 9), end_local=datetime(2027, 9, 6, 10), tz=LONDON, rule=parsed
    )
    assert len(times) == 32  # 6 September 2027 to 10 April 2028, every Monday
    assert {s.astimezone(LONDON).strftime("%a %H:%M") for s, _ in times} == {"Mon 09:00"}
    by_date = {s.astimezone(LONDON).date(): (s, e) for s, e in times}
    # Summer time (BST, UTC+1) until 31 October 2027 and again from 26 March 2028: 08:00 UTC.
    assert by_date[date(2027, 9, 6)] == (datetime(2027, 9, 6, 8, tzinfo=UTC), datetime(2027, 9, 6, 9, tzinfo=UTC))
    assert by_date[date(2027, 10, 25)][0] == datetime(2027, 10, 25, 8, tzinfo=UTC)
    # Winter (GMT): 09:00 UTC.
    assert by_date[date(2027, 11, 1)] == (datetime(2027, 11, 1, 9, tzinfo=UTC), datetime(2027, 11, 1, 10, tzinfo=UTC))
    assert by_date[date(2028, 3, 20)][0] == datetime(2028, 3, 20, 9, tzinfo=UTC)
    assert by_date[date(2028, 3, 27)][0] == datetime(2028, 3, 27, 8, tzinfo=UTC)
    assert by_date[date(2028, 4, 10)] == (datetime(2028, 4, 10, 8, tzinfo=UTC), datetime(2028, 4, 10, 9, tzinfo=UTC))
    for s, _ in times:
        summer = s.astimezone(LONDON).utcoffset() == timedelta(hours=1)
        assert s.astimezone(UTC).hour == (8 if summer else 9)


def test_a_daily_series_across_the_skipped_hour_moves_that_occurrence_forward_by_the_gap():
    parsed, _ = parse_repeat(rule(Cycle.DAILY, "2026-03-31"), "event.repeat")
    times = expand_repeat(
        start_local=datetime(2026, 3, 27, 1, 30), end_local=datetime(2026, 3, 27, 2, 30), tz=LONDON, rule=parsed
    )
    assert times == [
        (datetime(2026, 3, 27, 1, 30, tzinfo=UTC), datetime(2026, 3, 27, 2, 30, tzinfo=UTC)),
        (datetime(2026, 3, 28, 1, 30, tzinfo=UTC), datetime(2026, 3, 28, 2, 30, tzinfo=UTC)),
        # 01:30 does not exist on 29 March 2026: 02:30 BST (01:30 UTC) to 03:30 BST, an hour as asked.
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 3, 29, 2, 30, tzinfo=UTC)),
        (datetime(2026, 3, 30, 0, 30, tzinfo=UTC), datetime(2026, 3, 30, 1, 30, tzinfo=UTC)),
        (datetime(2026, 3, 31, 0, 30, tzinfo=UTC), datetime(2026, 3, 31, 1, 30, tzinfo=UTC)),
    ]
    assert times[2][0].astimezone(LONDON).strftime("%H:%M %Z") == "02:30 BST"


def test_a_daily_series_across_the_repeated_hour_takes_its_first_pass():
    parsed, _ = parse_repeat(rule(Cycle.DAILY, "2026-10-26"), "event.repeat")
    times = expand_repeat(
        start_local=datetime(2026, 10, 24, 1, 30), end_local=datetime(2026, 10, 24, 2, 30), tz=LONDON, rule=parsed
    )
    assert times == [
        (datetime(2026, 10, 24, 0, 30, tzinfo=UTC), datetime(2026, 10, 24, 1, 30, tzinfo=UTC)),
        # 01:30 happens twice on 25 October 2026: the first (BST, 00:30 UTC); 02:30 is after the change (GMT).
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 2, 30, tzinfo=UTC)),
        (datetime(2026, 10, 26, 1, 30, tzinfo=UTC), datetime(2026, 10, 26, 2, 30, tzinfo=UTC)),
    ]
    assert times[1][0].astimezone(LONDON).strftime("%H:%M %Z") == "01:30 BST"


def test_expansion_in_another_zone_keeps_that_zones_wall_clock():
    new_york = ZoneInfo("America/New_York")  # changes on 14 March 2027, two weeks before London
    assert dates("2027-03-08T09:00", rule(Cycle.WEEKLY, "2027-03-22"), tz=new_york) == [
        "2027-03-08",
        "2027-03-15",
        "2027-03-22",
    ]
