"""The booking lifecycle services (docs/architecture.md#booking-lifecycle): every row of the table, every refused
transition, staleness, rollback, the audit log and the booker's permissions.

Bookings are driven through the real services only (submit, approve, deny, ...), so each test sees the
same rows the admin, the API and the public pages would.

This module: the table's rows for submit and staff create."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core import mail

from bookings.lifecycle.submit import booking_create
from bookings.models import Booking, BookingEvent, BookingLog
from core.errors import BookingConflict, ValidationFailed
from events.models import EventStatus, Reservation
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from notifications.models import Notification, NotificationStatus
from notifications.rendering import notification_bodies
from notifications.services import NotificationSpec
from tests.bookings.lifecycle_helpers import (
    ADMIN,
    APPROVED,
    BOOKER,
    CANCELED,
    DENIED,
    PENDING,
    Watch,
    assert_refused,
    only_event,
    resource_ids,
    staff_create,
)
from tests.conftest import future

# --- table: submit -------------------------------------------------------------------------


def test_submit_holds_its_slot_with_a_tentative_event(setup):
    watch = Watch()
    result = setup.submit(setup.event(start=future(7, 10)))

    booking = result.booking
    booking.refresh_from_db()
    assert booking.status == PENDING
    assert booking.submission is True
    (held,) = result.events
    held.refresh_from_db()
    assert held.status == EventStatus.TENTATIVE
    assert only_event(booking).event_id == held.pk
    assert resource_ids(held) == {setup.room.pk}
    assert Reservation.objects.get(event=held).active is True
    assert watch.delta() == {
        "Booking": 1,
        "BookingEvent": 1,
        "BookingLog": 1,
        "Event": 1,
        "Reservation": 1,
        "Notification": 2,
    }
    assert watch.notifications() == [("admin_new_request", (ADMIN,)), ("booking_received", (BOOKER,))]


def test_submit_holds_nothing_when_the_module_does_not_hold_slots(setup_no_hold):
    watch = Watch()
    result = setup_no_hold.submit()

    assert result.booking.status == PENDING
    assert result.events == []
    assert only_event(result.booking).event_id is None
    assert "Event" not in watch.delta() and "Reservation" not in watch.delta()
    assert watch.notifications() == [("admin_new_request", (ADMIN,)), ("booking_received", (BOOKER,))]


def test_a_held_slot_refuses_a_second_request_but_an_unheld_one_does_not(setup, setup_no_hold):
    first = setup.submit(setup.event(start=future(7, 10)))
    with pytest.raises(BookingConflict) as exc_info:
        setup.submit(setup.event(start=future(7, 10, 30)), email="bob@example.com")
    assert_refused(exc_info, "BOOKING_CONFLICT", 409)
    assert exc_info.value.errors[0].meta["conflictingEventIds"] == [str(first.events[0].pk)]

    setup_no_hold.submit(setup_no_hold.event(start=future(7, 10)))
    second = setup_no_hold.submit(setup_no_hold.event(start=future(7, 10, 30)), email="bob@example.com")
    assert second.booking.status == PENDING


def test_submit_returns_the_access_token_and_stores_only_its_sha256(setup):
    result = setup.submit()
    token = result.access_token

    assert token and len(token) >= 32
    booking = Booking.objects.get(pk=result.booking.pk)
    assert booking.access_token_hash == hashlib.sha256(token.encode()).hexdigest()
    # The raw token is in none of the booking's own rows.
    rows = [
        *Booking.objects.filter(pk=booking.pk).values(),
        *BookingEvent.objects.filter(booking=booking).values(),
        *BookingLog.objects.filter(booking=booking).values(),
    ]
    assert rows and not any(token in str(value) for row in rows for value in row.values())


def test_submit_emails_after_commit_booker_with_private_link_and_module_admin(
    setup, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = setup.submit()
    assert mailoutbox == []  # nothing is sent before the transaction commits

    for callback in callbacks:
        callback()
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert set(by_recipient) == {(BOOKER,), (ADMIN,)}
    assert f"/b/{result.access_token}/" in by_recipient[(BOOKER,)].body
    assert result.access_token not in by_recipient[(ADMIN,)].body
    assert set(Notification.objects.filter(object_id=result.booking.pk).values_list("status", flat=True)) == {
        NotificationStatus.SENT
    }


# --- table: staff create -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "event_status", "decided"),
    [
        (PENDING, EventStatus.TENTATIVE, False),
        (APPROVED, EventStatus.CONFIRMED, True),
        (DENIED, None, True),
        (CANCELED, None, False),
    ],
    ids=["pending-holds", "approved-confirms", "denied-no-event", "canceled-no-event"],
)
def test_staff_create_in_each_status(setup, status, event_status, decided):
    watch = Watch()
    result = staff_create(setup, status)

    booking = Booking.objects.get(pk=result.booking.pk)
    assert booking.status == status
    assert booking.submission is False
    assert (booking.decided_by == setup.manager) is decided
    assert (booking.decided_at is not None) is decided
    be = only_event(booking)
    if event_status is None:
        assert result.events == [] and be.event_id is None
        assert "Event" not in watch.delta()
    else:
        (event,) = result.events
        event.refresh_from_db()
        assert event.status == event_status
        assert be.event_id == event.pk
        assert resource_ids(event) == {setup.room.pk}
        assert watch.delta()["Event"] == 1
    assert watch.notifications() == []  # no notification unless asked for


@pytest.mark.parametrize("existing_status", [EventStatus.CONFIRMED, EventStatus.TENTATIVE])
def test_staff_create_approved_links_an_existing_event(setup, existing_status):
    start = future(10, 14)
    (existing,) = events_save(
        organization=setup.org,
        status=existing_status,
        specs=[
            EventSpec(title="Board meeting", start=start, end=start + timedelta(hours=2), resource_ids=[setup.hall.pk])
        ],
    )
    watch = Watch()

    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=APPROVED,
        event_id=existing.pk,
        contact={"name": "Ada Lovelace", "email": BOOKER},
    )

    assert [e.pk for e in result.events] == [existing.pk]
    assert "Event" not in watch.delta()
    existing.refresh_from_db()
    assert existing.status == EventStatus.CONFIRMED
    be = only_event(result.booking)
    assert be.event_id == existing.pk
    assert (be.title, be.start, be.end) == ("Board meeting", existing.start, existing.end)
    assert set(be.resources.values_list("pk", flat=True)) == {setup.hall.pk}
    assert Booking.objects.get(pk=result.booking.pk).status == APPROVED


def test_staff_create_only_approved_bookings_may_link_an_event(setup):
    (existing,) = events_save(
        organization=setup.org,
        specs=[EventSpec(title="x", start=future(10, 14), end=future(10, 15), resource_ids=[setup.hall.pk])],
    )
    watch = Watch()
    with pytest.raises(ValidationFailed):
        booking_create(
            module=setup.module,
            actor=setup.staff,
            status=PENDING,
            event_id=existing.pk,
            contact={"name": "Ada", "email": BOOKER},
        )
    assert watch.delta() == {}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (PENDING, "booking_received"),
        (APPROVED, "booking_approved"),
        (DENIED, "booking_denied"),
        (CANCELED, "booking_canceled"),
    ],
)
def test_staff_create_sends_the_optional_notification(setup, status, kind):
    watch = Watch()
    result = staff_create(setup, status, notification=NotificationSpec(subject="Your booking", message="<p>Hi</p>"))

    (notification,) = watch.new_notifications()
    assert (notification.kind, notification.recipients) == (kind, [BOOKER])
    assert notification.subject == "Your booking"
    assert "Hi" in notification_bodies(notification).body_text
    assert notification.object_id == result.booking.pk


def test_staff_create_notification_can_be_switched_off(setup):
    watch = Watch()
    staff_create(setup, APPROVED, notification=NotificationSpec(send=False))
    assert watch.notifications() == []
