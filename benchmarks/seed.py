"""The seeding of `make bench` (benchmarks/run.py): bulk inserts, one random generator with a fixed seed."""

import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from knox.models import AuthToken

from benchmarks.parameters import TABLE_SMALL
from bookings.models import (
    Booking,
    BookingEvent,
    BookingModule,
    BookingStatus,
    FieldType,
    FormField,
    FormSection,
    ModuleResource,
    Portal,
)
from events.models import Event, EventStatus, Reservation
from resources.models import Membership, Organization, Resource, Role, Venue


class Org:
    """An organization with one venue, `rooms` exclusive resources, a LIVE portal, a module offering them
    all (holding pending slots) and a manager with an API token."""

    def __init__(self, slug: str, rooms: int = 10, tz: str = "Europe/London"):
        self.org = Organization.objects.create(name=f"Bench {slug}", slug=f"bench-{slug}", timezone=tz)
        self.venue = Venue.objects.create(organization=self.org, name=f"Venue {slug}", timezone=tz)
        self.resources = [Resource.objects.create(venue=self.venue, name=f"Room {i:02}") for i in range(rooms)]
        self.portal = Portal.objects.create(organization=self.org, name=f"Portal {slug}", status="LIVE")
        self.user = get_user_model().objects.create_user(username=f"bench-{slug}", email=f"{slug}@bench.invalid")
        Membership.objects.create(user=self.user, organization=self.org, role=Role.MANAGER)
        self.module = BookingModule.objects.create(
            organization=self.org, name=f"Module {slug}", slug="rooms", hold_pending_slots=True, admin_user=self.user
        )
        self.module.portals.add(self.portal)
        ModuleResource.objects.bulk_create([ModuleResource(module=self.module, resource=r) for r in self.resources])
        # One custom question, answered in every seeded request (answers are keyed by the field's id).
        self.chairs = FormField.objects.create(
            module=self.module,
            section=FormSection.EVENT,
            label="Chairs",
            type=FieldType.NUMBER,
            min_value=1,
            max_value=100,
        )
        _, self.token = AuthToken.objects.create(user=self.user, expiry=None)


def bulk_bookings(org: Org, slots: list[tuple[Resource, datetime, datetime, bool]], rng: random.Random) -> list:
    """Bookings as a public submit leaves them (pending: a TENTATIVE hold) or approved (CONFIRMED), each
    with one requested time, its event and its reservation; `slots` are (resource, start, end, approved)."""
    bookings, booking_events, links, events, reservations = [], [], [], [], []
    for i, (resource, start, end, approved) in enumerate(slots):
        booking = Booking(
            organization=org.org,
            module=org.module,
            portal=org.portal,
            title=f"Booking {i}",
            status=BookingStatus.APPROVED if approved else BookingStatus.PENDING,
            contact_answers={"name": f"Booker {i}", "email": f"booker{i}@example.com"},
            request_note="<p>Please set up chairs.</p>",
        )
        event = Event(
            organization=org.org,
            title=booking.title,
            start=start,
            end=end,
            status=EventStatus.CONFIRMED if approved else EventStatus.TENTATIVE,
        )
        be = BookingEvent(
            booking=booking,
            title=booking.title,
            start=start,
            end=end,
            event=event,
            answers={str(org.chairs.pk): rng.randint(1, 40)},
        )
        bookings.append(booking)
        events.append(event)
        booking_events.append(be)
        links.append(BookingEvent.resources.through(bookingevent_id=be.pk, resource_id=resource.pk))
        reservations.append(Reservation(event=event, resource=resource, start=start, end=end))
    with transaction.atomic():
        Booking.objects.bulk_create(bookings, batch_size=2000)
        Event.objects.bulk_create(events, batch_size=2000)
        BookingEvent.objects.bulk_create(booking_events, batch_size=2000)
        BookingEvent.resources.through.objects.bulk_create(links, batch_size=2000)
        Reservation.objects.bulk_create(reservations, batch_size=2000)
    return bookings


def bulk_events(org: Org, slots: list[tuple[Resource, datetime, datetime]]) -> None:
    """Confirmed events with their reservations and no booking (staff-made or imported)."""
    events, reservations = [], []
    for i, (resource, start, end) in enumerate(slots):
        event = Event(organization=org.org, title=f"Event {i}", start=start, end=end, status=EventStatus.CONFIRMED)
        events.append(event)
        reservations.append(Reservation(event=event, resource=resource, start=start, end=end))
    with transaction.atomic():
        Event.objects.bulk_create(events, batch_size=5000)
        Reservation.objects.bulk_create(reservations, batch_size=5000)


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def week_slots(org: Org, monday: datetime, rng: random.Random) -> list:
    """100 requested times in one week: 10 rooms x (Monday-Friday at 09:00 and 13:00), mixed lengths."""
    slots = []
    for i in range(100):
        resource, j = org.resources[i % 10], i // 10
        start = monday + timedelta(days=j % 5, hours=9 + 4 * (j // 5))
        slots.append((resource, start, start + timedelta(hours=rng.choice([1, 2, 3])), rng.random() < 0.6))
    return slots


def seed_availability_org(month: datetime, rng: random.Random) -> tuple[Org, list[tuple]]:
    """1,000 reservations: the measured room has 4 a day during the month (124), the other 876 are on
    other rooms and at other times. Returns the org and the free stretches left for the filler."""
    org = Org("availability", tz="UTC")
    measured, others = org.resources[0], org.resources[1:]
    in_month = []
    for day in range(31):
        for hour in (8, 11, 14, 17):
            start = month + timedelta(days=day, hours=hour)
            in_month.append((measured, start, start + timedelta(minutes=rng.choice([60, 90, 120]))))
    rest = TABLE_SMALL - len(in_month)
    outside = [
        (measured, month - timedelta(hours=2 * (k + 1)), month - timedelta(hours=2 * k + 1)) for k in range(rest // 8)
    ]
    spread = []
    for k in range(rest - len(outside)):
        resource = others[k % len(others)]
        start = month - timedelta(days=60) + timedelta(hours=k // len(others))
        spread.append((resource, start, start + timedelta(minutes=rng.choice([30, 45, 60]))))
    bulk_events(org, in_month + outside + spread)
    return org, {
        "measured": measured,
        "others": others,
        "outside_before": len(outside),
        "spread_per_room": -(-len(spread) // len(others)),
    }


def seed_filler(org: Org, month: datetime, layout: dict, count: int, rng: random.Random) -> None:
    """Events on the other rooms and on the measured room outside the month, until `count` more."""
    measured, others = layout["measured"], layout["others"]
    on_measured = count // 10
    slots = []
    for k in range(on_measured):  # after the month (the month and the hours before it are taken)
        start = month + timedelta(days=40, hours=k)
        slots.append((measured, start, start + timedelta(minutes=rng.choice([30, 45, 60]))))
    first = layout["spread_per_room"] + 1
    for k in range(count - on_measured):
        resource = others[k % len(others)]
        start = month - timedelta(days=60) + timedelta(hours=first + k // len(others))
        slots.append((resource, start, start + timedelta(minutes=rng.choice([30, 45, 60]))))
    bulk_events(org, slots)
