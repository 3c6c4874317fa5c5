"""The booking lifecycle services (docs/architecture.md#booking-lifecycle): every row of the table, every refused
transition, staleness, rollback, the audit log and the booker's permissions.

Bookings are driven through the real services only (submit, approve, deny, ...), so each test sees the
same rows the admin, the API and the public pages would.

This module: the table's rows for approve, deny, cancel, the booker's cancel and update."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookings.lifecycle.change_requests import booking_cancel_by_booker, change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny, booking_update
from bookings.lifecycle.transitions import EventProcedure
from bookings.models import Booking, BookingChangeRequest, BookingEvent, ChangeRequestDecision
from core.errors import ImmutableField, ValidationFailed
from events.models import Event, EventStatus, Reservation
from notifications.services import NotificationSpec
from tests.bookings.lifecycle_helpers import (
    ADMIN,
    ALL_STATUSES,
    APPROVED,
    BOOKER,
    CANCELED,
    DENIED,
    PENDING,
    Watch,
    booker,
    fresh,
    make_booking,
    only_event,
    resource_ids,
)
from tests.conftest import future
from tests.factories import ContactFactory, CustomerFactory, OrganizationFactory

# --- table: approve ------------------------------------------------------------------------


def test_approve_confirms_the_holds_in_place(setup):
    submitted = setup.submit(setup.event(start=future(7, 10)))
    (held,) = submitted.events
    watch = Watch()

    result = booking_approve(
        booking_id=submitted.booking.pk, actor=setup.staff, client_last_updated_at=fresh(submitted.booking)
    )

    assert [e.pk for e in result.events] == [held.pk]
    held.refresh_from_db()
    assert held.status == EventStatus.CONFIRMED
    assert (held.start, held.end) == (future(7, 10), future(7, 11))
    assert Reservation.objects.get(event=held).active is True
    booking = Booking.objects.get(pk=submitted.booking.pk)
    assert booking.status == APPROVED
    assert (booking.decided_by, booking.decided_at is not None) == (setup.manager, True)
    assert watch.delta() == {"BookingLog": 1, "Notification": 1}  # no new event: the hold was confirmed
    assert watch.notifications() == [("booking_approved", (BOOKER,))]


def test_approve_without_holds_creates_confirmed_events(setup_no_hold):
    s = setup_no_hold
    booking = s.submit(s.event(start=future(7, 10))).booking
    watch = Watch()

    result = booking_approve(booking_id=booking.pk, actor=s.staff, client_last_updated_at=fresh(booking))

    (event,) = result.events
    assert Event.objects.get(pk=event.pk).status == EventStatus.CONFIRMED
    assert only_event(booking).event_id == event.pk
    assert resource_ids(event) == {s.room.pk}
    assert watch.delta()["Event"] == 1


def test_approve_applies_staff_edits_of_title_times_and_resources(setup):
    booking = make_booking(setup, days=7, hour=10)
    held = only_event(booking).event
    new_start = future(8, 15)

    result = booking_approve(
        booking_id=booking.pk,
        actor=setup.staff,
        client_last_updated_at=fresh(booking),
        event_edits=[
            {
                "title": "Edited by staff",
                "start": new_start.isoformat(),
                "end": (new_start + timedelta(minutes=90)).isoformat(),
                "resourceIds": [str(setup.hall.pk)],
            }
        ],
    )

    (event,) = result.events
    event.refresh_from_db()
    assert event.pk == held.pk
    assert (event.title, event.start, event.end, event.status) == (
        "Edited by staff",
        new_start,
        new_start + timedelta(minutes=90),
        EventStatus.CONFIRMED,
    )
    assert resource_ids(event) == {setup.hall.pk}
    be = only_event(booking)
    assert (be.title, be.start, be.end) == ("Edited by staff", new_start, new_start + timedelta(minutes=90))
    assert set(be.resources.values_list("pk", flat=True)) == {setup.hall.pk}
    # The room the request first held is free again.
    assert setup.submit(setup.event(start=future(7, 10)), email="bob@example.com").booking.status == PENDING


def test_approve_edits_name_the_booking_event_they_change(setup):
    first, second = setup.event(start=future(7, 10), title="Day one"), setup.event(start=future(8, 10), title="Day two")
    booking = setup.submit(first, second).booking
    be_one, be_two = BookingEvent.objects.filter(booking=booking).order_by("order")

    result = booking_approve(
        booking_id=booking.pk,
        actor=setup.staff,
        client_last_updated_at=fresh(booking),
        event_edits=[
            {"bookingEventId": str(be_two.pk), "title": "Day two, edited", "resourceIds": [str(setup.hall.pk)]}
        ],
    )

    one, two = (Event.objects.get(pk=e.pk) for e in result.events)
    assert (one.title, resource_ids(one), one.status) == ("Day one", {setup.room.pk}, EventStatus.CONFIRMED)
    assert (two.title, resource_ids(two), two.status) == ("Day two, edited", {setup.hall.pk}, EventStatus.CONFIRMED)
    assert two.start == future(8, 10)


def test_approve_edit_naming_an_unknown_booking_event_is_refused(setup):
    booking = setup.submit(setup.event(start=future(7, 10)), setup.event(start=future(8, 10))).booking
    watch = Watch()
    with pytest.raises(ValidationFailed) as exc_info:
        booking_approve(
            booking_id=booking.pk,
            actor=setup.staff,
            client_last_updated_at=fresh(booking),
            event_edits=[{"title": "Which one?"}],
        )
    assert exc_info.value.errors[0].code == "NOT_FOUND"
    assert watch.delta() == {}
    assert Booking.objects.get(pk=booking.pk).status == PENDING


def test_approve_links_customer_and_contact(setup):
    booking = make_booking(setup)
    customer = CustomerFactory(organization=setup.org)
    contact = ContactFactory(organization=setup.org)

    booking_approve(
        booking_id=booking.pk,
        actor=setup.staff,
        client_last_updated_at=fresh(booking),
        customer_id=str(customer.pk),
        contact_id=str(contact.pk),
    )

    booking.refresh_from_db()
    assert (booking.status, booking.customer_id, booking.contact_id) == (APPROVED, customer.pk, contact.pk)


def test_approve_with_a_customer_of_another_organization_changes_nothing(setup):
    booking = make_booking(setup)
    held = only_event(booking).event
    stranger = CustomerFactory(organization=OrganizationFactory())
    watch = Watch()

    with pytest.raises(ValidationFailed) as exc_info:
        booking_approve(
            booking_id=booking.pk,
            actor=setup.staff,
            client_last_updated_at=fresh(booking),
            customer_id=str(stranger.pk),
        )

    assert exc_info.value.errors[0].field == "customerId"
    assert watch.delta() == {}
    held.refresh_from_db()
    assert held.status == EventStatus.TENTATIVE  # the confirmation rolled back with the rest
    assert Booking.objects.get(pk=booking.pk).status == PENDING


@pytest.mark.parametrize(
    ("spec", "expected_subject"),
    [
        (None, "Your booking is confirmed: Team meeting"),
        (NotificationSpec(subject="All set", message="<p>See you <b>soon</b></p><script>x()</script>"), "All set"),
        (NotificationSpec(send=False), None),
    ],
    ids=["default", "custom", "off"],
)
def test_approve_emails_the_booker(setup, spec, expected_subject, django_capture_on_commit_callbacks, mailoutbox):
    booking = make_booking(setup)
    mailoutbox.clear()
    watch = Watch()

    with django_capture_on_commit_callbacks(execute=True):
        booking_approve(
            booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking), notification=spec
        )

    if expected_subject is None:
        assert watch.notifications() == [] and mailoutbox == []
        return
    assert watch.notifications() == [("booking_approved", (BOOKER,))]
    (message,) = mailoutbox
    assert (message.to, message.subject) == ([BOOKER], expected_subject)
    if spec is not None:
        assert "See you soon" in message.body and "x()" not in message.body


# --- table: deny ---------------------------------------------------------------------------


def test_deny_removes_the_holds_and_emails_the_booker(setup):
    booking = make_booking(setup, days=7, hour=10)
    held = only_event(booking).event
    watch = Watch()

    booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking))

    booking.refresh_from_db()
    assert booking.status == DENIED
    assert (booking.decided_by, booking.decided_at is not None) == (setup.manager, True)
    assert not Event.objects.filter(pk=held.pk).exists()
    assert not Reservation.objects.filter(event_id=held.pk).exists()
    assert only_event(booking).event_id is None
    assert watch.notifications() == [("booking_denied", (BOOKER,))]
    # The slot is free for someone else.
    other = setup.submit(setup.event(start=future(7, 10)), email="bob@example.com")
    assert other.events[0].status == EventStatus.TENTATIVE


def test_deny_notification_can_be_switched_off(setup):
    booking = make_booking(setup)
    watch = Watch()
    booking_deny(
        booking_id=booking.pk,
        actor=setup.staff,
        client_last_updated_at=fresh(booking),
        notification=NotificationSpec(send=False),
    )
    assert watch.notifications() == []
    assert Booking.objects.get(pk=booking.pk).status == DENIED


# --- table: cancel -------------------------------------------------------------------------


def test_cancel_with_procedure_cancel_marks_events_canceled_and_frees_the_resources(setup):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    event = only_event(booking).event
    watch = Watch()

    result = booking_cancel(booking_id=booking.pk, actor=setup.staff, event_procedure=EventProcedure.CANCEL)

    assert Booking.objects.get(pk=booking.pk).status == CANCELED
    event.refresh_from_db()
    assert event.status == EventStatus.CANCELED
    assert [e.pk for e in result.events] == [event.pk]
    assert only_event(booking).event_id == event.pk  # still linked, for the record
    assert list(Reservation.objects.filter(event=event).values_list("active", flat=True)) == [False]
    assert watch.notifications() == [("booking_canceled", (BOOKER,))]
    # A new booking of the same slot succeeds, and can be approved.
    other = setup.submit(setup.event(start=future(7, 10)), email="bob@example.com").booking
    booking_approve(booking_id=other.pk, actor=setup.staff, client_last_updated_at=fresh(other))
    assert only_event(other).event.status == EventStatus.CONFIRMED


def test_cancel_with_procedure_delete_deletes_the_events(setup):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    event = only_event(booking).event
    watch = Watch()

    result = booking_cancel(booking_id=booking.pk, actor=setup.staff, event_procedure=EventProcedure.DELETE)

    assert result.events == []
    assert Booking.objects.get(pk=booking.pk).status == CANCELED
    assert not Event.objects.filter(pk=event.pk).exists()
    assert not Reservation.objects.filter(event_id=event.pk).exists()
    assert only_event(booking).event_id is None
    assert watch.notifications() == [("booking_canceled", (BOOKER,))]
    other = setup.submit(setup.event(start=future(7, 10)), email="bob@example.com")
    assert other.events[0].status == EventStatus.TENTATIVE


@pytest.mark.parametrize("procedure", [2, -1, "1", True, None])
def test_cancel_with_an_unknown_procedure_is_refused(setup, procedure):
    booking = make_booking(setup, APPROVED)
    watch = Watch()
    with pytest.raises(ValidationFailed) as exc_info:
        booking_cancel(booking_id=booking.pk, actor=setup.staff, event_procedure=procedure)
    assert exc_info.value.errors[0].field == "eventProcedure"
    assert watch.delta() == {}


def test_cancel_withdraws_an_open_change_request(setup):
    booking = make_booking(setup, APPROVED)
    request = change_request_submit(booking_id=booking.pk, actor=booker(), events=[{"title": "New"}]).change_request

    booking_cancel(booking_id=booking.pk, actor=setup.staff)

    request.refresh_from_db()
    assert request.decision == ChangeRequestDecision.WITHDRAWN
    assert not BookingChangeRequest.open.filter(booking=booking).exists()


# --- table: booker cancels -----------------------------------------------------------------


def test_booker_cancels_a_pending_booking_directly(setup):
    booking = make_booking(setup, days=7, hour=10)
    held = only_event(booking).event
    watch = Watch()

    result = booking_cancel_by_booker(booking_id=booking.pk, actor=booker(), request_note="Plans changed")

    assert result.applied is True and result.change_request is None
    assert Booking.objects.get(pk=booking.pk).status == CANCELED
    assert not Event.objects.filter(pk=held.pk).exists()
    assert not BookingChangeRequest.objects.filter(booking=booking).exists()
    assert watch.notifications() == [("admin_booker_canceled", (ADMIN,)), ("booking_canceled", (BOOKER,))]
    assert setup.submit(setup.event(start=future(7, 10)), email="bob@example.com").booking.status == PENDING


def test_booker_cancel_of_an_approved_booking_becomes_a_cancellation_request(setup):
    booking = make_booking(setup, APPROVED)
    event = only_event(booking).event
    watch = Watch()

    result = booking_cancel_by_booker(
        booking_id=booking.pk,
        actor=booker(),
        request_note='<p>Sorry</p><script>alert(1)</script><img src=x onerror="y()">',
    )

    request = result.change_request
    assert request is not None and result.applied is False
    request.refresh_from_db()
    assert (request.cancellation, request.decision, request.request_note) == (True, "", "<p>Sorry</p>")
    assert list(BookingChangeRequest.open.filter(booking=booking)) == [request]
    assert Booking.objects.get(pk=booking.pk).status == APPROVED
    event.refresh_from_db()
    assert event.status == EventStatus.CONFIRMED
    assert Reservation.objects.get(event=event).active is True
    assert watch.notifications() == [("admin_new_change_request", (ADMIN,)), ("change_request_received", (BOOKER,))]


# --- table: update -------------------------------------------------------------------------


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_update_links_and_clears_customer_and_contact_in_any_status(setup, status):
    booking = make_booking(setup, status)
    customer = CustomerFactory(organization=setup.org)
    contact = ContactFactory(organization=setup.org)

    result = booking_update(
        booking_id=booking.pk, actor=setup.staff, changes={"customerId": str(customer.pk), "contactId": str(contact.pk)}
    )
    booking.refresh_from_db()
    assert (result.booking.status, booking.status) == (status, status)
    assert (booking.customer_id, booking.contact_id) == (customer.pk, contact.pk)

    booking_update(booking_id=booking.pk, actor=setup.staff, changes={"customerId": ""})
    booking.refresh_from_db()
    assert (booking.customer_id, booking.contact_id) == (None, contact.pk)

    booking_update(booking_id=booking.pk, actor=setup.staff, changes={"contactId": ""})
    booking.refresh_from_db()
    assert (booking.customer_id, booking.contact_id, booking.status) == (None, None, status)


@pytest.mark.parametrize(
    "changes",
    [
        {"title": "Renamed"},
        {"status": APPROVED},
        {"events": []},
        {"requestNote": "x"},
        {"orgId": "x"},
        {"customerId": "", "title": "Renamed"},
    ],
    ids=["title", "status", "events", "requestNote", "orgId", "customer-with-title"],
)
def test_update_of_any_other_field_is_refused_as_immutable(setup, changes):
    booking = make_booking(setup)
    customer = CustomerFactory(organization=setup.org)
    booking_update(booking_id=booking.pk, actor=setup.staff, changes={"customerId": str(customer.pk)})
    watch = Watch()

    with pytest.raises(ImmutableField) as exc_info:
        booking_update(booking_id=booking.pk, actor=setup.staff, changes=changes)

    assert exc_info.value.code == "IMMUTABLE_FIELD"
    assert {e.code for e in exc_info.value.errors} == {"IMMUTABLE_FIELD"}
    assert {e.field for e in exc_info.value.errors} == set(changes) - {"customerId", "contactId"}
    assert watch.delta() == {}
    booking.refresh_from_db()
    assert (booking.title, booking.status, booking.customer_id) == ("Team meeting", PENDING, customer.pk)


def test_update_with_a_customer_of_another_organization_is_refused(setup):
    booking = make_booking(setup)
    stranger = CustomerFactory(organization=OrganizationFactory())
    with pytest.raises(ValidationFailed) as exc_info:
        booking_update(booking_id=booking.pk, actor=setup.staff, changes={"customerId": str(stranger.pk)})
    assert (exc_info.value.errors[0].field, exc_info.value.errors[0].code) == ("customerId", "NOT_FOUND")
    assert Booking.objects.get(pk=booking.pk).customer_id is None
