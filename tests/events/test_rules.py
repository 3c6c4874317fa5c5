"""The booking rules (docs/architecture.md#booking-rules, events/rules.py), each at its boundary, in the venue's
local time.

Three layers: `check_rules` on its own (every code, one minute either side of each limit), the DST
changes of Europe/London (docs/architecture.md#time), and the same rules reached through the booking
services, with field paths, staff overrides and the log note that records them. Every call passes an
explicit `now`.

This module: `check_rules` on its own, and the DST changes."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from events.rules import check_rules, within_bookable_hours
from events.selectors import closures_for
from resources.models import Resource

from ..conftest import LONDON
from ..factories import BookableHoursFactory, ClosureFactory, OrganizationFactory, ResourceFactory, VenueFactory
from .rules_helpers import ALL_WEEK, DST_NOW, NOW, TUESDAY, local, on

NEW_YORK = ZoneInfo("America/New_York")


def hm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def resource_with(*, tz: str = "Europe/London", hours=(), **rules) -> Resource:
    """A resource in a venue of `tz` with these rule fields and weekly windows (weekday, "HH:MM", "HH:MM")."""
    resource = ResourceFactory(venue=VenueFactory(timezone=tz), **rules)
    for weekday, start, end in hours:
        BookableHoursFactory(resource=resource, weekday=weekday, start_time=hm(start), end_time=hm(end))
    return resource


def run_rules(resource: Resource, start: datetime, end: datetime, *, now: datetime = NOW):
    """check_rules the way the validator calls it: the resource freshly loaded with its bookable hours,
    the organization's closures from `closures_for`."""
    fresh = (
        Resource.objects.select_related("venue__organization").prefetch_related("bookable_hours").get(pk=resource.pk)
    )
    closures = closures_for(organization=fresh.venue.organization, start=min(start, end), end=max(start, end))
    return check_rules(resource=fresh, start=start, end=end, now=now, closures=closures)


def codes(failures) -> list[str]:
    return sorted(f.code for f in failures)


# --- durations ----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rules", "minutes", "expected"),
    [
        ({"min_duration_minutes": 30}, 30, []),
        ({"min_duration_minutes": 30}, 29, ["TOO_SHORT"]),
        ({"min_duration_minutes": 30}, 31, []),
        ({"max_duration_minutes": 120}, 120, []),
        ({"max_duration_minutes": 120}, 121, ["TOO_LONG"]),
        ({"max_duration_minutes": 120}, 119, []),
        ({"min_duration_minutes": 30, "max_duration_minutes": 120}, 29, ["TOO_SHORT"]),
        ({"min_duration_minutes": 30, "max_duration_minutes": 120}, 121, ["TOO_LONG"]),
        ({"min_duration_minutes": 60, "max_duration_minutes": 60}, 60, []),
        ({}, 1, []),  # no limits
        ({}, 3 * 24 * 60, []),
    ],
)
def test_duration_limits_at_their_boundaries(rules, minutes, expected):
    resource = resource_with(**rules)
    start = on(TUESDAY, "10:00")
    failures = run_rules(resource, start, start + timedelta(minutes=minutes))
    assert codes(failures) == expected
    assert all(f.field == "end" and f.resource_id == str(resource.pk) for f in failures)


@pytest.mark.django_db
def test_duration_is_real_elapsed_time_even_for_local_datetimes():
    """00:30 to 03:30 on the March change day is two hours of real time, whatever tzinfo the caller used."""
    resource = resource_with(max_duration_minutes=150)
    start = datetime(2027, 3, 28, 0, 30, tzinfo=LONDON)
    end = datetime(2027, 3, 28, 3, 30, tzinfo=LONDON)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=2)
    assert run_rules(resource, start, end) == []
    assert run_rules(resource, start.astimezone(UTC), end.astimezone(UTC)) == []


# --- notice, advance, past, order -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("notice", "ahead", "expected"),
    [
        (120, timedelta(minutes=120), []),
        (120, timedelta(minutes=119), ["START_TIME_TOO_LATE"]),
        (120, timedelta(minutes=119, seconds=59), ["START_TIME_TOO_LATE"]),
        (120, timedelta(minutes=121), []),
        (2 * 24 * 60, timedelta(days=2), []),
        (2 * 24 * 60, timedelta(days=2) - timedelta(minutes=1), ["START_TIME_TOO_LATE"]),
        (0, timedelta(0), []),  # starting right now is allowed without a notice rule
        (0, -timedelta(minutes=1), ["IN_THE_PAST"]),
        (120, -timedelta(minutes=1), ["IN_THE_PAST"]),  # in the past, not also "too late"
    ],
)
def test_minimum_notice_at_its_boundary(notice, ahead, expected):
    resource = resource_with(min_notice_minutes=notice)
    start = NOW + ahead
    failures = run_rules(resource, start, start + timedelta(hours=1))
    assert codes(failures) == expected
    assert all(f.field == "start" for f in failures)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("now", "start", "expected"),
    [
        (NOW, NOW + timedelta(days=30), []),
        (NOW, NOW + timedelta(days=30, minutes=1), ["START_TIME_TOO_EARLY"]),
        (NOW, NOW + timedelta(days=29, hours=23, minutes=59), []),
        # Across the March change: "30 days ahead" is the same local time 30 days on (12:00 GMT -> 12:00 BST),
        # so the limit in UTC is an hour earlier than now + 30 * 24 hours.
        (local(2027, 3, 10, 12), local(2027, 4, 9, 12), []),
        (local(2027, 3, 10, 12), local(2027, 4, 9, 12, 1), ["START_TIME_TOO_EARLY"]),
        (local(2027, 3, 10, 12), local(2027, 3, 10, 12) + timedelta(days=30), ["START_TIME_TOO_EARLY"]),
        # Across the October change the other way round (12:00 BST -> 12:00 GMT is 30 days + 1 hour).
        (local(2026, 10, 10, 12), local(2026, 10, 10, 12) + timedelta(days=30, hours=1), []),
        (local(2026, 10, 10, 12), local(2026, 11, 9, 12, 1), ["START_TIME_TOO_EARLY"]),
    ],
)
def test_maximum_advance_at_its_boundary_in_local_time(now, start, expected):
    resource = resource_with(max_advance_days=30)
    failures = run_rules(resource, start, start + timedelta(hours=1), now=now)
    assert codes(failures) == expected
    assert all(f.field == "start" for f in failures)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (on(TUESDAY, "10:00"), on(TUESDAY, "10:00"), ["END_BEFORE_START"]),
        (on(TUESDAY, "10:00"), on(TUESDAY, "09:59"), ["END_BEFORE_START"]),
        (on(TUESDAY, "10:00"), on(TUESDAY, "10:30"), []),
        # The order is checked first and alone: no duration or past errors on top of it.
        (NOW - timedelta(hours=1), NOW - timedelta(hours=2), ["END_BEFORE_START"]),
    ],
)
def test_end_must_be_after_start(start, end, expected):
    resource = resource_with(min_duration_minutes=30)
    failures = run_rules(resource, start, end)
    assert codes(failures) == expected
    assert all(f.field == "end" for f in failures)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (NOW - timedelta(minutes=1), ["IN_THE_PAST"]),
        (NOW - timedelta(days=400), ["IN_THE_PAST"]),
        (NOW - timedelta(microseconds=1), ["IN_THE_PAST"]),
        (NOW, []),
        (NOW + timedelta(minutes=1), []),
    ],
)
def test_in_the_past(start, expected):
    failures = run_rules(resource_with(), start, start + timedelta(hours=1))
    assert codes(failures) == expected
    assert all(f.field == "start" for f in failures)


@pytest.mark.django_db
@pytest.mark.parametrize(("archived", "expected"), [(True, ["RESOURCE_ARCHIVED"]), (False, [])])
def test_archived_resource(archived, expected):
    resource = resource_with(archived=archived)
    failures = run_rules(resource, on(TUESDAY, "10:00"), on(TUESDAY, "11:00"))
    assert codes(failures) == expected
    assert all(f.field == "resourceIds" and f.resource_id == str(resource.pk) for f in failures)


@pytest.mark.django_db
def test_every_broken_rule_is_reported_with_its_field():
    resource = resource_with(
        archived=True, min_duration_minutes=60, min_notice_minutes=24 * 60, hours=[(1, "09:00", "17:00")]
    )
    start = NOW + timedelta(hours=1)  # Monday 09:00: too soon, and no window on Mondays
    failures = run_rules(resource, start, start + timedelta(minutes=30))
    assert {(f.code, f.field) for f in failures} == {
        ("RESOURCE_ARCHIVED", "resourceIds"),
        ("START_TIME_TOO_LATE", "start"),
        ("TOO_SHORT", "end"),
        ("OUTSIDE_BOOKABLE_HOURS", "start"),
    }
    error = failures[0].as_field_error("events[2]")
    assert error.field == f"events[2].{failures[0].field}"
    assert error.meta == {"resourceId": str(resource.pk)}


# --- bookable hours ---------------------------------------------------------------------------------------

NINE_TO_FIVE_TUESDAY = [(1, "09:00", "17:00")]
MIDNIGHT_SPAN = [(1, "22:00", "00:00"), (2, "00:00", "02:00")]  # Tuesday 22:00 to Wednesday 02:00
ADJACENT = [(1, "09:00", "12:00"), (1, "12:00", "17:00")]
OVERLAPPING = [(1, "12:00", "17:00"), (1, "09:00", "13:00")]
GAP = [(1, "09:00", "12:00"), (1, "13:00", "17:00")]
WHOLE_DAYS = [(1, "00:00", "00:00"), (2, "00:00", "00:00")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("hours", "start", "end", "ok"),
    [
        # 09:00-17:00 on Tuesdays
        (NINE_TO_FIVE_TUESDAY, "09:00", "17:00", True),
        (NINE_TO_FIVE_TUESDAY, "12:00", "13:00", True),
        (NINE_TO_FIVE_TUESDAY, "08:59", "17:00", False),
        (NINE_TO_FIVE_TUESDAY, "09:00", "17:01", False),
        (NINE_TO_FIVE_TUESDAY, "08:59:30", "10:00", False),
        (NINE_TO_FIVE_TUESDAY, "16:00", "17:00:30", False),
        (NINE_TO_FIVE_TUESDAY, "08:00", "09:00", False),
        (NINE_TO_FIVE_TUESDAY, "17:00", "18:00", False),
        (NINE_TO_FIVE_TUESDAY, "09:00", "+1 10:00", False),  # into Wednesday, which has no window
        (NINE_TO_FIVE_TUESDAY, "+1 10:00", "+1 11:00", False),
        # windows reaching midnight (end 00:00) and continuing the next day
        (MIDNIGHT_SPAN, "22:00", "+1 02:00", True),
        (MIDNIGHT_SPAN, "23:00", "+1 00:00", True),
        (MIDNIGHT_SPAN, "+1 00:00", "+1 02:00", True),
        (MIDNIGHT_SPAN, "21:59", "23:00", False),
        (MIDNIGHT_SPAN, "22:00", "+1 02:01", False),
        (MIDNIGHT_SPAN[:1], "23:00", "+1 00:00", True),
        (MIDNIGHT_SPAN[:1], "23:00", "+1 00:30", False),  # Wednesday has no window
        (WHOLE_DAYS, "00:00", "+2 00:00", True),
        (WHOLE_DAYS, "00:00", "+2 00:01", False),
        # adjacent (or overlapping) windows of one day merge
        (ADJACENT, "09:00", "17:00", True),
        (ADJACENT, "11:00", "13:00", True),
        (ADJACENT, "08:59", "13:00", False),
        (OVERLAPPING, "09:00", "17:00", True),
        (GAP, "11:00", "14:00", False),
        (GAP, "09:00", "12:00", True),
        (GAP, "13:00", "17:00", True),
        # no windows at all: always bookable
        ([], "03:00", "+5 04:00", True),
    ],
)
def test_bookable_hours(hours, start, end, ok):
    def moment(text: str) -> datetime:
        days, _, clock = text.rpartition(" ")
        return on(TUESDAY, clock, days=int(days or 0))

    resource = resource_with(hours=hours)
    failures = run_rules(resource, moment(start), moment(end))
    assert codes(failures) == ([] if ok else ["OUTSIDE_BOOKABLE_HOURS"])
    assert all(f.field == "start" for f in failures)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("utc_start", "london_ok", "new_york_ok"),
    [
        ("14:00", True, True),  # 14:00 in London, 09:00 in New York
        ("10:00", True, False),  # 10:00 in London, 05:00 in New York
        ("21:00", False, True),  # 21:00 in London, 16:00 in New York
        ("22:00", False, False),  # 22:00 in London, 17:00 in New York
    ],
)
def test_bookable_hours_use_the_venue_timezone(utc_start, london_ok, new_york_ok):
    hours = [(1, "09:00", "17:00")]
    london = resource_with(tz="Europe/London", hours=hours)
    new_york = resource_with(tz="America/New_York", hours=hours)
    start = on(TUESDAY, utc_start, tz=UTC)
    end = start + timedelta(hours=1)
    assert (run_rules(london, start, end) == []) is london_ok
    assert (run_rules(new_york, start, end) == []) is new_york_ok


@pytest.mark.django_db
def test_a_venue_without_timezone_uses_the_organization_one():
    org = OrganizationFactory(timezone="America/New_York")
    resource = ResourceFactory(venue=VenueFactory(organization=org, timezone=""))
    BookableHoursFactory(resource=resource, weekday=1, start_time=time(9), end_time=time(17))
    assert run_rules(resource, on(TUESDAY, "09:00", tz=NEW_YORK), on(TUESDAY, "17:00", tz=NEW_YORK)) == []
    assert codes(run_rules(resource, on(TUESDAY, "09:00"), on(TUESDAY, "10:00"))) == ["OUTSIDE_BOOKABLE_HOURS"]


# --- closures ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end", "closed"),
    [
        ("13:00", "13:30", True),  # inside
        ("10:00", "16:00", True),  # around
        ("11:00", "12:01", True),  # into its start
        ("13:59", "15:00", True),  # from before its end
        ("11:00", "12:00", False),  # ends as the closure starts
        ("14:00", "15:00", False),  # starts as the closure ends
    ],
)
def test_closure_overlap_boundaries(start, end, closed):
    resource = resource_with()
    ClosureFactory(
        organization=resource.venue.organization,
        start=on(TUESDAY, "12:00"),
        end=on(TUESDAY, "14:00"),
        message="Floor polishing",
    )
    failures = run_rules(resource, on(TUESDAY, start), on(TUESDAY, end))
    assert codes(failures) == (["RESOURCE_CLOSED"] if closed else [])
    assert all(f.field == "start" and "Floor polishing" in f.message for f in failures)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scope", "closed"),
    [
        ("all", True),  # no resources selected: every resource
        ("this", True),
        ("this and other", True),
        ("other", False),
        ("other organization", False),
    ],
)
def test_closure_scope(scope, closed):
    resource = resource_with()
    other = ResourceFactory(venue=resource.venue)
    org = OrganizationFactory() if scope == "other organization" else resource.venue.organization
    closure = ClosureFactory(organization=org, start=on(TUESDAY, "00:00"), end=on(TUESDAY, "00:00", days=1))
    closure.resources.set(
        {
            "all": [],
            "this": [resource],
            "this and other": [resource, other],
            "other": [other],
            "other organization": [],
        }[scope]
    )
    failures = run_rules(resource, on(TUESDAY, "10:00"), on(TUESDAY, "11:00"))
    assert codes(failures) == (["RESOURCE_CLOSED"] if closed else [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("closure", "repeats", "start", "end", "closed"),
    [
        # Christmas Day 2026 (London), yearly: closed on Christmas Day 2027 and 2028 as well.
        (((2026, 12, 25), (2026, 12, 26)), True, local(2027, 12, 25, 10), local(2027, 12, 25, 11), True),
        (((2026, 12, 25), (2026, 12, 26)), True, local(2028, 12, 25, 23), local(2028, 12, 26, 1), True),
        (((2026, 12, 25), (2026, 12, 26)), True, local(2027, 12, 24, 10), local(2027, 12, 24, 11), False),
        (((2026, 12, 25), (2026, 12, 26)), True, local(2027, 12, 24, 23), local(2027, 12, 25), False),
        (((2026, 12, 25), (2026, 12, 26)), True, local(2027, 12, 26), local(2027, 12, 26, 1), False),
        (((2026, 12, 25), (2026, 12, 26)), False, local(2027, 12, 25, 10), local(2027, 12, 25, 11), False),
        # New Year's Eve to 2 January: a yearly closure spanning the turn of the year.
        (((2026, 12, 31), (2027, 1, 2)), True, local(2028, 1, 1, 10), local(2028, 1, 1, 11), True),
        (((2026, 12, 31), (2027, 1, 2)), True, local(2027, 12, 31, 10), local(2027, 12, 31, 11), True),
        (((2026, 12, 31), (2027, 1, 2)), True, local(2028, 1, 2, 10), local(2028, 1, 2, 11), False),
    ],
)
def test_yearly_closure(closure, repeats, start, end, closed):
    resource = resource_with()
    (first, last) = closure
    ClosureFactory(
        organization=resource.venue.organization, start=local(*first), end=local(*last), repeats_yearly=repeats
    )
    assert codes(run_rules(resource, start, end)) == (["RESOURCE_CLOSED"] if closed else [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end", "closed"),
    [
        ("08:00", "09:00", False),  # 07:00-08:00 UTC: ends as the local 09:00 closure starts
        ("09:00", "09:30", True),  # 08:00-08:30 UTC: inside 09:00-17:00 BST (an UTC shift would miss it)
        ("16:30", "17:00", True),
        ("17:00", "18:00", False),  # 16:00-17:00 UTC: would be inside a closure shifted in UTC
    ],
)
def test_yearly_closure_repeats_in_local_time_across_dst(start, end, closed):
    """Saturday 28 March 2026 09:00-17:00 GMT repeats on Sunday 28 March 2027, after the change to BST."""
    resource = resource_with()
    ClosureFactory(
        organization=resource.venue.organization,
        start=local(2026, 3, 28, 9),
        end=local(2026, 3, 28, 17),
        repeats_yearly=True,
    )
    day = (2027, 3, 28)
    now = local(2026, 3, 1)
    assert codes(run_rules(resource, on(day, start), on(day, end), now=now)) == (["RESOURCE_CLOSED"] if closed else [])


# --- DST (docs/architecture.md#time) ----------------------------------------------------------------------

DST_DAYS = [
    (2026, 10, 24),  # Saturday, BST (UTC+1)
    (2026, 10, 25),  # Sunday, the clocks go back at 02:00 BST
    (2026, 10, 26),  # Monday, GMT
    (2027, 3, 27),  # Saturday, GMT
    (2027, 3, 28),  # Sunday, the clocks go forward at 01:00 GMT
    (2027, 3, 29),  # Monday, BST
]


@pytest.mark.django_db
@pytest.mark.parametrize("day", DST_DAYS)
@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        ("09:00", "17:00", True),
        ("08:30", "09:30", False),
        ("08:59", "17:00", False),
        ("16:30", "17:01", False),
    ],
)
def test_nine_to_five_holds_in_local_time_around_the_clock_changes(day, start, end, ok):
    resource = resource_with(hours=[(weekday, "09:00", "17:00") for weekday in ALL_WEEK])
    failures = run_rules(resource, on(day, start), on(day, end), now=DST_NOW)
    assert codes(failures) == ([] if ok else ["OUTSIDE_BOOKABLE_HOURS"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("before", "after"),
    [((2026, 10, 24), (2026, 10, 26)), ((2027, 3, 27), (2027, 3, 29))],
)
def test_nine_to_five_is_a_different_utc_instant_on_each_side_of_a_change(before, after):
    resource = resource_with(hours=[(weekday, "09:00", "17:00") for weekday in ALL_WEEK])
    nine_before, nine_after = on(before, "09:00"), on(after, "09:00")
    offsets = {d: datetime(*d, 9, tzinfo=LONDON).utcoffset() for d in (before, after)}
    # Local 09:00 is an hour apart in UTC (08:00 UTC in BST, 09:00 UTC in GMT).
    assert abs(offsets[before] - offsets[after]) == timedelta(hours=1)
    assert (nine_before.hour, nine_after.hour) == ((8, 9) if before[1] == 10 else (9, 8))
    for day in (before, after):
        assert run_rules(resource, on(day, "09:00"), on(day, "17:00"), now=DST_NOW) == []
    # The same UTC clock time is inside the hours on one side of the change and outside on the other.
    early_utc = min(nine_before.time(), nine_after.time())
    outcomes = []
    for day in (before, after):
        start = datetime.combine(datetime(*day).date(), early_utc, tzinfo=UTC)
        outcomes.append(run_rules(resource, start, start + timedelta(hours=1), now=DST_NOW) == [])
    assert sorted(outcomes) == [False, True]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("hours", "start_utc", "end_utc", "ok"),
    [
        # Sunday 25 October 2026: 00:00-01:00 UTC is 01:00-02:00 BST, then 01:00 GMT comes again.
        ([(6, "09:00", "17:00")], (2026, 10, 25, 0), (2026, 10, 25, 1), False),
        ([(6, "09:00", "17:00")], (2026, 10, 25, 0, 30), (2026, 10, 25, 1, 15), False),
        # 00:00-02:00 BST wall clock (23:00-01:00 UTC) while only 00:00-01:00 is bookable.
        ([(6, "00:00", "01:00")], (2026, 10, 24, 23), (2026, 10, 25, 1), False),
        ([(6, "00:00", "02:00")], (2026, 10, 24, 23), (2026, 10, 25, 1), True),
        ([(6, "00:00", "02:00")], (2026, 10, 24, 23), (2026, 10, 25, 2), True),  # 00:00 BST-02:00 GMT
        ([(6, "01:00", "02:00")], (2026, 10, 25, 0), (2026, 10, 25, 2), True),  # the hour, lived twice
        # Sunday 28 March 2027: 00:30 GMT to 02:30 BST is one real hour, 01:00-02:00 never exists.
        ([(6, "00:00", "01:00"), (6, "02:00", "17:00")], (2027, 3, 28, 0, 30), (2027, 3, 28, 1, 30), True),
        ([(6, "00:00", "01:00"), (6, "03:00", "17:00")], (2027, 3, 28, 0, 30), (2027, 3, 28, 1, 30), False),
    ],
)
def test_bookable_hours_inside_the_changing_hour(hours, start_utc, end_utc, ok):
    resource = resource_with(hours=hours)
    start, end = datetime(*start_utc, tzinfo=UTC), datetime(*end_utc, tzinfo=UTC)
    assert (run_rules(resource, start, end, now=DST_NOW) == []) is ok
    assert within_bookable_hours(resource, start.astimezone(LONDON), end.astimezone(LONDON)) is ok
