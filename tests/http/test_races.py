"""Races over HTTP (docs/architecture.md#scheduling-guarantees, docs/architecture.md#http-api-conventions): real
requests from threads released together against the live server, each served by its own server thread on its own
PostgreSQL connection. Exactly one may win; every other one gets the documented 409 in the API's error body, never a
5xx.
"""

from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail

from bookings.models import Booking, BookingLog, BookingStatus
from events.models import Event, EventStatus, Reservation
from notifications.models import Notification
from tests.api.booking_helpers import SUBMIT, booking_url, submit_body
from tests.api.conftest import assert_error
from tests.conftest import Setup, future, postgres_only
from tests.events.test_services import overlapping_reservations

from .conftest import APPROVED_SUBJECT, approval_emails, approve_body, bearer

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def statuses(replies) -> Counter:
    return Counter(r.status for r in replies)


def test_fifty_simultaneous_public_submissions_for_one_held_slot(http):
    setup = Setup(hold=True)
    start = future(days=9, hour=10)
    # Different bookers: one booker's requests would already queue up on their contact record before
    # reaching the resource lock, which could hide a missing lock.
    bodies = [
        submit_body(
            setup,
            setup.event(start + timedelta(minutes=i), start + timedelta(minutes=i + 60), title=f"Request {i}"),
            contact={"name": f"Booker {i}", "email": f"booker{i}@example.com"},
        )
        for i in range(50)
    ]

    replies = http.race([(SUBMIT, body, None) for body in bodies])

    assert not [r for r in replies if r.status >= 500], statuses(replies)
    assert statuses(replies) == {201: 1, 409: 49}, statuses(replies)
    [winner] = [r for r in replies if r.status == 201]
    for reply in replies:
        if reply.status == 409:
            body = assert_error(reply, 409, "BOOKING_CONFLICT")
            assert {e["code"] for e in body["errors"]} == {"BOOKING_CONFLICT"}, body
    booking_id = winner.body["booking"]["id"]
    # The losers rolled back completely: one booking, one hold, one active reservation.
    assert [str(pk) for pk in Booking.objects.values_list("pk", flat=True)] == [booking_id]
    [hold] = Event.objects.all()
    assert (hold.status, str(hold.booking_events.get().booking_id)) == (EventStatus.TENTATIVE, booking_id)
    assert list(Reservation.objects.filter(active=True).values_list("resource_id", "event_id")) == [
        (setup.room.pk, hold.pk)
    ]
    assert overlapping_reservations() == []
    assert BookingLog.objects.count() == 1


def test_two_overlapping_pending_bookings_approved_at_once(http):
    setup = Setup(hold=False)  # unheld requests may compete for one slot, so both are pending
    start = future(days=9, hour=10)
    first = setup.submit(setup.event(start, start + timedelta(hours=1), title="First")).booking
    second = setup.submit(
        setup.event(start + timedelta(minutes=30), start + timedelta(minutes=90), title="Second"),
        email="grace@example.com",
    ).booking
    assert not Event.objects.exists()
    auth = bearer(setup.manager)
    mail.outbox.clear()

    replies = http.race([(booking_url(b.pk, "approve"), approve_body(b), auth) for b in (first, second)])

    assert statuses(replies) == {200: 1, 409: 1}, [(r.status, r.body) for r in replies]
    [won] = [r for r in replies if r.status == 200]
    [lost] = [r for r in replies if r.status == 409]
    body = assert_error(lost, 409, "BOOKING_CONFLICT")
    # The staff caller is told which event is in the way: the winner's.
    assert [e.get("conflictingEventIds") for e in body["errors"]] == [[won.body["event"]["id"]]], body
    winner_id = won.body["booking"]["id"]
    loser = first if str(second.pk) == winner_id else second
    assert dict(Booking.objects.values_list("pk", "status")) == {
        b.pk: BookingStatus.APPROVED if str(b.pk) == winner_id else BookingStatus.PENDING for b in (first, second)
    }
    assert list(Event.objects.values_list("status", flat=True)) == [EventStatus.CONFIRMED]
    assert Reservation.objects.filter(active=True).count() == 1
    assert overlapping_reservations() == []
    assert not BookingLog.objects.filter(booking=loser, action="approve").exists()
    assert [m.subject for m in approval_emails()] == [APPROVED_SUBJECT + won.body["booking"]["title"]]


def test_one_booking_approved_twice_at_once(http):
    setup = Setup(hold=True)
    booking = setup.submit().booking
    auth = bearer(setup.manager)
    body = approve_body(booking)  # both staff read the same booking
    mail.outbox.clear()

    replies = http.race([(booking_url(booking.pk, "approve"), body, auth)] * 2)

    assert statuses(replies) == {200: 1, 409: 1}, [(r.status, r.body) for r in replies]
    [lost] = [r for r in replies if r.status == 409]
    # The second waits for the first's row lock, then finds the booking approved (docs/architecture.md#lock-order).
    assert_error(lost, 409, "INVALID_TRANSITION")
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.APPROVED
    assert BookingLog.objects.filter(booking=booking, action="approve").count() == 1
    assert list(Event.objects.values_list("status", flat=True)) == [EventStatus.CONFIRMED]
    assert Notification.objects.filter(kind="booking_approved").count() == 1
    assert [(m.to, m.subject) for m in approval_emails()] == [(["ada@example.com"], APPROVED_SUBJECT + "Team meeting")]
