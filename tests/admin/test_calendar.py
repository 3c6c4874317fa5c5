"""The staff week calendar (admin:events_event_calendar) and the read-only Event admin."""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.lifecycle.decide import booking_approve, booking_cancel
from bookings.lifecycle.submit import booking_submit
from bookings.models import Booking, BookingEvent, BookingStatus
from events.models import Event, EventStatus, Reservation
from events.selectors import BlockKind, local_midnight
from events.services.single import event_create
from resources.models import Role

from ..conftest import LONDON, future
from ..factories import (
    BookingModuleFactory,
    ClosureFactory,
    MembershipFactory,
    OrganizationFactory,
    ResourceFactory,
    UserFactory,
    VenueFactory,
)
from .conftest import admin_client_for

CALENDAR = "admin:events_event_calendar"


def calendar(client, venue=None, week: date | str | None = None, status: int = 200):
    params = {}
    if venue is not None:
        params["venue"] = str(venue.pk)
    if week is not None:
        params["week"] = str(week)
    response = client.get(reverse(CALENDAR), params)
    assert response.status_code == status, response.content[:500]
    return response


def blocks_of(response, resource, day: date) -> list:
    week = response.context["week"]
    row = next(r for r in week.rows if r.resource.pk == resource.pk)
    return next(c for c in row.cells if c.day.date == day).blocks


def place(venue, resources, start, end, title="Event", status=EventStatus.CONFIRMED) -> Event:
    return event_create(
        organization=venue.organization,
        title=title,
        start=start,
        end=end,
        resource_ids=[r.pk for r in resources],
        status=status,
        override_rules=True,
    )


def no_hold_module(s):
    """A second module of the same organization whose pending requests do not hold their slots."""
    return BookingModuleFactory(
        organization=s.org,
        admin_user=s.admin,
        hold_pending_slots=False,
        portals=[s.portal],
        offered=[s.room, s.hall, s.desks],
    )


# --- what the page shows -------------------------------------------------------------------------


def test_shows_confirmed_tentative_pending_and_closed_blocks(setup, manager_client):
    s = setup
    day = future(days=8, hour=9)
    approved = s.submit(s.event(start=day, title="Board meeting")).booking
    booking_approve(booking_id=approved.pk, actor=s.staff, client_last_updated_at=None)
    held = s.submit(s.event(start=day.replace(hour=11), title="Held request")).booking
    unheld = booking_submit(
        module=no_hold_module(s),
        portal=s.portal,
        contact={"name": "Bo", "email": "bo@example.com"},
        events=[s.event(start=day.replace(hour=13), title="Unheld request")],
        single_event=True,
    ).booking
    canceled = s.submit(s.event(start=day.replace(hour=15), title="Called off")).booking
    booking_approve(booking_id=canceled.pk, actor=s.staff, client_last_updated_at=None)
    booking_cancel(booking_id=canceled.pk, actor=s.staff)
    ClosureFactory(organization=s.org, message="Deep clean", start=day.replace(hour=17), end=day.replace(hour=19))

    response = calendar(manager_client, s.venue, day.date())
    assert [(b.kind, b.title) for b in blocks_of(response, s.room, day.date())] == [
        (BlockKind.CONFIRMED, "Board meeting"),
        (BlockKind.TENTATIVE, "Held request"),
        (BlockKind.PENDING, "Unheld request"),
        (BlockKind.CLOSED, "Deep clean"),
    ]
    html = response.content.decode()
    for kind in ("confirmed", "tentative", "pending", "closed"):
        assert f'class="cal-block cal-{kind}' in html
    assert "Called off" not in html
    # Blocks of a booking lead to the booking's page, whatever state it is in.
    for booking in (approved, held, unheld):
        assert f'href="{reverse("admin:bookings_booking_change", args=[booking.pk])}"' in html
    assert "09:00–10:00" in html
    assert 'href="/static/allot/admin_calendar.css"' in html
    assert "<script>" not in html.split('id="content-main"')[1]


def test_an_event_without_a_booking_links_to_its_event_page(setup, manager_client):
    day = future(days=9, hour=10)
    event = place(setup.venue, [setup.hall], day, day + timedelta(hours=2), title="Staff training")
    html = calendar(manager_client, setup.venue, day.date()).content.decode()
    assert f'href="{reverse("admin:events_event_change", args=[event.pk])}"' in html
    assert "10:00–12:00" in html


def test_defaults_to_first_venue_and_this_week_with_today_highlighted(setup, manager_client):
    response = calendar(manager_client)
    week = response.context["week"]
    today = datetime.now(setup.venue.tz).date()
    assert response.context["venue"] == setup.venue
    assert week.week_start == today - timedelta(days=today.weekday())
    assert [d.is_today for d in week.days].count(True) == 1
    html = response.content.decode()
    assert html.count('class="cal-cell cal-today"') == 3  # one per resource row
    assert 'class="cal-day cal-today"' in html
    assert [r.resource.name for r in week.rows] == ["Desks", "Hall", "Room"]


def test_previous_next_and_this_week_links(setup, manager_client):
    html = calendar(manager_client, setup.venue, "2025-06-12").content.decode()
    venue = setup.venue.pk
    assert f'href="?venue={venue}&amp;week=2025-06-02"' in html
    assert f'href="?venue={venue}&amp;week=2025-06-16"' in html
    this_monday = datetime.now(LONDON).date() - timedelta(days=datetime.now(LONDON).weekday())
    assert f'href="?venue={venue}&amp;week={this_monday}"' in html
    assert "9 June – 15 June 2025" in html
    # The venue form keeps the week.
    assert '<input type="hidden" name="week" value="2025-06-09">' in html


def test_a_bad_week_falls_back_to_this_week_with_a_warning(setup, manager_client):
    response = calendar(manager_client, setup.venue, "next tuesday")
    today = datetime.now(LONDON).date()
    assert response.context["week"].week_start == today - timedelta(days=today.weekday())
    assert "is not a date" in response.content.decode()


def test_week_boundary_is_in_the_venue_timezone(setup, manager_client):
    venue = setup.venue
    venue.timezone = "America/New_York"
    venue.save()
    new_york = ZoneInfo("America/New_York")
    late_sunday = datetime(2025, 3, 16, 23, 30, tzinfo=new_york)  # already Monday 03:30 in UTC
    early_monday = datetime(2025, 3, 10, 0, 15, tzinfo=new_york)  # still Sunday in UTC
    place(venue, [setup.room], late_sunday, late_sunday + timedelta(minutes=20), title="Late Sunday")
    place(venue, [setup.room], early_monday, early_monday + timedelta(minutes=20), title="Early Monday")

    response = calendar(manager_client, venue, "2025-03-12")
    assert [b.title for b in blocks_of(response, setup.room, date(2025, 3, 16))] == ["Late Sunday"]
    assert [b.title for b in blocks_of(response, setup.room, date(2025, 3, 10))] == ["Early Monday"]
    html = response.content.decode()
    assert "23:30–23:50" in html and "00:15–00:35" in html
    assert "times in America/New_York" in html

    for other_week in ("2025-03-17", "2025-03-09"):
        html = calendar(manager_client, venue, other_week).content.decode()
        assert "Late Sunday" not in html and "Early Monday" not in html


@pytest.mark.parametrize(
    ("monday", "change_day", "hours"),
    [
        (date(2025, 3, 24), date(2025, 3, 30), 23),  # clocks go forward
        (date(2025, 10, 20), date(2025, 10, 26), 25),  # clocks go back
    ],
)
def test_a_dst_week_shows_every_day_and_its_events(setup, manager_client, monday, change_day, hours):
    days = [monday + timedelta(days=i) for i in range(7)]
    for day in days:
        morning = datetime(day.year, day.month, day.day, 10, 0, tzinfo=LONDON)
        place(setup.venue, [setup.room], morning, morning + timedelta(hours=1), title=f"Morning {day:%a}")
        late = datetime(day.year, day.month, day.day, 23, 30, tzinfo=LONDON)
        place(setup.venue, [setup.hall], late, late + timedelta(minutes=20), title=f"Late {day:%a}")
    # From local midnight to 04:00 on the day the clocks change: 3 or 5 real hours.
    night_start = local_midnight(change_day, LONDON)
    night_end = datetime(change_day.year, change_day.month, change_day.day, 4, 0, tzinfo=LONDON)
    place(setup.venue, [setup.desks], night_start, night_end, title="Night shift")

    response = calendar(manager_client, setup.venue, monday)
    week = response.context["week"]
    assert [d.date for d in week.days] == days
    assert [d.hours for d in week.days] == [24] * 6 + [hours]
    for day in days:
        assert [b.title for b in blocks_of(response, setup.room, day)] == [f"Morning {day:%a}"]
        assert [b.title for b in blocks_of(response, setup.hall, day)] == [f"Late {day:%a}"]
    (night,) = blocks_of(response, setup.desks, change_day)
    assert night.end - night.start == timedelta(hours=hours - 20)
    html = response.content.decode()
    assert html.count("10:00–11:00") == 7 and html.count("23:30–23:50") == 7
    assert "00:00–04:00" in html
    assert f"{hours}-hour day" in html


def test_an_event_across_midnight_shows_on_both_days(setup, manager_client):
    start = datetime(2025, 6, 10, 22, 0, tzinfo=LONDON)
    place(setup.venue, [setup.room], start, start + timedelta(hours=3), title="Late show")
    response = calendar(manager_client, setup.venue, "2025-06-10")
    assert [b.title for b in blocks_of(response, setup.room, date(2025, 6, 10))] == ["Late show"]
    assert [b.title for b in blocks_of(response, setup.room, date(2025, 6, 11))] == ["Late show"]
    html = response.content.decode()
    assert "22:00–24:00" in html and "00:00–01:00" in html
    assert "cal-into-after" in html and "cal-from-before" in html


def test_yearly_closure_shows_in_later_years(setup, manager_client):
    ClosureFactory(
        organization=setup.org,
        message="Founders' day",
        repeats_yearly=True,
        start=datetime(2020, 6, 12, 0, 0, tzinfo=LONDON),
        end=datetime(2020, 6, 13, 0, 0, tzinfo=LONDON),
    )
    response = calendar(manager_client, setup.venue, "2025-06-12")
    for resource in (setup.room, setup.hall, setup.desks):
        assert [(b.kind, b.title) for b in blocks_of(response, resource, date(2025, 6, 12))] == [
            (BlockKind.CLOSED, "Founders' day")
        ]
    html = response.content.decode()
    assert html.count("All day") == 3 and html.count(">Closed</span>") == 3


# --- a fixed number of queries ---------------------------------------------------------------------


def bulk_bookings(s, monday: date, first: int, count: int, module_no_hold) -> None:
    """`count` bookings in the week, a third each confirmed, held and pending without a hold, written in
    a few bulk inserts (the services would take minutes for hundreds)."""
    week_start = local_midnight(monday, LONDON)
    events, reservations, bookings, booking_events, links = [], [], [], [], []
    for i in range(first, first + count):
        start = week_start + timedelta(minutes=30 * i)
        end = start + timedelta(minutes=25)
        kind = i % 3
        booking = Booking(
            organization=s.org,
            module=module_no_hold if kind == 2 else s.module,
            title=f"B{i}",
            status=BookingStatus.APPROVED if kind == 0 else BookingStatus.PENDING,
            contact_answers={"name": "Ada", "email": "ada@example.com"},
        )
        bookings.append(booking)
        event = None
        if kind != 2:
            event = Event(
                organization=s.org,
                title=f"B{i}",
                start=start,
                end=end,
                status=EventStatus.CONFIRMED if kind == 0 else EventStatus.TENTATIVE,
            )
            events.append(event)
            resource = s.room if i % 2 else s.hall  # half-hour steps, 25 minutes each: never overlapping
            reservations.append(Reservation(event=event, resource=resource, start=start, end=end))
        be = BookingEvent(booking=booking, title=f"B{i}", start=start, end=end, event=event)
        booking_events.append(be)
        links.append(BookingEvent.resources.through(bookingevent=be, resource=s.desks if kind == 2 else s.room))
    Event.objects.bulk_create(events)
    Reservation.objects.bulk_create(reservations)
    Booking.objects.bulk_create(bookings)
    BookingEvent.objects.bulk_create(booking_events)
    BookingEvent.resources.through.objects.bulk_create(links)


def test_queries_do_not_grow_with_the_number_of_bookings(setup, manager_client):
    monday = date(2025, 6, 9)
    module = no_hold_module(setup)
    ClosureFactory(
        organization=setup.org,
        start=local_midnight(monday, LONDON),
        end=local_midnight(monday, LONDON) + timedelta(hours=2),
    )
    calendar(manager_client, setup.venue, monday)  # warm: the closures come from the configuration cache
    counts = []
    for first, count in ((0, 10), (10, 290)):
        bulk_bookings(setup, monday, first, count, module)
        with CaptureQueriesContext(connection) as queries:
            html = calendar(manager_client, setup.venue, monday).content.decode()
        counts.append(len(queries))
        assert len(re.findall(r'class="cal-block ', html)) == first + count + 3  # + the closure in 3 rows
    assert counts[0] == counts[1], counts
    assert counts[0] <= 12, counts


# --- who may see what ----------------------------------------------------------------------------


def test_viewer_sees_the_calendar_of_own_venues_only(setup, member):
    other = VenueFactory(name="Elsewhere Hall")
    ResourceFactory(venue=other)
    second = VenueFactory(organization=setup.org, name="Annex")
    _, client = member(Role.VIEWER)
    html = calendar(client).content.decode()
    assert "Annex" in html and setup.venue.name in html
    assert "Elsewhere Hall" not in html
    calendar(client, second)
    calendar(client, other, status=404)


def test_venue_selector_groups_venues_of_several_organizations(setup, member):
    user, client = member(Role.VIEWER)
    org = OrganizationFactory(name="Second Org")
    VenueFactory(organization=org, name="Second Venue")
    MembershipFactory(user=user, organization=org, role=Role.VIEWER)
    html = calendar(client).content.decode()
    assert '<optgroup label="Second Org">' in html and "Second Venue" in html


def test_unknown_or_malformed_venue_is_404(setup, manager_client):
    assert manager_client.get(reverse(CALENDAR), {"venue": "not-a-uuid"}).status_code == 404
    assert manager_client.get(reverse(CALENDAR), {"venue": "00000000-0000-0000-0000-000000000000"}).status_code == 404


def test_without_membership(db):
    outsider = UserFactory(is_staff=False)
    response = admin_client_for(outsider).get(reverse(CALENDAR))
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    # Django's staff flag alone opens the admin but shows no organization's data.
    assert admin_client_for(UserFactory(is_staff=True)).get(reverse(CALENDAR)).status_code == 403


def test_superuser_sees_every_venue(setup):
    other = VenueFactory(name="Elsewhere Hall")
    ResourceFactory(venue=other, name="Elsewhere room")
    client = admin_client_for(UserFactory(is_superuser=True))
    html = calendar(client, other).content.decode()
    assert "Elsewhere room" in html and setup.venue.name in html


def test_no_venue_yet(db):
    user = UserFactory()
    MembershipFactory(user=user, organization=OrganizationFactory(), role=Role.VIEWER)
    assert "There is no venue to show yet." in admin_client_for(user).get(reverse(CALENDAR)).content.decode()


# --- the Event admin -----------------------------------------------------------------------------


def test_event_admin_is_read_only(setup, manager_client):
    event = place(setup.venue, [setup.room], future(days=5), future(days=5, hour=11), title="Fixed")
    assert manager_client.get(reverse("admin:events_event_add")).status_code == 403
    assert manager_client.get(reverse("admin:events_event_delete", args=[event.pk])).status_code == 403
    change = reverse("admin:events_event_change", args=[event.pk])
    page = manager_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert manager_client.post(change, {"title": "Changed"}).status_code == 403
    event.refresh_from_db()
    assert event.title == "Fixed"


def test_event_changelist_shows_local_times_booking_and_calendar_link(setup, manager_client):
    booking = setup.submit(setup.event(start=datetime(2031, 7, 1, 10, 0, tzinfo=LONDON), title="Summer party")).booking
    html = manager_client.get(reverse("admin:events_event_changelist")).content.decode()
    assert "Summer party" in html
    assert "2031-07-01 10:00 (Europe/London)" in html  # BST, not the 09:00 UTC it is stored as
    assert reverse("admin:bookings_booking_change", args=[booking.pk]) in html
    assert f'href="{reverse(CALENDAR)}"' in html
    assert reverse("admin:events_event_add") not in html


def test_event_changelist_hides_other_organizations(setup, manager_client):
    other = ResourceFactory(name="Theirs")
    place(other.venue, [other], future(days=3), future(days=3, hour=11), title="Their event")
    place(setup.venue, [setup.room], future(days=3), future(days=3, hour=11), title="Our event")
    html = manager_client.get(reverse("admin:events_event_changelist")).content.decode()
    assert "Our event" in html and "Their event" not in html


def test_event_changelist_queries_do_not_grow(setup, manager_client):
    counts = []
    for batch in range(2):
        for i in range(2 if batch == 0 else 20):
            day = future(days=10 + batch * 30 + i, hour=9)
            setup.submit(setup.event(start=day, resources=[setup.room, setup.hall], title=f"E{batch}-{i}"))
        with CaptureQueriesContext(connection) as queries:
            response = manager_client.get(reverse("admin:events_event_changelist"))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_event_filters_and_search(setup, manager_client):
    place(setup.venue, [setup.room], future(days=4), future(days=4, hour=11), title="Yoga class")
    place(
        setup.venue, [setup.hall], future(days=4), future(days=4, hour=11), title="Choir", status=EventStatus.TENTATIVE
    )
    url = reverse("admin:events_event_changelist")
    html = manager_client.get(url, {"q": "yoga"}).content.decode()
    assert "Yoga class" in html and "Choir" not in html
    html = manager_client.get(url, {"status__exact": EventStatus.TENTATIVE}).content.decode()
    assert "Choir" in html and "Yoga class" not in html
    # The date filter's own "Today" link
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    html = manager_client.get(url, {"start__gte": str(today), "start__lt": str(today + timedelta(days=1))}).content
    assert b"Yoga class" not in html and b"By start" in html
