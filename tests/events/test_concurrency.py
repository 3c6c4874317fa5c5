"""Races for one slot (docs/architecture.md#scheduling-guarantees): real threads, each on its own database connection,
released together.

Exactly one request may win; every other one must get the domain error (BOOKING_CONFLICT, or
INVALID_TRANSITION for a booking decided twice), never a database error such as an IntegrityError, a
deadlock or SQLite's "database is locked".
"""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection

from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking, BookingLog, BookingStatus, Contact
from core.errors import BookingConflict, InvalidTransition
from events.models import Event, EventStatus, Reservation
from notifications.models import Notification
from tests.conftest import Setup, future, postgres_only, race, sqlite_only

from .test_services import overlapping_reservations

pytestmark = pytest.mark.django_db(transaction=True)


def split(results, expected_error: type[Exception]):
    """The winners' results and the losers' exceptions; fails on any other kind of exception."""
    wins = [value for kind, value in results if kind == "ok"]
    errors = [value for kind, value in results if kind == "error"]
    unexpected = [exc for exc in errors if type(exc) is not expected_error]
    assert not unexpected, f"unexpected exceptions: {Counter(type(e).__name__ for e in unexpected)}: {unexpected[:3]!r}"
    return wins, errors


def submit_race(threads: int, *, same_booker: bool = False) -> None:
    setup = Setup(hold=True)
    start = future(days=9, hour=10)

    def submit(i: int):
        # Every request overlaps every other (offsets < 1 hour). Different bookers by default: one booker's
        # requests already queue up on the contact record (unique email per organization) before they
        # reach the resource lock, which would hide a missing lock.
        begin = start + timedelta(minutes=i)
        email = "ada@example.com" if same_booker else f"booker{i}@example.com"
        result = setup.submit(setup.event(begin, begin + timedelta(hours=1), title=f"Request {i}"), email=email)
        return result.booking.pk, result.events[0].pk

    results = race(threads, submit)
    wins, errors = split(results, BookingConflict)
    assert len(wins) == 1, f"{len(wins)} winners"
    assert len(errors) == threads - 1
    [(booking_id, event_id)] = wins
    for exc in errors:
        assert exc.code == "BOOKING_CONFLICT"
        assert [e.meta["conflictingEventIds"] for e in exc.errors] == [[str(event_id)]]

    # Every loser rolled back completely.
    assert list(Booking.objects.values_list("pk", flat=True)) == [booking_id]
    assert list(Event.objects.values_list("pk", "status")) == [(event_id, EventStatus.TENTATIVE)]
    assert Reservation.objects.filter(resource=setup.room, active=True).count() == 1
    assert BookingLog.objects.count() == 1
    assert Notification.objects.count() == 2  # booker's receipt and the module admin's
    assert overlapping_reservations(setup.room.pk) == []
    assert overlapping_reservations() == []
    if same_booker:
        assert Contact.objects.count() == 1


@postgres_only
def test_twenty_simultaneous_submissions_one_wins_postgres():
    submit_race(20)


@postgres_only
def test_double_submit_by_one_booker_postgres():
    submit_race(5, same_booker=True)


@sqlite_only
def test_ten_simultaneous_submissions_one_wins_sqlite():
    assert connection.settings_dict["NAME"] != ":memory:" and "mode=memory" not in connection.settings_dict["NAME"]
    submit_race(10)


@sqlite_only
def test_double_submit_by_one_booker_sqlite():
    submit_race(5, same_booker=True)


def approve_race(threads: int) -> None:
    setup = Setup(hold=False)  # unheld requests: all of them can be pending for the same slot
    start = future(days=9, hour=10)
    bookings = []
    for i in range(threads):
        begin = start + timedelta(minutes=2 * i)
        bookings.append(
            setup.submit(
                setup.event(begin, begin + timedelta(hours=1), title=f"Request {i}"), email=f"booker{i}@example.com"
            ).booking
        )
    assert not Reservation.objects.exists()

    def approve(i: int):
        result = booking_approve(booking_id=bookings[i].pk, actor=setup.staff, client_last_updated_at=None)
        return result.booking.pk, result.events[0].pk

    wins, errors = split(race(threads, approve), BookingConflict)
    assert len(wins) == 1, f"{len(wins)} winners"
    [(winner_id, event_id)] = wins
    for exc in errors:
        assert [e.meta["conflictingEventIds"] for e in exc.errors] == [[str(event_id)]]

    statuses = dict(Booking.objects.values_list("pk", "status"))
    assert statuses.pop(winner_id) == BookingStatus.APPROVED
    assert set(statuses.values()) == {BookingStatus.PENDING}
    assert list(Event.objects.values_list("pk", "status")) == [(event_id, EventStatus.CONFIRMED)]
    assert BookingLog.objects.filter(action="approve").count() == 1
    assert Notification.objects.filter(kind="booking_approved").count() == 1
    assert Reservation.objects.filter(resource=setup.room).count() == 1
    assert overlapping_reservations(setup.room.pk) == []


@postgres_only
def test_twenty_simultaneous_approvals_of_overlapping_bookings_one_wins_postgres():
    approve_race(20)


@sqlite_only
def test_ten_simultaneous_approvals_of_overlapping_bookings_one_wins_sqlite():
    approve_race(10)


@pytest.mark.parametrize("hold", [True, False], ids=["held", "unheld"])
@postgres_only
def test_simultaneous_approvals_of_one_booking_make_one_transition(hold):
    setup = Setup(hold=hold)
    booking = setup.submit(setup.event(future(days=9, hour=10))).booking
    threads = 5

    def approve(i: int):
        return (
            booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=booking.updated_at)
            .events[0]
            .pk
        )

    wins, errors = split(race(threads, approve), InvalidTransition)
    assert len(wins) == 1 and len(errors) == threads - 1
    assert all(exc.code == "INVALID_TRANSITION" for exc in errors)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.APPROVED
    assert BookingLog.objects.filter(booking=booking, action="approve").count() == 1
    assert Notification.objects.filter(kind="booking_approved", object_id=booking.pk).count() == 1
    assert list(Event.objects.values_list("pk", "status")) == [(wins[0], EventStatus.CONFIRMED)]
    assert Reservation.objects.filter(active=True).count() == 1
    assert overlapping_reservations() == []


@pytest.mark.parametrize("threads", [pytest.param(20, marks=postgres_only), pytest.param(10, marks=sqlite_only)])
def test_simultaneous_requests_for_several_resources_in_any_order_do_not_deadlock(threads):
    """Resources are locked in id order whatever order the request names them in."""
    setup = Setup(hold=True)
    start = future(days=9, hour=14)
    orders = [[setup.room, setup.hall], [setup.hall, setup.room], [setup.hall, setup.desks, setup.room]]

    def submit(i: int):
        begin = start + timedelta(minutes=i)
        result = setup.submit(
            setup.event(begin, begin + timedelta(hours=1), resources=orders[i % len(orders)]),
            email=f"booker{i}@example.com",
        )
        return result.events[0].pk

    wins, errors = split(race(threads, submit), BookingConflict)
    assert len(wins) == 1
    assert all(
        {e.meta["resourceId"] for e in exc.errors} <= {str(setup.room.pk), str(setup.hall.pk)}
        and all(e.meta["conflictingEventIds"] == [str(wins[0])] for e in exc.errors)
        for exc in errors
    )
    assert Reservation.objects.filter(event_id=wins[0]).count() in (2, 3)
    assert Reservation.objects.count() == Reservation.objects.filter(event_id=wins[0]).count()
    assert overlapping_reservations() == []
