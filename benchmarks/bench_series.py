"""`make bench-series`: repeated requests against a full calendar, on PostgreSQL.

Seeds 100,000 reservations (bulk inserts: 20 resources, 14 one-hour bookings a day each for 357 days; the
12:00-13:00 hour is left free every day), then times, over several runs each rolled back so every run sees
the same table:

- a public submit of a 150-occurrence daily series at 12:00 (validation, the rules of each occurrence, the
  conflict check, 150 holds in one EventSeries) through bookings.lifecycle.submit.booking_submit;
- a staff create of the same series as APPROVED (150 confirmed events);
- the approval of the submitted series (its 150 holds confirmed; the submit itself is not timed);
- POST /api/v1/bookings/validate on that series (DRF's test client, the whole request), free, and at
  12:30 where every occurrence conflicts (150 errors, suggestions searched for 10 of them).

It also prints the queries each takes for 10 and for 150 occurrences: the conflict check must read the
reservations once whatever the number of occurrences.
"""

import os
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
from django.core.cache import cache  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from bookings.lifecycle.decide import booking_approve  # noqa: E402
from bookings.lifecycle.submit import booking_create, booking_submit  # noqa: E402
from bookings.models import BookingModule, BookingStatus, ModuleResource, Portal  # noqa: E402
from core.actor import Actor  # noqa: E402
from events.models import Event, EventSeries, EventStatus, Reservation  # noqa: E402
from resources.models import Membership, Organization, Resource, Role, Venue  # noqa: E402

RESOURCES = 20
PER_RESOURCE = 5000  # 100,000 reservations
HOURS = [6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19, 20]  # 12:00-13:00 stays free
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
OCCURRENCES = 150


def seed():
    # A rerun on the same database starts over (reservations protect their resources: they go first).
    Reservation.objects.filter(resource__venue__organization__slug="bench-series").delete()
    Organization.objects.filter(slug="bench-series").delete()
    org = Organization.objects.create(name="Bench series", slug="bench-series", timezone="UTC")
    venue = Venue.objects.create(organization=org, name="Bench venue", timezone="UTC")
    resources = [Resource.objects.create(venue=venue, name=f"Room {i:02}") for i in range(RESOURCES)]
    portal = Portal.objects.create(organization=org, name="Bench portal", status="LIVE")
    module = BookingModule.objects.create(
        organization=org, name="Bench", slug="bench", hold_pending_slots=True, max_occurrences=OCCURRENCES
    )
    module.portals.add(portal)
    ModuleResource.objects.bulk_create([ModuleResource(module=module, resource=r) for r in resources])
    user, _ = get_user_model().objects.get_or_create(username="bench-series")
    Membership.objects.get_or_create(user=user, organization=org, defaults={"role": Role.MANAGER})

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    base = today + timedelta(days=10)
    events, reservations = [], []
    for resource in resources:
        for n in range(PER_RESOURCE):
            day, slot = divmod(n, len(HOURS))
            start = base + timedelta(days=day, hours=HOURS[slot])
            end = start + timedelta(hours=1)
            event = Event(
                organization=org, title=f"{resource.name} #{n}", start=start, end=end, status=EventStatus.CONFIRMED
            )
            events.append(event)
            reservations.append(Reservation(event=event, resource=resource, start=start, end=end))
    with transaction.atomic():
        Event.objects.bulk_create(events, batch_size=5000)
        Reservation.objects.bulk_create(reservations, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return org, module, portal, resources[0], user, base


def series_event(room, first_day: datetime, count: int, hour: int = 12, minute: int = 0) -> dict:
    start = first_day + timedelta(hours=hour, minutes=minute)
    until = (start + timedelta(days=count - 1)).date()
    return {
        "title": "Daily stand-up",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "resourceIds": [str(room.pk)],
        "repeat": {"repeats": 1, "repeatUntil": until.isoformat()},
    }


CONTACT = {"name": "Ada Lovelace", "email": "ada@example.com"}


def rolled_back(fn):
    """Run fn(measured) in a transaction that is rolled back: every run sees the same table."""

    def run(measured):
        with transaction.atomic():
            fn(measured)
            transaction.set_rollback(True)

    return run


class Measured:
    """A run whose measured part is only what happens inside `with measured:` (a set-up before it is not)."""

    def __init__(self):
        self.seconds = 0.0
        self.context = None

    def __enter__(self):
        self.context = CaptureQueriesContext(connection).__enter__()
        self.started = time.perf_counter()

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        self.context.__exit__(*exc)


def run_measured(fn) -> Measured:
    measured = Measured()
    fn(measured)
    return measured


def timed(fn, runs: int) -> list[float]:
    run_measured(fn)  # warm-up
    return [run_measured(fn).seconds for _ in range(runs)]


def queries(fn) -> tuple[int, int]:
    """(all queries, reads of overlapping reservations) of one run."""
    captured = run_measured(fn).context.captured_queries
    overlap = sum(
        1
        for q in captured
        if q["sql"].lstrip().upper().startswith("SELECT")
        and 'FROM "events_reservation"' in q["sql"]
        and '"events_reservation"."active"' in q["sql"]
    )
    return len(captured), overlap


def main() -> None:
    started = time.perf_counter()
    org, module, portal, room, user, base = seed()
    total = Reservation.objects.filter(resource__venue__organization=org).count()
    print(f"seeded {total:,} reservations on {connection.vendor} in {time.perf_counter() - started:.1f} s")
    first_day = base + timedelta(days=1)
    window = Reservation.objects.filter(
        resource=room, active=True, start__lt=first_day + timedelta(days=OCCURRENCES), end__gt=first_day
    ).count()
    print(f"the series' resource has {window:,} reservations inside the {OCCURRENCES}-day window")
    staff = Actor.staff(user)
    client = APIClient()

    def submit(count: int):
        def run(measured):
            with measured:
                result = booking_submit(
                    module=module,
                    portal=portal,
                    contact=CONTACT,
                    events=[series_event(room, first_day, count)],
                    single_event=True,
                )
            assert result.booking.requested_times.count() == count and len(result.events) == count
            assert EventSeries.objects.get(pk=result.events[0].series_id).events.count() == count

        return rolled_back(run)

    def create(count: int):
        def run(measured):
            with measured:
                result = booking_create(
                    module=module,
                    actor=staff,
                    status=BookingStatus.APPROVED,
                    contact=CONTACT,
                    events=[series_event(room, first_day, count)],
                    single_event=True,
                )
            assert len(result.events) == count

        return rolled_back(run)

    def approve(count: int):
        def run(measured):
            booking = booking_submit(
                module=module,
                portal=portal,
                contact=CONTACT,
                events=[series_event(room, first_day, count)],
                single_event=True,
            ).booking
            with measured:
                result = booking_approve(booking_id=booking.pk, actor=staff, client_last_updated_at=None)
            assert len(result.events) == count and {e.status for e in result.events} == {EventStatus.CONFIRMED}

        return rolled_back(run)

    def validate(count: int, minute: int = 0):
        body = {
            "orgId": str(org.pk),
            "bookingModuleId": str(module.pk),
            "portalId": str(portal.pk),
            "contact": CONTACT,
            "event": series_event(room, first_day, count, minute=minute),
        }

        def run(measured):
            cache.clear()  # the public submit throttle counts in the cache
            with measured:
                response = client.post("/api/v1/bookings/validate", body, format="json")
            assert response.status_code == 200, response.content[:300]
            result = response.json()
            assert len(result["times"]) == count
            assert result["valid"] is (minute == 0), [e["code"] for e in result["errors"]][:3]
            if minute:
                assert len(result["errors"]) == count and len(result["suggestions"]) == min(count, 10)

        return run

    measures = [
        (f"booking_submit, {OCCURRENCES} occurrences, holds", submit),
        (f"booking_create APPROVED, {OCCURRENCES} occurrences", create),
        (f"booking_approve, {OCCURRENCES} holds confirmed", approve),
        (f"POST /bookings/validate, {OCCURRENCES} free", validate),
        (f"POST /bookings/validate, {OCCURRENCES} all taken + suggestions", lambda n: validate(n, minute=30)),
    ]
    print(f"\n{'measure':<58}{'median s':>10}{'min s':>8}{'max s':>8}{'queries 10/150':>16}{'res. reads':>12}")
    for label, make in measures:
        samples = timed(make(OCCURRENCES), RUNS)
        q10, r10 = queries(make(10))
        q150, r150 = queries(make(OCCURRENCES))
        print(
            f"{label:<58}{statistics.median(samples):>10.3f}{min(samples):>8.3f}{max(samples):>8.3f}"
            f"{f'{q10}/{q150}':>16}{f'{r10}/{r150}':>12}"
        )
    print(
        f"\n{RUNS} runs each after a warm-up, each run rolled back. 'res. reads': reads of overlapping "
        "reservations (the conflict check) for 10 / 150 occurrences."
    )


if __name__ == "__main__":
    main()
