"""Repeat rules on booking requests (bookings.validation.repeat, the validator and the lifecycle services): the nine
cycles against dates written out by hand, DST, the occurrence cap and the advance limit, one error per
failing occurrence, staff's skipConflicts, EventSeries on hold and approval, create-only, and a conflict
check whose number of queries does not grow with the number of occurrences."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_update
from bookings.lifecycle.submit import booking_create
from bookings.models import Booking, BookingEvent, BookingLog, BookingStatus
from bookings.selectors import booking_payload
from bookings.validation.repeat import Cycle, expand_repeat, parse_repeat
from bookings.validation.submission import validate_submission
from core.actor import Actor
from core.errors import BookingConflict, ImmutableField, ValidationFailed
from events.models import Event, EventSeries, EventStatus, Reservation
from events.services.single import event_create
from tests.conftest import LONDON
from tests.factories import BookableHoursFactory


@pytest.fixture
def setup(setup):
    """The module takes repeat requests from the public (its `allow_repeat_requests`; off by default)."""
    setup.module.allow_repeat_requests = True
    setup.module.save(update_fields=["allow_repeat_requests"])
    return setup


@pytest.fixture
def setup_no_hold(setup_no_hold):
    setup_no_hold.module.allow_repeat_requests = True
    setup_no_hold.module.save(update_fields=["allow_repeat_requests"])
    return setup_no_hold


# Every service call in this module runs "now": before all the dates below, so none is in the past.
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
WEEKDAY_KEYS = ("repeatOnMondays", "repeatOnTuesdays", "repeatOnWednesdays", "repeatOnThursdays",
                "repeatOnFridays", "repeatOnSaturdays", "repeatOnSundays")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def rule(repeats: int, until: str, every: int | None = None, days: tuple[int, ...] = ()) -> dict:
    body = {"repeats": repeats, "repeatUntil": until, **{WEEKDAY_KEYS[d]: True for d in days}}
    if every is not None:
        body["repeatEvery"] = every
    return body


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
    "daily": ("2027-01-04T09:00", rule(Cycle.DAILY, "2027-01-08"),
              ["2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08"]),
    "daily every 2": ("2027-01-04T09:00", rule(Cycle.DAILY, "2027-01-12", every=2),
                      ["2027-01-04", "2027-01-06", "2027-01-08", "2027-01-10", "2027-01-12"]),
    "daily on Mon, Wed, Fri": ("2027-01-04T09:00", rule(Cycle.DAILY, "2027-01-15", days=(MON, WED, FRI)),
                               ["2027-01-04", "2027-01-06", "2027-01-08", "2027-01-11", "2027-01-13",
                                "2027-01-15"]),
    "daily on weekdays from a Friday": ("2027-01-08T09:00",
                                        rule(Cycle.DAILY, "2027-01-14", days=(MON, TUE, WED, THU, FRI)),
                                        ["2027-01-08", "2027-01-11", "2027-01-12", "2027-01-13", "2027-01-14"]),
    # 2 Weekly
    "weekly": ("2027-01-04T09:00", rule(Cycle.WEEKLY, "2027-02-01"),
               ["2027-01-04", "2027-01-11", "2027-01-18", "2027-01-25", "2027-02-01"]),
    "weekly every 2": ("2027-01-04T09:00", rule(Cycle.WEEKLY, "2027-02-15", every=2),
                       ["2027-01-04", "2027-01-18", "2027-02-01", "2027-02-15"]),
    "weekly on Tue and Thu (the start, a Monday, is not one)": (
        "2027-01-04T09:00", rule(Cycle.WEEKLY, "2027-01-21", days=(TUE, THU)),
        ["2027-01-05", "2027-01-07", "2027-01-12", "2027-01-14", "2027-01-19", "2027-01-21"]),
    "weekly every 2 on Mon and Fri": ("2027-01-04T09:00", rule(Cycle.WEEKLY, "2027-02-05", every=2, days=(MON, FRI)),
                                      ["2027-01-04", "2027-01-08", "2027-01-18", "2027-01-22", "2027-02-01",
                                       "2027-02-05"]),
    "weekly on weekends": ("2027-01-04T09:00", rule(Cycle.WEEKLY, "2027-01-17", days=(SAT, SUN)),
                           ["2027-01-09", "2027-01-10", "2027-01-16", "2027-01-17"]),
    # 3 Monthly: the same day of the month; months without it are skipped
    "monthly": ("2027-01-15T09:00", rule(Cycle.MONTHLY, "2027-05-15"),
                ["2027-01-15", "2027-02-15", "2027-03-15", "2027-04-15", "2027-05-15"]),
    "monthly every 2": ("2027-01-15T09:00", rule(Cycle.MONTHLY, "2027-09-30", every=2),
                        ["2027-01-15", "2027-03-15", "2027-05-15", "2027-07-15", "2027-09-15"]),
    "monthly on the 31st": ("2027-01-31T09:00", rule(Cycle.MONTHLY, "2027-08-31"),
                            ["2027-01-31", "2027-03-31", "2027-05-31", "2027-07-31", "2027-08-31"]),
    # 4 Yearly
    "yearly": ("2027-03-10T09:00", rule(Cycle.YEARLY, "2030-03-10"),
               ["2027-03-10", "2028-03-10", "2029-03-10", "2030-03-10"]),
    "yearly every 2": ("2027-03-10T09:00", rule(Cycle.YEARLY, "2033-01-01", every=2),
                       ["2027-03-10", "2029-03-10", "2031-03-10"]),
    "yearly on 29 February": ("2028-02-29T09:00", rule(Cycle.YEARLY, "2036-12-31"),
                              ["2028-02-29", "2032-02-29", "2036-02-29"]),
    # 5 FirstOfMonth: no weekday chosen, the start's (Monday)
    "first Monday": ("2027-01-04T09:00", rule(Cycle.FIRST_OF_MONTH, "2027-05-31"),
                     ["2027-01-04", "2027-02-01", "2027-03-01", "2027-04-05", "2027-05-03"]),
    "first Monday every 2 months": ("2027-01-04T09:00", rule(Cycle.FIRST_OF_MONTH, "2027-05-31", every=2),
                                    ["2027-01-04", "2027-03-01", "2027-05-03"]),
    # 6 SecondOfMonth
    "second Tuesday and Thursday": ("2027-01-04T09:00", rule(Cycle.SECOND_OF_MONTH, "2027-03-31", days=(TUE, THU)),
                                    ["2027-01-12", "2027-01-14", "2027-02-09", "2027-02-11", "2027-03-09",
                                     "2027-03-11"]),
    "second Friday every 2 months": ("2027-01-04T09:00",
                                     rule(Cycle.SECOND_OF_MONTH, "2027-06-30", every=2, days=(FRI,)),
                                     ["2027-01-08", "2027-03-12", "2027-05-14"]),
    # 7 ThirdOfMonth
    "third Monday": ("2027-01-04T09:00", rule(Cycle.THIRD_OF_MONTH, "2027-04-30"),
                     ["2027-01-18", "2027-02-15", "2027-03-15", "2027-04-19"]),
    "third Saturday and Sunday every 2 months": ("2027-01-04T09:00",
                                                 rule(Cycle.THIRD_OF_MONTH, "2027-05-31", every=2, days=(SAT, SUN)),
                                                 ["2027-01-16", "2027-01-17", "2027-03-20", "2027-03-21",
                                                  "2027-05-15", "2027-05-16"]),
    # 8 LastOfMonth
    "last Friday": ("2027-01-04T09:00", rule(Cycle.LAST_OF_MONTH, "2027-04-30", days=(FRI,)),
                    ["2027-01-29", "2027-02-26", "2027-03-26", "2027-04-30"]),
    "last Monday every 2 months": ("2027-01-04T09:00", rule(Cycle.LAST_OF_MONTH, "2027-06-30", every=2),
                                   ["2027-01-25", "2027-03-29", "2027-05-31"]),
    # 9 FourthOfMonth
    "fourth Wednesday": ("2027-01-04T09:00", rule(Cycle.FOURTH_OF_MONTH, "2027-03-31", days=(WED,)),
                         ["2027-01-27", "2027-02-24", "2027-03-24"]),
    "fourth Monday and Wednesday every 2 months": ("2027-01-04T09:00",
                                                   rule(Cycle.FOURTH_OF_MONTH, "2027-05-31", every=2, days=(MON, WED)),
                                                   ["2027-01-25", "2027-01-27", "2027-03-22", "2027-03-24",
                                                    "2027-05-24", "2027-05-26"]),
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
    times = expand_repeat(start_local=datetime(2027, 9, 6, 9), end_local=datetime(2027, 9, 6, 10), tz=LONDON,
                          rule=parsed)
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
    times = expand_repeat(start_local=datetime(2026, 3, 27, 1, 30), end_local=datetime(2026, 3, 27, 2, 30),
                          tz=LONDON, rule=parsed)
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
    times = expand_repeat(start_local=datetime(2026, 10, 24, 1, 30), end_local=datetime(2026, 10, 24, 2, 30),
                          tz=LONDON, rule=parsed)
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
        "2027-03-08", "2027-03-15", "2027-03-22"]


# === the rule's shape ====================================================================================


@pytest.mark.parametrize(("raw", "field", "code"), [
    ("weekly", "event.repeat", "INVALID"),
    ({"repeatUntil": "2027-02-01"}, "event.repeat.repeats", "REQUIRED"),
    ({"repeats": 10, "repeatUntil": "2027-02-01"}, "event.repeat.repeats", "INVALID_CHOICE"),
    ({"repeats": True, "repeatUntil": "2027-02-01"}, "event.repeat.repeats", "INVALID_CHOICE"),
    ({"repeats": 2, "repeatEvery": 0, "repeatUntil": "2027-02-01"}, "event.repeat.repeatEvery", "MIN_VALUE"),
    ({"repeats": 2, "repeatEvery": 100, "repeatUntil": "2027-02-01"}, "event.repeat.repeatEvery", "MAX_VALUE"),
    ({"repeats": 2, "repeatEvery": "often", "repeatUntil": "2027-02-01"}, "event.repeat.repeatEvery", "INVALID"),
    ({"repeats": 2}, "event.repeat.repeatUntil", "REQUIRED"),
    ({"repeats": 2, "repeatUntil": "1 February"}, "event.repeat.repeatUntil", "INVALID"),
    ({"repeats": 2, "repeatUntil": "2027-02-01T10:00:00"}, "event.repeat.repeatUntil", "INVALID"),
    ({"repeats": 2, "repeatUntil": "9999-02-01"}, "event.repeat.repeatUntil", "INVALID"),
    ({"repeats": 2, "repeatUntil": "2027-02-01", "repeatOnMondays": "maybe"}, "event.repeat.repeatOnMondays",
     "INVALID"),
    ({"repeats": 3, "repeatUntil": "2027-06-01", "repeatOnMondays": True}, "event.repeat.repeatOnMondays", "INVALID"),
    ({"repeats": 2, "repeatUntil": "2027-02-01", "repeatOnFundays": True}, "event.repeat.repeatOnFundays",
     "UNKNOWN_FIELD"),
    ({"repeats": 2, "repeatUntil": "2027-01-01"}, "event.repeat.repeatUntil", "INVALID"),  # before the start
])
def test_a_rule_of_the_wrong_shape_is_400_on_its_field(setup, raw, field, code):
    event = setup.event(datetime(2027, 1, 4, 9, tzinfo=LONDON), repeat=raw)
    with pytest.raises(ValidationFailed) as caught:
        validate_submission(module=setup.module, contact={"name": "Ada", "email": "ada@example.com"},
                            events=[event], single_event=True, now=NOW)
    assert (field, code) in [(e.field, e.code) for e in caught.value.errors], caught.value.errors


def test_an_events_list_files_occurrences_under_each_event(setup):
    start = datetime(2027, 1, 4, 9, tzinfo=LONDON)
    clean = validate_submission(
        module=setup.module, contact={"name": "Ada", "email": "ada@example.com"}, now=NOW,
        events=[setup.event(start, title="Kick-off"),
                setup.event(start + timedelta(days=1), title="Stand-up", repeat=rule(Cycle.DAILY, "2027-01-07"))])
    assert [ce.field for ce in clean.events] == [
        "events[0]", "events[1].occurrences[0]", "events[1].occurrences[1]", "events[1].occurrences[2]"]
    assert [ce.repeat.index for ce in clean.events[1:]] == [0, 1, 2]
    assert len({ce.repeat.group for ce in clean.events[1:]}) == 1 and clean.events[0].repeat is None


# === the cap and the advance limit =======================================================================


def monday(weeks: int = 0, hour: int = 9) -> datetime:
    return datetime(2027, 1, 4, hour, tzinfo=LONDON) + timedelta(weeks=weeks)


def contact() -> dict:
    return {"name": "Ada Lovelace", "email": "ada@example.com"}


def weekly(setup, count: int = 10, **kwargs) -> dict:
    until = (monday(count - 1)).date().isoformat()
    return setup.event(monday(), repeat=rule(Cycle.WEEKLY, until), **kwargs)


def test_a_series_is_capped_by_the_modules_max_occurrences(setup):
    setup.module.max_occurrences = 5
    setup.module.save()
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(weekly(setup, 6), now=NOW)
    [error] = caught.value.errors
    assert (error.field, error.code, error.meta["maxOccurrences"]) == (
        "event.repeat.repeatUntil", "TOO_MANY_OCCURRENCES", 5)
    assert Booking.objects.count() == 0
    result = setup.submit(weekly(setup, 5), now=NOW)
    assert result.booking.requested_times.count() == 5


def test_the_default_cap_is_150(setup):
    assert setup.module.max_occurrences == 150
    event = setup.event(monday(), repeat=rule(Cycle.DAILY, (monday().date() + timedelta(days=150)).isoformat()))
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(event, now=NOW)
    assert caught.value.errors[0].code == "TOO_MANY_OCCURRENCES"


def test_occurrences_beyond_the_advance_limit_are_each_an_error(setup):
    setup.room.max_advance_days = 45  # from 1 December 2026: up to 15 January 2027 12:00
    setup.room.save()
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(weekly(setup, 4), now=NOW)
    errors = caught.value.errors
    assert [(e.field, e.code, e.meta["date"]) for e in errors] == [
        ("event.occurrences[2]", "START_TIME_TOO_EARLY", "2027-01-18"),
        ("event.occurrences[3]", "START_TIME_TOO_EARLY", "2027-01-25"),
    ]
    assert errors[0].message.startswith("Mon 18 Jan 2027 09:00: ")
    assert Booking.objects.count() == 0


def test_staff_skip_the_occurrences_beyond_the_advance_limit(setup):
    setup.room.max_advance_days = 45
    setup.room.save()
    result = booking_create(module=setup.module, actor=setup.staff, status=BookingStatus.APPROVED, contact=contact(),
                            events=[weekly(setup, 4)], single_event=True, skip_conflicts=True, now=NOW)
    assert [e.start for e in result.events] == [monday(0), monday(1)]
    assert [(e.meta["date"], e.code) for e in result.skipped] == [
        ("2027-01-18", "START_TIME_TOO_EARLY"), ("2027-01-25", "START_TIME_TOO_EARLY")]
    log = BookingLog.objects.get(booking=result.booking)
    assert log.note == ("Skipped 2 occurrences: Mon 18 Jan 2027 09:00 START_TIME_TOO_EARLY; "
                        "Mon 25 Jan 2027 09:00 START_TIME_TOO_EARLY")


def test_each_occurrence_is_checked_against_bookable_hours(setup):
    BookableHoursFactory(resource=setup.room, weekday=MON, start_time="08:00", end_time="18:00")
    with pytest.raises(ValidationFailed) as caught:  # weekly on Mondays and Tuesdays: Tuesdays are closed
        setup.submit(setup.event(monday(), repeat=rule(Cycle.WEEKLY, "2027-01-12", days=(MON, TUE))), now=NOW)
    assert [(e.field, e.code, e.meta["date"]) for e in caught.value.errors] == [
        ("event.occurrences[1]", "OUTSIDE_BOOKABLE_HOURS", "2027-01-05"),
        ("event.occurrences[3]", "OUTSIDE_BOOKABLE_HOURS", "2027-01-12"),
    ]


# === conflicts in a series ==============================================================================


def block_seventh(setup, resources=None) -> Event:
    """Someone else's event across the 7th Monday (15 February 2027) at 09:30."""
    return event_create(organization=setup.org, title="Board meeting", start=monday(6).replace(minute=30),
                        end=monday(6, 10).replace(minute=30), resource_ids=[r.pk for r in resources or [setup.room]],
                        now=NOW)


def test_a_series_with_one_taken_date_is_refused_with_exactly_that_dates_error(setup):
    board = block_seventh(setup)
    with pytest.raises(BookingConflict) as caught:
        setup.submit(weekly(setup), now=NOW)
    [error] = caught.value.errors
    assert error.field == "event.occurrences[6]"
    assert error.code == "BOOKING_CONFLICT"
    assert error.message == "Mon 15 Feb 2027 09:00: Room is already booked by Board meeting at that time."
    assert error.meta["date"] == "2027-02-15" and error.meta["occurrence"] == 6
    assert error.meta["start"] == "2027-02-15T09:00:00Z" and error.meta["conflictingEventIds"] == [str(board.pk)]
    assert Booking.objects.count() == 0 and BookingEvent.objects.count() == 0
    assert list(Event.objects.all()) == [board] and EventSeries.objects.count() == 0


def test_a_series_with_one_taken_date_is_refused_without_holds_too(setup_no_hold):
    setup = setup_no_hold
    block_seventh(setup)
    with pytest.raises(BookingConflict) as caught:
        setup.submit(weekly(setup), now=NOW)
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.occurrences[6]", "BOOKING_CONFLICT")]
    assert Booking.objects.count() == 0


def test_capacity_is_reported_per_occurrence_too(setup):
    setup.desks.capacity = 1
    setup.desks.save()
    block_seventh(setup, [setup.desks])
    with pytest.raises(Exception) as caught:
        setup.submit(weekly(setup, resources=[setup.desks]), now=NOW)
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.occurrences[6]", "CAPACITY_EXCEEDED")]


def test_staff_create_with_skip_conflicts_books_the_other_nine_and_reports_the_skip(setup):
    block_seventh(setup)
    result = booking_create(module=setup.module, actor=setup.staff, status=BookingStatus.PENDING, contact=contact(),
                            events=[weekly(setup)], single_event=True, skip_conflicts=True, now=NOW)
    booking = result.booking
    assert booking.requested_times.count() == 9
    assert [be.occurrence for be in booking.requested_times.all()] == [0, 1, 2, 3, 4, 5, 7, 8, 9]
    assert monday(6) not in [be.start for be in booking.requested_times.all()]
    [skipped] = result.skipped
    assert (skipped.field, skipped.code, skipped.meta["date"]) == ("event.occurrences[6]", "BOOKING_CONFLICT",
                                                                  "2027-02-15")
    # The holds of the nine, in one series with the rule as requested.
    holds = Event.objects.filter(status=EventStatus.TENTATIVE)
    assert holds.count() == 9 and len({e.series_id for e in holds}) == 1
    series = EventSeries.objects.get()
    assert series.timezone == "Europe/London" and series.rule["repeats"] == Cycle.WEEKLY
    assert series.rule["repeatUntil"] == "2027-03-08"
    note = BookingLog.objects.get(booking=booking).note
    assert note == "Skipped 1 occurrence: Mon 15 Feb 2027 09:00 BOOKING_CONFLICT"


def test_staff_create_approved_with_skip_conflicts_makes_nine_confirmed_events_in_one_series(setup):
    block_seventh(setup)
    result = booking_create(module=setup.module, actor=setup.staff, status=BookingStatus.APPROVED, contact=contact(),
                            events=[weekly(setup)], single_event=True, skip_conflicts=True, now=NOW)
    assert len(result.events) == 9 and {e.status for e in result.events} == {EventStatus.CONFIRMED}
    series = EventSeries.objects.get()
    assert series.events.count() == 9
    assert [be.event_id for be in result.booking.requested_times.all()] == [e.pk for e in result.events]


def test_without_skip_conflicts_staff_create_is_refused_too(setup):
    block_seventh(setup)
    with pytest.raises(BookingConflict) as caught:
        booking_create(module=setup.module, actor=setup.staff, status=BookingStatus.APPROVED, contact=contact(),
                       events=[weekly(setup)], single_event=True, now=NOW)
    assert [e.field for e in caught.value.errors] == ["event.occurrences[6]"]
    assert Booking.objects.count() == 0


def test_skip_conflicts_never_leaves_an_empty_series(setup):
    event_create(organization=setup.org, title="All term", start=monday(0), end=monday(2, 11),
                 resource_ids=[setup.room.pk], now=NOW)
    with pytest.raises(BookingConflict) as caught:
        booking_create(module=setup.module, actor=setup.staff, status=BookingStatus.APPROVED, contact=contact(),
                       events=[weekly(setup, 3)], single_event=True, skip_conflicts=True, now=NOW)
    assert [e.field for e in caught.value.errors] == [f"event.occurrences[{i}]" for i in range(3)]
    assert Booking.objects.count() == 0 and EventSeries.objects.count() == 0


def test_skip_conflicts_does_not_skip_a_single_event(setup):
    block_seventh(setup)
    with pytest.raises(BookingConflict):
        booking_create(module=setup.module, actor=setup.staff, status=BookingStatus.APPROVED, contact=contact(),
                       events=[setup.event(monday(6))], single_event=True, skip_conflicts=True, now=NOW)


def test_occurrences_of_one_request_conflicting_with_each_other_are_caught(setup):
    # Daily, 25 hours each: each overlaps the next (the third is free again once the second is refused).
    event = setup.event(monday(), monday() + timedelta(hours=25), repeat=rule(Cycle.DAILY, "2027-01-06"))
    with pytest.raises(BookingConflict) as caught:
        setup.submit(event, now=NOW)
    [error] = caught.value.errors
    assert error.field == "event.occurrences[1]"
    assert error.message == "Tue 05 Jan 2027 09:00: Room is already booked by another requested time at that time."


# === approval and the series ===========================================================================


def test_approval_confirms_the_holds_in_their_series(setup):
    booking = setup.submit(weekly(setup), now=NOW).booking
    series = EventSeries.objects.get()
    assert series.events.filter(status=EventStatus.TENTATIVE).count() == 10
    result = booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
    assert len(result.events) == 10
    assert EventSeries.objects.get() == series
    assert series.events.filter(status=EventStatus.CONFIRMED).count() == 10
    assert sorted(e.start for e in series.events.all()) == [monday(i) for i in range(10)]


def test_approval_without_holds_creates_one_series_of_ten(setup_no_hold):
    setup = setup_no_hold
    booking = setup.submit(weekly(setup), now=NOW).booking
    assert EventSeries.objects.count() == 0 and Event.objects.count() == 0
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
    series = EventSeries.objects.get()
    assert (series.organization, series.timezone) == (setup.org, "Europe/London")
    assert series.rule == {"repeats": 2, "repeatEvery": 1, "repeatUntil": "2027-03-08", "repeatOnMondays": False,
                           "repeatOnTuesdays": False, "repeatOnWednesdays": False, "repeatOnThursdays": False,
                           "repeatOnFridays": False, "repeatOnSaturdays": False, "repeatOnSundays": False}
    assert series.events.filter(status=EventStatus.CONFIRMED).count() == 10
    assert set(BookingEvent.objects.values_list("event__series", flat=True)) == {series.pk}


def test_approval_of_a_series_with_a_newly_taken_date_is_refused_per_occurrence(setup_no_hold):
    setup = setup_no_hold
    booking = setup.submit(weekly(setup), now=NOW).booking
    block_seventh(setup)
    with pytest.raises(BookingConflict) as caught:
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
    [error] = caught.value.errors
    assert (error.field, error.code, error.meta["date"], error.meta["occurrence"]) == (
        "events[6]", "BOOKING_CONFLICT", "2027-02-15", 6)
    assert EventSeries.objects.count() == 0


def test_approval_with_skip_conflicts_makes_a_series_of_nine(setup_no_hold):
    setup = setup_no_hold
    booking = setup.submit(weekly(setup), now=NOW).booking
    block_seventh(setup)
    result = booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None,
                             skip_conflicts=True, now=NOW)
    assert len(result.events) == 9
    series = EventSeries.objects.get()
    assert series.events.count() == 9
    assert [(e.field, e.meta["date"]) for e in result.skipped] == [("events[6]", "2027-02-15")]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.APPROVED
    assert booking.requested_times.count() == 9 and not booking.requested_times.filter(start=monday(6)).exists()
    log = BookingLog.objects.filter(booking=booking, action="approve").get()
    assert log.note == "Skipped 1 occurrence: Mon 15 Feb 2027 09:00 BOOKING_CONFLICT"
    assert len(log.before["events"]) == 10 and len(log.after["events"]) == 9


def test_approval_with_skip_conflicts_leaves_out_an_occurrence_now_breaking_a_rule(setup):
    booking = setup.submit(weekly(setup, 3), now=NOW).booking
    setup.room.max_advance_days = 45  # the third Monday (18 January) is now too far ahead
    setup.room.save()
    result = booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None,
                             skip_conflicts=True, now=NOW)
    assert [e.start for e in result.events] == [monday(0), monday(1)]
    assert [(e.field, e.code) for e in result.skipped] == [("events[2]", "START_TIME_TOO_EARLY")]
    assert Event.objects.count() == 2  # the third hold went with its requested time
    assert EventSeries.objects.get().events.count() == 2


def test_a_series_approved_after_its_module_stopped_holding_joins_the_holds_series(setup):
    booking = setup.submit(weekly(setup, 3), now=NOW).booking
    series = EventSeries.objects.get()
    hold = BookingEvent.objects.get(booking=booking, occurrence=1).event
    hold.delete()  # staff deleted one hold on the calendar: its requested time stays, unlinked
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
    assert EventSeries.objects.get() == series and series.events.count() == 3


# === create-only ========================================================================================


def test_a_change_request_cannot_add_a_repeat(setup):
    booking = setup.submit(setup.event(monday()), now=NOW).booking
    be = booking.requested_times.get()
    with pytest.raises(ImmutableField) as caught:
        change_request_submit(booking_id=booking.pk, actor=Actor.booker("ada@example.com"), now=NOW,
                              events=[{"bookingEventId": str(be.pk), "repeat": rule(Cycle.WEEKLY, "2027-03-01")}])
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.repeat", "IMMUTABLE_FIELD")]
    assert booking.requested_times.count() == 1


def test_approval_edits_cannot_add_occurrences(setup):
    booking = setup.submit(weekly(setup, 2), now=NOW).booking
    be = booking.requested_times.first()
    with pytest.raises(ImmutableField):
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW,
                        event_edits=[{"bookingEventId": str(be.pk), "repeat": rule(Cycle.DAILY, "2027-03-01")}])
    with pytest.raises(ImmutableField):
        booking_update(booking_id=booking.pk, actor=setup.staff, changes={"repeat": rule(Cycle.DAILY, "2027-03-01")})


def test_one_occurrence_can_still_be_moved_by_a_change_request(setup):
    booking = setup.submit(weekly(setup, 3), now=NOW).booking
    second = booking.requested_times.get(occurrence=1)
    change_request_submit(booking_id=booking.pk, actor=Actor.booker("ada@example.com"), now=NOW, events=[{
        "bookingEventId": str(second.pk), "start": monday(1, 11).isoformat(), "end": monday(1, 12).isoformat()}])
    second.refresh_from_db()
    assert (second.start, second.occurrence, second.repeat["repeats"]) == (monday(1, 11), 1, Cycle.WEEKLY)
    assert second.event.start == monday(1, 11) and second.event.series_id == EventSeries.objects.get().pk


def test_the_booking_representation_shows_the_repeat(setup):
    booking = setup.submit(weekly(setup, 3), now=NOW).booking
    payload = booking_payload(booking, staff=True)
    wire = {"repeats": 2, "repeatEvery": 1, "repeatUntil": "2027-01-18", "repeatOnMondays": False,
            "repeatOnTuesdays": False, "repeatOnWednesdays": False, "repeatOnThursdays": False,
            "repeatOnFridays": False, "repeatOnSaturdays": False, "repeatOnSundays": False}
    assert payload["repeat"] == wire
    assert [(e["occurrence"], e["repeat"], e["startLocal"]) for e in payload["events"]] == [
        (0, wire, "2027-01-04T09:00:00"), (1, wire, "2027-01-11T09:00:00"), (2, wire, "2027-01-18T09:00:00")]
    single = setup.submit(setup.event(monday(5)), now=NOW).booking
    payload = booking_payload(single, staff=True)
    assert payload["repeat"] is None and payload["events"][0]["repeat"] is None
    assert payload["events"][0]["occurrence"] is None


# === one conflict query, whatever the number of occurrences ==========================================


def reservation_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")
            and 'FROM "events_reservation"' in q["sql"]]


def overlap_reads(queries) -> list[str]:
    """The conflict checks: reads of active reservations overlapping a window."""
    return [sql for sql in reservation_reads(queries) if '"events_reservation"."active"' in sql]


@pytest.mark.parametrize("hold", [True, False])
def test_the_conflict_check_is_one_query_for_10_or_100_occurrences(hold, setup):
    setup.module.hold_pending_slots = hold
    setup.module.save()
    block_seventh(setup, [setup.hall])  # something in the table to compare with
    counts = {}
    for count, first in ((10, monday()), (100, monday(20))):
        until = (first + timedelta(days=count - 1)).date().isoformat()
        event = setup.event(first, repeat=rule(Cycle.DAILY, until))
        with CaptureQueriesContext(connection) as ctx:  # a new booker each time: the same work but the times
            result = setup.submit(event, email=f"booker{count}@example.com", now=NOW)
        assert result.booking.requested_times.count() == count
        # Everything but the inserts, which a database may split into batches (SQLite: 999 parameters each).
        others = [q for q in ctx.captured_queries if not q["sql"].lstrip().upper().startswith("INSERT")]
        counts[count] = (len(overlap_reads(ctx.captured_queries)), len(reservation_reads(ctx.captured_queries)),
                         len(others))
    assert counts[10][0] == counts[100][0] == 1
    assert counts[10] == counts[100], counts


def test_skip_conflicts_and_approval_read_the_reservations_once_too(setup):
    block_seventh(setup)
    counts = []
    for count, first in ((10, monday(6) - timedelta(days=6)), (100, monday(20))):  # the 10 include 15 February
        until = (first + timedelta(days=count - 1)).date().isoformat()
        with CaptureQueriesContext(connection) as ctx:
            result = booking_create(module=setup.module, actor=setup.staff, status=BookingStatus.PENDING,
                                    contact=contact(), events=[setup.event(first, repeat=rule(Cycle.DAILY, until))],
                                    single_event=True, skip_conflicts=True, now=NOW)
        created = len(overlap_reads(ctx.captured_queries))
        with CaptureQueriesContext(connection) as ctx:
            booking_approve(booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
        counts.append((created, len(overlap_reads(ctx.captured_queries))))
    assert counts == [(1, 1), (1, 1)]
    assert Reservation.objects.filter(event__series__isnull=False).count() == 9 + 100
