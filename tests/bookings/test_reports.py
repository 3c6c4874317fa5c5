"""Utilization reports (docs/architecture.md#utilization-reports): periods in local time, bookable minutes from
bookable hours, closures, units and DST days, the aggregates per resource and period, the totals, the scope,
and a number of queries that holds whatever the period and the number of bookings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bookings.models import BookingStatus, ChargeStatus
from bookings.reports import (
    period_count,
    report_by_period,
    report_organization,
    report_periods,
    report_resources,
    utilization_report,
)
from core.errors import ValidationFailed
from events.models import EventStatus
from tests.factories import (
    BookableHoursFactory,
    BookingEventFactory,
    BookingFactory,
    BookingModuleFactory,
    ChargeFactory,
    ClosureFactory,
    EventFactory,
    OrganizationFactory,
    ReservationFactory,
    ResourceFactory,
    ResourceUnitFactory,
    UserFactory,
    VenueFactory,
)

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 2)


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = LONDON) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def report(resource, start: date, end: date | None = None, granularity: str = "day", resources=None):
    organization = resource.venue.organization
    return utilization_report(
        organization=organization,
        resources=resources or report_resources(organization=organization, resource_id=resource.pk),
        start=start,
        end=end or start,
        granularity=granularity,
    )


def booked(resource, start: datetime, end: datetime, status=EventStatus.CONFIRMED, active=True):
    event = EventFactory(organization=resource.venue.organization, start=start, end=end, status=status)
    return ReservationFactory(event=event, resource=resource, active=active)


def requested(resource, start: datetime, status=BookingStatus.PENDING, booking=None, resources=None):
    module = BookingModuleFactory(organization=resource.venue.organization)
    booking = booking or BookingFactory(module=module, status=status)
    time_ = BookingEventFactory(booking=booking, start=start, end=start + timedelta(hours=1))
    time_.resources.set(resources or [resource])
    return booking, time_


@pytest.fixture
def room(db):
    return ResourceFactory(venue__timezone="Europe/London", venue__organization__currency="GBP")


# --- periods ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "granularity", "expected"),
    [
        (date(2026, 11, 2), date(2026, 11, 4), "day", [(2, 2), (3, 3), (4, 4)]),
        # weeks start on Monday; the first and the last are cut to the range
        (date(2026, 11, 4), date(2026, 11, 17), "week", [(4, 8), (9, 15), (16, 17)]),
        (date(2026, 11, 20), date(2027, 1, 5), "month", [(20, 30), (1, 31), (1, 5)]),
    ],
)
def test_periods_follow_the_calendar_and_are_cut_to_the_range(start, end, granularity, expected):
    periods = report_periods(start, end, granularity)
    assert [(p.first_day.day, p.last_day.day) for p in periods] == expected
    assert [p.index for p in periods] == list(range(len(expected)))
    assert period_count(start, end, granularity) == len(periods)


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
@pytest.mark.parametrize("days", [0, 6, 7, 30, 31, 365, 700])
def test_the_period_count_that_refuses_a_range_agrees_with_the_periods(granularity, days):
    for start in (date(2026, 1, 1), date(2026, 2, 28), date(2026, 12, 31)):
        end = start + timedelta(days=days)
        assert period_count(start, end, granularity) == len(report_periods(start, end, granularity))


# --- bookable minutes -----------------------------------------------------------------------------------


def test_without_bookable_hours_the_whole_local_day_counts_and_dst_days_are_23_and_25_hours(room):
    assert report(room, date(2026, 11, 2)).rows[0].bookable_minutes == 24 * 60
    assert report(room, date(2026, 3, 29)).rows[0].bookable_minutes == 23 * 60  # clocks go forward
    assert report(room, date(2026, 10, 25)).rows[0].bookable_minutes == 25 * 60  # and back


def test_bookable_hours_count_on_their_weekday_and_an_end_of_midnight_is_the_day_end(room):
    BookableHoursFactory(resource=room, weekday=0, start_time="09:00", end_time="17:00")
    BookableHoursFactory(resource=room, weekday=0, start_time="18:00", end_time="00:00")
    BookableHoursFactory(resource=room, weekday=2, start_time="10:00", end_time="12:00")
    rows = report(room, MONDAY, MONDAY + timedelta(days=6)).rows
    assert [r.bookable_minutes for r in rows] == [8 * 60 + 6 * 60, 0, 120, 0, 0, 0, 0]
    week = report(room, MONDAY, MONDAY + timedelta(days=6), "week").rows
    assert [r.bookable_minutes for r in week] == [16 * 60]


def test_a_window_across_the_spring_gap_has_the_minutes_that_really_pass(room):
    # Sunday 29 March 2026: 01:00 to 02:00 does not exist in London
    BookableHoursFactory(resource=room, weekday=6, start_time="00:00", end_time="04:00")
    assert report(room, date(2026, 3, 29)).rows[0].bookable_minutes == 3 * 60


def test_overlapping_bookable_hours_count_once(room):
    BookableHoursFactory(resource=room, weekday=0, start_time="09:00", end_time="17:00")
    BookableHoursFactory(resource=room, weekday=0, start_time="12:00", end_time="18:00")
    BookableHoursFactory(resource=room, weekday=0, start_time="18:00", end_time="19:00")  # touching
    assert report(room, MONDAY).rows[0].bookable_minutes == 10 * 60


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        ("01:00", "01:30", 0),  # wholly in the hour the clocks skip
        ("01:30", "03:00", 60),  # from the jump (02:00 BST) to 03:00
        ("00:30", "02:00", 30),  # 00:30 to the jump
    ],
)
def test_a_wall_time_the_clocks_skip_is_the_moment_they_jump(room, start, end, minutes):
    BookableHoursFactory(resource=room, weekday=6, start_time=start, end_time=end)
    assert report(room, date(2026, 3, 29)).rows[0].bookable_minutes == minutes


def test_closures_take_their_minutes_away_and_only_from_the_resources_they_name(room):
    other = ResourceFactory(venue=room.venue)
    BookableHoursFactory(resource=room, weekday=0, start_time="09:00", end_time="17:00")
    BookableHoursFactory(resource=other, weekday=0, start_time="09:00", end_time="17:00")
    org = room.venue.organization
    ClosureFactory(organization=org, start=at(MONDAY, 12), end=at(MONDAY, 14), resources=[room])
    # overlapping closures count once; one of every resource reaches from the day before
    ClosureFactory(organization=org, start=at(MONDAY, 13), end=at(MONDAY, 15), resources=[room])
    ClosureFactory(organization=org, start=at(MONDAY, 8) - timedelta(days=1), end=at(MONDAY, 10))
    rows = report(room, MONDAY, resources=report_resources(organization=org)).rows
    assert {r.resource.pk: r.bookable_minutes for r in rows} == {room.pk: 8 * 60 - 60 - 180, other.pk: 7 * 60}


def test_a_yearly_closure_closes_the_same_day_next_year(room):
    ClosureFactory(
        organization=room.venue.organization, start=at(date(2025, 12, 25), 0), end=at(date(2025, 12, 26), 0),
        repeats_yearly=True,
    )  # fmt: skip
    rows = report(room, date(2026, 12, 24), date(2026, 12, 26)).rows
    assert [r.bookable_minutes for r in rows] == [1440, 0, 1440]


def test_a_resource_of_units_has_the_minutes_of_each_active_unit(db):
    desks = ResourceUnitFactory(name="A").resource
    ResourceUnitFactory(resource=desks, name="B")
    ResourceUnitFactory(resource=desks, name="C", archived=True)
    BookableHoursFactory(resource=desks, weekday=0, start_time="09:00", end_time="10:00")
    assert report(desks, MONDAY).rows[0].bookable_minutes == 2 * 60


# --- the aggregates -----------------------------------------------------------------------------------


def test_booked_minutes_are_confirmed_events_cut_to_each_local_day(room):
    booked(room, at(MONDAY, 10), at(MONDAY, 12))
    booked(room, at(MONDAY, 23), at(MONDAY, 1) + timedelta(days=1))  # across midnight
    booked(room, at(MONDAY, 14), at(MONDAY, 15), status=EventStatus.TENTATIVE)  # a hold: not booked
    booked(room, at(MONDAY, 16), at(MONDAY, 17), status=EventStatus.CANCELED, active=False)
    booked(ResourceFactory(venue=room.venue), at(MONDAY, 10), at(MONDAY, 12))  # another resource
    rows = report(room, MONDAY, MONDAY + timedelta(days=1)).rows
    assert [r.booked_minutes for r in rows] == [180, 60]
    assert rows[0].occupancy == round(180 / 1440, 4)
    assert report(room, MONDAY, MONDAY + timedelta(days=1), "week").rows[0].booked_minutes == 240


def test_periods_are_in_each_venues_own_time_zone(db):
    org = OrganizationFactory()
    london = ResourceFactory(venue=VenueFactory(organization=org, timezone="Europe/London"))
    new_york = ResourceFactory(venue=VenueFactory(organization=org, timezone="America/New_York"))
    # 02:00 to 04:00 UTC on Tuesday: Tuesday in London, still Monday evening in New York
    for resource in (london, new_york):
        booked(resource, datetime(2026, 11, 3, 2, tzinfo=UTC), datetime(2026, 11, 3, 4, tzinfo=UTC))
    rows = report(london, MONDAY, MONDAY + timedelta(days=1), resources=report_resources(organization=org)).rows
    by = {(r.resource.pk, r.period.first_day): r.booked_minutes for r in rows}
    assert by[(london.pk, MONDAY)] == 0 and by[(london.pk, MONDAY + timedelta(days=1))] == 120
    assert by[(new_york.pk, MONDAY)] == 120 and by[(new_york.pk, MONDAY + timedelta(days=1))] == 0


def test_bookings_count_by_status_once_per_resource_and_period_and_once_in_the_totals(room):
    hall = ResourceFactory(venue=room.venue)
    pending, _ = requested(room, at(MONDAY, 10))
    requested(room, at(MONDAY, 15), booking=pending)  # a second time the same day: the same booking
    requested(room, at(MONDAY, 10), status=BookingStatus.APPROVED, resources=[room, hall])
    requested(room, at(MONDAY, 11), status=BookingStatus.DENIED)
    requested(room, at(MONDAY, 11) + timedelta(days=1), status=BookingStatus.CANCELED)
    requested(room, at(MONDAY, 11) - timedelta(days=1))  # before the range
    result = report(
        room, MONDAY, MONDAY + timedelta(days=1), resources=report_resources(organization=room.venue.organization)
    )
    by = {(r.resource.pk, r.period.first_day): r.bookings for r in result.rows}
    assert by[(room.pk, MONDAY)] == {"pending": 1, "approved": 1, "denied": 1, "canceled": 0}
    assert by[(hall.pk, MONDAY)] == {"pending": 0, "approved": 1, "denied": 0, "canceled": 0}
    assert by[(room.pk, MONDAY + timedelta(days=1))]["canceled"] == 1
    assert result.totals.bookings == {"pending": 1, "approved": 1, "denied": 1, "canceled": 1}


def test_revenue_is_the_charges_not_reverted_and_each_charge_once_in_the_totals(room):
    hall = ResourceFactory(venue=room.venue)
    booking, both = requested(room, at(MONDAY, 10), status=BookingStatus.APPROVED, resources=[room, hall])
    ChargeFactory(booking=booking, booking_event=both, amount=Decimal("30.00"))
    ChargeFactory(booking=booking, booking_event=both, amount=Decimal("5.25"), status=ChargeStatus.INVOICED)
    ChargeFactory(booking=booking, booking_event=both, amount=Decimal("99.00"), status=ChargeStatus.REVERTED)
    result = report(room, MONDAY, resources=report_resources(organization=room.venue.organization))
    assert {r.resource.pk: r.revenue for r in result.rows} == {room.pk: Decimal("35.25"), hall.pk: Decimal("35.25")}
    assert result.totals.revenue == Decimal("35.25")


def test_the_median_decision_time_counts_staff_decisions_of_requests_only(room):
    staff = UserFactory()
    for minutes in (10, 30, 600):
        booking, _ = requested(room, at(MONDAY, 10), status=BookingStatus.APPROVED)
        booking.decided_by, booking.decided_at = staff, booking.created_at + timedelta(minutes=minutes)
        booking.save()
    automatic, _ = requested(room, at(MONDAY, 12), status=BookingStatus.APPROVED)
    automatic.decided_at = automatic.created_at  # approved on submit: no staff decision
    automatic.save()
    assert report(room, MONDAY).totals.median_decision_minutes == 30
    assert report(room, MONDAY + timedelta(days=1)).totals.median_decision_minutes is None


def test_totals_and_the_chart_series_add_the_rows_up(room):
    hall = ResourceFactory(venue=room.venue)
    booked(room, at(MONDAY, 10), at(MONDAY, 12))
    booked(hall, at(MONDAY, 10), at(MONDAY, 11))
    requested(hall, at(MONDAY, 10), status=BookingStatus.APPROVED)
    result = report(
        room, MONDAY, MONDAY + timedelta(days=1), resources=report_resources(organization=room.venue.organization)
    )
    assert result.totals.booked_minutes == 180 and result.totals.bookable_minutes == 4 * 1440
    assert result.totals.occupancy == round(180 / (4 * 1440), 4)
    series = report_by_period(result)
    assert [(s["booked"], s["bookable"], s["bookings"]["approved"]) for s in series] == [(180, 2880, 1), (0, 2880, 0)]


# --- scope and cost ------------------------------------------------------------------------------------


def test_archived_resources_are_left_out_unless_named(room):
    archived = ResourceFactory(venue=room.venue, archived=True)
    org = room.venue.organization
    assert [r.pk for r in report_resources(organization=org)] == [room.pk]
    assert [r.pk for r in report_resources(organization=org, resource_id=archived.pk)] == [archived.pk]


@pytest.mark.parametrize("name", ["resourceId", "venueId", "orgId"])
def test_something_of_another_organization_is_not_found_at_its_parameter(room, name):
    other = ResourceFactory()
    value = {"resourceId": other.pk, "venueId": other.venue_id, "orgId": other.venue.organization_id}[name]
    kwarg = {"resourceId": "resource_id", "venueId": "venue_id", "orgId": "org_id"}[name]
    with pytest.raises(ValidationFailed) as caught:
        report_organization(organization_ids=[room.venue.organization_id], **{kwarg: value})
    assert [(e.field, e.code) for e in caught.value.errors] == [(name, "NOT_FOUND")]


def test_a_resource_named_with_a_venue_it_is_not_in_is_not_found(room):
    elsewhere = VenueFactory(organization=room.venue.organization)
    with pytest.raises(ValidationFailed) as caught:
        report_organization(organization_ids=None, venue_id=elsewhere.pk, resource_id=room.pk)
    assert [(e.field, e.code) for e in caught.value.errors] == [("resourceId", "NOT_FOUND")]
    assert report_organization(organization_ids=None, venue_id=room.venue_id, resource_id=room.pk)


def test_a_member_of_several_organizations_names_one(room):
    other = OrganizationFactory()
    ids = [room.venue.organization_id, other.pk]
    with pytest.raises(ValidationFailed) as caught:
        report_organization(organization_ids=ids)
    assert [(e.field, e.code) for e in caught.value.errors] == [("orgId", "REQUIRED")]
    assert report_organization(organization_ids=ids, org_id=other.pk) == other
    assert report_organization(organization_ids=ids, venue_id=room.venue_id) == room.venue.organization
    assert report_organization(organization_ids=[other.pk]) == other


def _busy_org(days: int, bookings: int):
    org = OrganizationFactory()
    rooms = [ResourceFactory(venue__organization=org) for _ in range(2)]
    for resource in rooms:
        BookableHoursFactory(resource=resource, weekday=0)
    ClosureFactory(organization=org, start=at(MONDAY, 9), end=at(MONDAY, 10), resources=rooms[:1])
    for n in range(bookings):
        start = at(MONDAY + timedelta(days=n % days), 10)
        booked(rooms[n % 2], start, start + timedelta(hours=1))
        booking, time_ = requested(rooms[n % 2], start, status=BookingStatus(n % 4))
        ChargeFactory(booking=booking, booking_event=time_)
    return org


@pytest.mark.parametrize(("days", "bookings"), [(1, 1), (90, 60)])
def test_the_report_reads_a_fixed_number_of_queries(db, django_assert_num_queries, days, bookings):
    org = _busy_org(days, bookings)
    # the organization, the resources and their bookable hours, the closures and the resources they name,
    # then booked minutes, bookings by status and their totals, revenue and its total, the decision times
    with django_assert_num_queries(11):
        organization = report_organization(organization_ids=[org.pk])
        resources = report_resources(organization=organization)
        result = utilization_report(
            organization=organization,
            resources=resources,
            start=MONDAY,
            end=MONDAY + timedelta(days=days - 1),
            granularity="day",
        )
    assert sum(r.booked_minutes for r in result.rows) == 60 * bookings
    assert sum(result.totals.bookings.values()) == bookings


def test_what_lies_outside_the_range_is_not_counted(room):
    # A long history before and after the reported day: none of it counts, whatever the query reads.
    for days in (-400, -30, -1, 1, 30):
        start = at(MONDAY + timedelta(days=days), 10)
        booked(room, start, start + timedelta(hours=1))
        booking, time_ = requested(room, start, status=BookingStatus.APPROVED)
        ChargeFactory(booking=booking, booking_event=time_)
    result = report(room, MONDAY)
    assert result.rows[0].booked_minutes == 0 and result.totals.bookings["approved"] == 0
    assert result.totals.revenue == 0
