"""events.selectors.calendar_week: local days across clock changes, what shows where, fixed queries."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bookings.models import BookingStatus
from events.models import EventStatus
from events.selectors import BOOKING_PENDING, BlockKind, calendar_week, local_midnight
from events.services.single import event_create
from events.services.status import events_set_status
from resources.models import Venue

from ..factories import ClosureFactory, OrganizationFactory, ResourceFactory, VenueFactory

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def place(venue: Venue, resources, start: datetime, end: datetime, *, title="Event", status=EventStatus.CONFIRMED):
    """A past or future event through the real service (rules off: these weeks are in the past)."""
    return event_create(
        organization=venue.organization,
        title=title,
        start=start,
        end=end,
        resource_ids=[r.pk for r in resources],
        status=status,
        override_rules=True,
    )


def cell(week, resource, day: date):
    row = next(r for r in week.rows if r.resource.pk == resource.pk)
    return next(c for c in row.cells if c.day.date == day)


def test_pending_constant_matches_bookings():
    assert BOOKING_PENDING == BookingStatus.PENDING


def test_local_midnight_in_a_spring_forward_gap_is_the_transition():
    # Chile moves its clocks at midnight: 2024-09-08 00:00 does not exist in Santiago, the day begins at 01:00.
    tz = ZoneInfo("America/Santiago")
    start = local_midnight(date(2024, 9, 8), tz)
    assert start.astimezone(tz).hour == 1
    assert local_midnight(date(2024, 9, 9), tz) - start == timedelta(hours=23)


@pytest.mark.django_db
class TestWeek:
    def setup_method(self):
        self.org = OrganizationFactory(timezone="Europe/London")
        self.venue = VenueFactory(organization=self.org, timezone="Europe/London")
        self.room = ResourceFactory(venue=self.venue, name="A room")
        self.hall = ResourceFactory(venue=self.venue, name="B hall")

    def test_any_date_gives_its_monday_to_sunday(self):
        week = calendar_week(venue=self.venue, week_start=date(2025, 6, 12), today=date(2025, 6, 14))
        assert week.week_start == date(2025, 6, 9)
        assert [d.date for d in week.days] == [date(2025, 6, 9) + timedelta(days=i) for i in range(7)]
        assert [d.is_today for d in week.days] == [False] * 5 + [True, False]
        assert (week.previous_week, week.next_week) == (date(2025, 6, 2), date(2025, 6, 16))
        assert [r.resource.name for r in week.rows] == ["A room", "B hall"]

    def test_spring_week_has_a_23_hour_sunday(self):
        place(
            self.venue,
            [self.room],
            datetime(2025, 3, 30, 0, 30, tzinfo=LONDON),
            datetime(2025, 3, 30, 3, 30, tzinfo=LONDON),
            title="Across the change",
        )
        week = calendar_week(venue=self.venue, week_start=date(2025, 3, 24))
        assert [d.hours for d in week.days] == [24] * 6 + [23]
        (block,) = cell(week, self.room, date(2025, 3, 30)).blocks
        assert (f"{block.local_start:%H:%M}", f"{block.local_end:%H:%M}") == ("00:30", "03:30")
        assert block.end - block.start == timedelta(hours=2)

    def test_autumn_week_has_a_25_hour_sunday_with_both_one_thirties(self):
        first = datetime(2025, 10, 26, 1, 30, tzinfo=LONDON)  # BST
        second = datetime(2025, 10, 26, 1, 30, fold=1, tzinfo=LONDON)  # GMT, an hour later
        # Python adds to an aware datetime on the wall clock (and drops fold): add in UTC.
        for resource, start, title in (
            (self.room, second, "Second"),
            (self.hall, first, "First"),
            (self.room, first, "First"),
        ):
            place(self.venue, [resource], start, start.astimezone(UTC) + timedelta(minutes=20), title=title)
        week = calendar_week(venue=self.venue, week_start=date(2025, 10, 20))
        assert [d.hours for d in week.days] == [24] * 6 + [25]
        assert [b.title for b in cell(week, self.room, date(2025, 10, 26)).blocks] == ["First", "Second"]

    def test_week_and_days_follow_the_venue_timezone(self):
        self.venue.timezone = "America/New_York"
        self.venue.save()
        late_sunday = datetime(2025, 3, 16, 23, 30, tzinfo=NEW_YORK)  # Monday 03:30 UTC
        place(self.venue, [self.room], late_sunday, late_sunday + timedelta(minutes=20), title="Late")
        week = calendar_week(venue=self.venue, week_start=date(2025, 3, 10))
        assert [b.title for b in cell(week, self.room, date(2025, 3, 16)).blocks] == ["Late"]
        following = calendar_week(venue=self.venue, week_start=date(2025, 3, 17))
        assert all(not c.blocks for row in following.rows for c in row.cells)

    def test_an_event_across_midnight_is_on_both_days(self):
        start = datetime(2025, 6, 10, 22, 0, tzinfo=LONDON)
        place(self.venue, [self.room, self.hall], start, start + timedelta(hours=4), title="Late party")
        week = calendar_week(venue=self.venue, week_start=date(2025, 6, 9))
        for resource in (self.room, self.hall):
            (tuesday,) = cell(week, resource, date(2025, 6, 10)).blocks
            (wednesday,) = cell(week, resource, date(2025, 6, 11)).blocks
            assert (f"{tuesday.local_start:%H:%M}", tuesday.continues_before, tuesday.continues_after) == (
                "22:00",
                False,
                True,
            )
            assert (f"{wednesday.local_end:%H:%M}", wednesday.continues_before, wednesday.continues_after) == (
                "02:00",
                True,
                False,
            )

    def test_canceled_events_and_archived_resources_are_not_shown(self):
        start = datetime(2025, 6, 10, 9, 0, tzinfo=LONDON)
        event = place(self.venue, [self.room], start, start + timedelta(hours=1))
        events_set_status(events=[event], status=EventStatus.CANCELED)
        ResourceFactory(venue=self.venue, name="Old", archived=True)
        week = calendar_week(venue=self.venue, week_start=date(2025, 6, 9))
        assert [r.resource.name for r in week.rows] == ["A room", "B hall"]
        assert all(not c.blocks for row in week.rows for c in row.cells)

    def test_closures_for_every_resource_for_some_and_yearly(self):
        everything = ClosureFactory(
            organization=self.org,
            message="Inventory",
            start=datetime(2025, 6, 11, 0, 0, tzinfo=LONDON),
            end=datetime(2025, 6, 12, 0, 0, tzinfo=LONDON),
        )
        hall_only = ClosureFactory(
            organization=self.org,
            message="Floor works",
            start=datetime(2025, 6, 13, 8, 0, tzinfo=LONDON),
            end=datetime(2025, 6, 13, 12, 0, tzinfo=LONDON),
        )
        hall_only.resources.set([self.hall])
        ClosureFactory(
            organization=self.org,
            message="Founders' day",
            repeats_yearly=True,
            start=datetime(2019, 6, 15, 0, 0, tzinfo=LONDON),
            end=datetime(2019, 6, 16, 0, 0, tzinfo=LONDON),
        )
        ClosureFactory(message="Another organization", start=everything.start, end=everything.end)
        week = calendar_week(venue=self.venue, week_start=date(2025, 6, 9))

        def closed(resource, day):
            return [(b.kind, b.title) for b in cell(week, resource, day).blocks]

        for resource in (self.room, self.hall):
            assert closed(resource, date(2025, 6, 11)) == [(BlockKind.CLOSED, "Inventory")]
            assert closed(resource, date(2025, 6, 15)) == [(BlockKind.CLOSED, "Founders' day")]
        assert closed(self.room, date(2025, 6, 13)) == []
        assert closed(self.hall, date(2025, 6, 13)) == [(BlockKind.CLOSED, "Floor works")]

    def test_fixed_number_of_queries(self, django_assert_num_queries):
        start = datetime(2025, 6, 9, 8, 0, tzinfo=LONDON)
        for i in range(12):
            begins = start + timedelta(hours=i)
            place(self.venue, [self.room if i % 2 else self.hall], begins, begins + timedelta(minutes=50))
        ClosureFactory(organization=self.org, start=start, end=start + timedelta(hours=1))
        calendar_week(venue=self.venue, week_start=date(2025, 6, 2))  # the closures are now in the config cache
        # resources, reservations + events, pending requests, the configuration version (the closures cached)
        with django_assert_num_queries(4):
            week = calendar_week(venue=self.venue, week_start=date(2025, 6, 9))
        assert sum(len(c.blocks) for row in week.rows for c in row.cells) == 12 + 2


def test_pending_requests_without_holds_are_shown(setup_no_hold):
    from tests.conftest import future

    s = setup_no_hold
    when = future(days=8, hour=15)
    booking = s.submit(s.event(start=when, resources=[s.room, s.desks], title="Workshop")).booking
    assert booking.status == BookingStatus.PENDING
    week = calendar_week(venue=s.venue, week_start=when.date())
    for resource in (s.room, s.desks):
        (block,) = cell(week, resource, when.date()).blocks
        assert (block.kind, block.title, block.booking_id, block.event_id) == (
            BlockKind.PENDING,
            "Workshop",
            booking.pk,
            None,
        )
    assert not cell(week, s.hall, when.date()).blocks
