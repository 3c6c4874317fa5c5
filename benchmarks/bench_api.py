"""`make bench-api`: GET /api/v1/bookings?returnEvents=true over 10,000 bookings with events, next to a
plain values() dump of the same rows (bookings, their requested times, the Events) serialized to JSON,
measured in the same run on the same database. Reports bookings per second and the ratio.

Seeded with bulk inserts and a fixed random seed so runs are comparable.
"""

import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from bookings.models import Booking, BookingEvent, BookingModule, BookingStatus, ModuleResource, Portal  # noqa: E402
from events.models import Event, EventStatus, Reservation  # noqa: E402
from resources.models import Membership, Organization, Resource, Role, Venue  # noqa: E402

N = int(os.environ.get("BENCH_BOOKINGS", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def seed() -> str:
    rng = random.Random(20261121)
    Organization.objects.filter(slug="bench").delete()  # cascades; a fresh database is faster still
    org = Organization.objects.create(name="Bench", slug="bench", timezone="Europe/London")
    venue = Venue.objects.create(organization=org, name="Bench venue")
    resources = [Resource.objects.create(venue=venue, name=f"Room {i}") for i in range(20)]
    portal = Portal.objects.create(organization=org, name="Bench portal", status="LIVE")
    module = BookingModule.objects.create(organization=org, name="Bench", slug="bench")
    module.portals.add(portal)
    ModuleResource.objects.bulk_create([ModuleResource(module=module, resource=r) for r in resources])
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.get_or_create(user=user, organization=org, defaults={"role": Role.MANAGER})
    AuthToken.objects.filter(user=user).delete()
    _, token = AuthToken.objects.create(user=user, expiry=None)

    base = datetime(2027, 1, 4, 8, tzinfo=UTC)
    bookings, booking_events, links, events, reservations = [], [], [], [], []
    slots: dict = {}
    for i in range(N):
        resource = resources[i % len(resources)]
        slot = slots.get(resource.pk, 0)
        slots[resource.pk] = slot + 1
        start = base + timedelta(hours=slot * 2)
        end = start + timedelta(hours=1, minutes=rng.choice([0, 15, 30]))
        approved = rng.random() < 0.6
        booking = Booking(
            organization=org,
            module=module,
            portal=portal,
            title=f"Booking {i}",
            status=BookingStatus.APPROVED if approved else BookingStatus.PENDING,
            contact_answers={"name": f"Booker {i}", "email": f"booker{i}@example.com"},
            request_note="<p>Please set up chairs.</p>",
        )
        event = Event(
            organization=org,
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
            answers={"chairs": rng.randint(1, 40)},
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
    return token


def plain_dump(org_id) -> int:
    bookings = list(Booking.objects.filter(organization_id=org_id).values())
    booking_events = list(BookingEvent.objects.filter(booking__organization_id=org_id).values())
    events = list(Event.objects.filter(organization_id=org_id).values())
    return len(json.dumps({"bookings": bookings, "bookingEvents": booking_events, "events": events}, default=str))


def timed(fn, runs: int) -> float:
    fn()  # warm-up: connection, caches, imports
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    started = time.perf_counter()
    token = seed()
    org_id = Organization.objects.get(slug="bench").pk
    print(f"seeded {N} bookings with events on {connection.vendor} in {time.perf_counter() - started:.1f} s")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def api() -> int:
        response = client.get("/api/v1/bookings?returnEvents=true")
        assert response.status_code == 200, response.status_code
        return len(response.content)

    body = json.loads(client.get("/api/v1/bookings?returnEvents=true").content)
    assert len(body["bookings"]) == N and len(body["associatedEvents"]) == N
    api_s = timed(api, RUNS)
    dump_s = timed(lambda: plain_dump(org_id), RUNS)
    print(f"{'measure':<44}{'seconds':>10}{'bookings/s':>14}")
    print(f"{'GET /api/v1/bookings?returnEvents=true':<44}{api_s:>10.3f}{N / api_s:>14.0f}")
    print(f"{'plain values() dump + json.dumps':<44}{dump_s:>10.3f}{N / dump_s:>14.0f}")
    print(f"ratio (API speed / plain dump speed): {dump_s / api_s:.2f}  (goal: at least 0.50)")


if __name__ == "__main__":
    main()
