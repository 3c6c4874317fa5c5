"""The booking lifecycle services (docs/architecture.md#booking-lifecycle): every row of the table, every refused
transition, staleness, rollback, the audit log and the booker's permissions.

Bookings are driven through the real services only (submit, approve, deny, ...), so each test sees the
same rows the admin, the API and the public pages would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta

import pytest
from django.core import mail

from bookings.lifecycle.change_requests import (
    booking_cancel_by_booker,
    change_request_approve,
    change_request_deny,
    change_request_submit,
)
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny, booking_update
from bookings.lifecycle.submit import booking_create
from bookings.lifecycle.transitions import BookingResult, EventProcedure
from bookings.models import (
    Booking,
    BookingChangeRequest,
    BookingEvent,
    BookingLog,
    BookingStatus,
    ChangeRequestDecision,
)
from core.actor import Actor, ActorKind
from core.errors import (
    BookingConflict,
    ImmutableField,
    InvalidTransition,
    PermissionDenied,
    StaleBooking,
    ValidationFailed,
)
from events.models import Event, EventStatus, Reservation
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from notifications.models import Notification, NotificationStatus
from notifications.services import NotificationSpec
from tests.conftest import Setup, future
from tests.factories import ContactFactory, CustomerFactory, OrganizationFactory

PENDING, APPROVED, DENIED, CANCELED = (BookingStatus.PENDING, BookingStatus.APPROVED, BookingStatus.DENIED,
                                       BookingStatus.CANCELED)
ALL_STATUSES = [PENDING, APPROVED, DENIED, CANCELED]
BOOKER = "ada@example.com"
ADMIN = "admin@example.org"


# --- helpers -----------------------------------------------------------------------------------------


def fresh(booking: Booking):
    """The booking's lastUpdatedAt as a client reading it now would see it."""
    return Booking.objects.values_list("updated_at", flat=True).get(pk=booking.pk)


def booker(booking: Booking | None = None) -> Actor:
    return Actor.booker(booking.booker_email if booking else BOOKER)


def make_booking(setup: Setup, status: int = PENDING, *, days: int = 7, hour: int = 10, resources=None,
                 email: str = BOOKER) -> Booking:
    """A booking brought to `status` the way it happens in real life: submitted, then decided."""
    booking = setup.submit(setup.event(start=future(days, hour), resources=resources), email=email).booking
    if status in (APPROVED, CANCELED):
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking))
    if status == DENIED:
        booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking))
    if status == CANCELED:
        booking_cancel(booking_id=booking.pk, actor=setup.staff)
    booking.refresh_from_db()
    assert booking.status == status
    return booking


def only_event(booking: Booking) -> BookingEvent:
    (be,) = BookingEvent.objects.filter(booking=booking).select_related("event")
    return be


def resource_ids(event: Event) -> set:
    return set(Reservation.objects.filter(event=event).values_list("resource_id", flat=True))


COUNTED = (Booking, BookingEvent, BookingLog, BookingChangeRequest, Event, Reservation, Notification)


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in COUNTED}


class Watch:
    """What a service call added: row counts, and the new Notification and BookingLog rows."""

    def __init__(self) -> None:
        self.before = counts()
        self.notification_ids = set(Notification.objects.values_list("pk", flat=True))
        self.log_ids = set(BookingLog.objects.values_list("pk", flat=True))

    def delta(self) -> dict[str, int]:
        now = counts()
        return {k: now[k] - self.before[k] for k in now if now[k] != self.before[k]}

    def notifications(self) -> list[tuple[str, tuple[str, ...]]]:
        new = Notification.objects.exclude(pk__in=self.notification_ids)
        return sorted((n.kind, tuple(n.recipients)) for n in new)

    def new_notifications(self) -> list[Notification]:
        return list(Notification.objects.exclude(pk__in=self.notification_ids))

    def logs(self) -> list[BookingLog]:
        return list(BookingLog.objects.exclude(pk__in=self.log_ids))


def assert_refused(exc_info, code: str, status: int) -> None:
    assert exc_info.value.code == code
    assert exc_info.value.status == status


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
    assert watch.delta() == {"Booking": 1, "BookingEvent": 1, "BookingLog": 1, "Event": 1, "Reservation": 1,
                             "Notification": 2}
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
    rows = [*Booking.objects.filter(pk=booking.pk).values(), *BookingEvent.objects.filter(booking=booking).values(),
            *BookingLog.objects.filter(booking=booking).values()]
    assert rows and not any(token in str(value) for row in rows for value in row.values())


def test_submit_emails_after_commit_booker_with_private_link_and_module_admin(
        setup, django_capture_on_commit_callbacks, mailoutbox):
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
        NotificationStatus.SENT}


# --- table: staff create -------------------------------------------------------------------


def staff_create(setup: Setup, status: int, **kwargs) -> BookingResult:
    kwargs.setdefault("events", [setup.event(start=future(9, 10))])
    return booking_create(module=setup.module, actor=setup.staff, status=status,
                          contact={"name": "Ada Lovelace", "email": BOOKER}, portal=setup.portal,
                          single_event=True, **kwargs)


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
    (existing,) = events_save(organization=setup.org, status=existing_status, specs=[
        EventSpec(title="Board meeting", start=start, end=start + timedelta(hours=2), resource_ids=[setup.hall.pk])])
    watch = Watch()

    result = booking_create(module=setup.module, actor=setup.staff, status=APPROVED, event_id=existing.pk,
                            contact={"name": "Ada Lovelace", "email": BOOKER})

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
    (existing,) = events_save(organization=setup.org, specs=[
        EventSpec(title="x", start=future(10, 14), end=future(10, 15), resource_ids=[setup.hall.pk])])
    watch = Watch()
    with pytest.raises(ValidationFailed):
        booking_create(module=setup.module, actor=setup.staff, status=PENDING, event_id=existing.pk,
                       contact={"name": "Ada", "email": BOOKER})
    assert watch.delta() == {}


@pytest.mark.parametrize(
    ("status", "kind"),
    [(PENDING, "booking_received"), (APPROVED, "booking_approved"), (DENIED, "booking_denied"),
     (CANCELED, "booking_canceled")],
)
def test_staff_create_sends_the_optional_notification(setup, status, kind):
    watch = Watch()
    result = staff_create(setup, status, notification=NotificationSpec(subject="Your booking", message="<p>Hi</p>"))

    (notification,) = watch.new_notifications()
    assert (notification.kind, notification.recipients) == (kind, [BOOKER])
    assert notification.subject == "Your booking"
    assert "Hi" in notification.body_text
    assert notification.object_id == result.booking.pk


def test_staff_create_notification_can_be_switched_off(setup):
    watch = Watch()
    staff_create(setup, APPROVED, notification=NotificationSpec(send=False))
    assert watch.notifications() == []


# --- table: approve ------------------------------------------------------------------------


def test_approve_confirms_the_holds_in_place(setup):
    submitted = setup.submit(setup.event(start=future(7, 10)))
    (held,) = submitted.events
    watch = Watch()

    result = booking_approve(booking_id=submitted.booking.pk, actor=setup.staff,
                             client_last_updated_at=fresh(submitted.booking))

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
        booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking),
        event_edits=[{"title": "Edited by staff", "start": new_start.isoformat(),
                      "end": (new_start + timedelta(minutes=90)).isoformat(), "resourceIds": [str(setup.hall.pk)]}],
    )

    (event,) = result.events
    event.refresh_from_db()
    assert event.pk == held.pk
    assert (event.title, event.start, event.end, event.status) == (
        "Edited by staff", new_start, new_start + timedelta(minutes=90), EventStatus.CONFIRMED)
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

    result = booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking),
                             event_edits=[{"bookingEventId": str(be_two.pk), "title": "Day two, edited",
                                           "resourceIds": [str(setup.hall.pk)]}])

    one, two = (Event.objects.get(pk=e.pk) for e in result.events)
    assert (one.title, resource_ids(one), one.status) == ("Day one", {setup.room.pk}, EventStatus.CONFIRMED)
    assert (two.title, resource_ids(two), two.status) == ("Day two, edited", {setup.hall.pk}, EventStatus.CONFIRMED)
    assert two.start == future(8, 10)


def test_approve_edit_naming_an_unknown_booking_event_is_refused(setup):
    booking = setup.submit(setup.event(start=future(7, 10)), setup.event(start=future(8, 10))).booking
    watch = Watch()
    with pytest.raises(ValidationFailed) as exc_info:
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking),
                        event_edits=[{"title": "Which one?"}])
    assert exc_info.value.errors[0].code == "NOT_FOUND"
    assert watch.delta() == {}
    assert Booking.objects.get(pk=booking.pk).status == PENDING


def test_approve_links_customer_and_contact(setup):
    booking = make_booking(setup)
    customer = CustomerFactory(organization=setup.org)
    contact = ContactFactory(organization=setup.org)

    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking),
                    customer_id=str(customer.pk), contact_id=str(contact.pk))

    booking.refresh_from_db()
    assert (booking.status, booking.customer_id, booking.contact_id) == (APPROVED, customer.pk, contact.pk)


def test_approve_with_a_customer_of_another_organization_changes_nothing(setup):
    booking = make_booking(setup)
    held = only_event(booking).event
    stranger = CustomerFactory(organization=OrganizationFactory())
    watch = Watch()

    with pytest.raises(ValidationFailed) as exc_info:
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking),
                        customer_id=str(stranger.pk))

    assert exc_info.value.errors[0].field == "customerId"
    assert watch.delta() == {}
    held.refresh_from_db()
    assert held.status == EventStatus.TENTATIVE  # the confirmation rolled back with the rest
    assert Booking.objects.get(pk=booking.pk).status == PENDING


@pytest.mark.parametrize(
    ("spec", "expected_subject"),
    [(None, "Your booking is confirmed: Team meeting"),
     (NotificationSpec(subject="All set", message="<p>See you <b>soon</b></p><script>x()</script>"), "All set"),
     (NotificationSpec(send=False), None)],
    ids=["default", "custom", "off"],
)
def test_approve_emails_the_booker(setup, spec, expected_subject, django_capture_on_commit_callbacks, mailoutbox):
    booking = make_booking(setup)
    mailoutbox.clear()
    watch = Watch()

    with django_capture_on_commit_callbacks(execute=True):
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking),
                        notification=spec)

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
    booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking),
                 notification=NotificationSpec(send=False))
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

    result = booking_cancel_by_booker(booking_id=booking.pk, actor=booker(),
                                      request_note='<p>Sorry</p><script>alert(1)</script><img src=x onerror="y()">')

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

    result = booking_update(booking_id=booking.pk, actor=setup.staff,
                            changes={"customerId": str(customer.pk), "contactId": str(contact.pk)})
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
    [{"title": "Renamed"}, {"status": APPROVED}, {"events": []}, {"requestNote": "x"}, {"orgId": "x"},
     {"customerId": "", "title": "Renamed"}],
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


# --- table: change request submitted -------------------------------------------------------


def test_change_request_on_a_pending_booking_is_applied_directly_and_moves_the_hold(setup):
    booking = make_booking(setup, days=7, hour=10)
    held = only_event(booking).event
    read_at = fresh(booking)
    new_start = future(7, 14)
    watch = Watch()

    result = change_request_submit(booking_id=booking.pk, actor=booker(), contact={"phone": "+44 20 7946 0000"},
                                   events=[{"start": new_start.isoformat(),
                                            "end": (new_start + timedelta(hours=2)).isoformat()}])

    assert result.applied is True and result.change_request is None
    booking.refresh_from_db()
    assert booking.status == PENDING
    assert booking.updated_at > read_at  # lastUpdatedAt moves
    assert booking.contact_answers["phone"] == "+44 20 7946 0000"
    be = only_event(booking)
    assert (be.start, be.end, be.title) == (new_start, new_start + timedelta(hours=2), "Team meeting")
    assert be.event_id == held.pk  # the same hold, moved
    held.refresh_from_db()
    assert (held.start, held.end, held.status) == (new_start, new_start + timedelta(hours=2), EventStatus.TENTATIVE)
    reservation = Reservation.objects.get(event=held)
    assert (reservation.start, reservation.active) == (new_start, True)
    assert "BookingChangeRequest" not in watch.delta() and "Event" not in watch.delta()
    assert watch.notifications() == [("admin_booking_changed", (ADMIN,))]
    # The old slot is free, the new one is held.
    assert setup.submit(setup.event(start=future(7, 10)), email="bob@example.com").booking.status == PENDING
    with pytest.raises(BookingConflict):
        setup.submit(setup.event(start=future(7, 15)), email="eve@example.com")


def test_change_request_on_a_pending_booking_is_conflict_checked(setup):
    make_booking(setup, APPROVED, days=7, hour=14, email="bob@example.com")
    booking = make_booking(setup, days=7, hour=10)
    watch = Watch()
    with pytest.raises(BookingConflict):
        change_request_submit(booking_id=booking.pk, actor=booker(),
                              events=[{"start": future(7, 14).isoformat(), "end": future(7, 15).isoformat()}])
    assert watch.delta() == {}
    assert only_event(booking).start == future(7, 10)


def test_change_request_on_a_pending_booking_without_holds_is_applied(setup_no_hold):
    s = setup_no_hold
    booking = make_booking(s, days=7, hour=10)
    result = change_request_submit(booking_id=booking.pk, actor=booker(), events=[{"title": "Renamed"}])
    assert result.applied is True
    assert only_event(booking).title == "Renamed"
    assert only_event(booking).event_id is None


def test_change_request_on_an_approved_booking_is_recorded_for_staff(setup):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    be = only_event(booking)
    read_at = fresh(booking)
    new_start = future(7, 14)
    watch = Watch()

    result = change_request_submit(booking_id=booking.pk, actor=booker(), request_note="Later <i>please</i>",
                                   events=[{"start": new_start.isoformat(),
                                            "end": (new_start + timedelta(hours=1)).isoformat(),
                                            "title": "Team meeting"}])

    request = result.change_request
    assert request is not None and result.applied is False
    request.refresh_from_db()
    assert request.cancellation is False
    # Only what differs is recorded (the title did not change).
    assert request.event_changes == [{"bookingEventId": str(be.pk), "start": new_start.isoformat(),
                                      "end": (new_start + timedelta(hours=1)).isoformat()}]
    assert request.contact_changes == {}
    assert request.request_note == "Later <i>please</i>"
    assert list(BookingChangeRequest.open.filter(booking=booking)) == [request]
    # Nothing changes until staff decide.
    assert fresh(booking) == read_at
    assert only_event(booking).start == future(7, 10)
    assert Event.objects.get(pk=be.event_id).start == future(7, 10)
    assert watch.notifications() == [("admin_new_change_request", (ADMIN,)), ("change_request_received", (BOOKER,))]


def test_change_request_asking_for_nothing_new_is_refused(setup):
    booking = make_booking(setup, APPROVED)
    watch = Watch()
    with pytest.raises(ValidationFailed) as exc_info:
        change_request_submit(booking_id=booking.pk, actor=booker(), events=[{"title": "Team meeting"}])
    assert exc_info.value.errors[0].code == "NO_CHANGES"
    with pytest.raises(ValidationFailed):
        change_request_submit(booking_id=booking.pk, actor=booker())
    assert watch.delta() == {}


# --- table: change request approved / denied -----------------------------------------------


def request_move(booking: Booking, days: int, hour: int, **extra) -> BookingChangeRequest:
    start = future(days, hour)
    return change_request_submit(
        booking_id=booking.pk, actor=booker(booking),
        events=[{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), **extra}],
    ).change_request


def test_change_request_approved_applies_the_changes_to_booking_and_events(setup):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    event = only_event(booking).event
    request = change_request_submit(
        booking_id=booking.pk, actor=booker(), contact={"phone": "+44 20 7946 0000"},
        events=[{"start": future(8, 14).isoformat(), "end": future(8, 15).isoformat(), "title": "Moved"}],
    ).change_request
    watch = Watch()

    result = change_request_approve(change_request_id=request.pk, actor=setup.staff)

    booking.refresh_from_db()
    assert booking.status == APPROVED
    assert booking.contact_answers["phone"] == "+44 20 7946 0000"
    be = only_event(booking)
    assert (be.title, be.start, be.end, be.event_id) == ("Moved", future(8, 14), future(8, 15), event.pk)
    assert [e.pk for e in result.events] == [event.pk]
    event.refresh_from_db()
    assert (event.title, event.start, event.end, event.status) == ("Moved", future(8, 14), future(8, 15),
                                                                   EventStatus.CONFIRMED)
    assert Reservation.objects.get(event=event).start == future(8, 14)
    request.refresh_from_db()
    assert (request.decision, request.decided_by) == (ChangeRequestDecision.APPROVED, setup.manager)
    assert not BookingChangeRequest.open.filter(pk=request.pk).exists()
    assert "Event" not in watch.delta()
    assert watch.notifications() == [("change_request_approved", (BOOKER,))]
    # The old slot is free again.
    assert setup.submit(setup.event(start=future(7, 10)), email="bob@example.com").booking.status == PENDING


def test_change_request_approval_applies_staff_edits_over_the_request(setup):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    request = request_move(booking, 8, 14)

    change_request_approve(change_request_id=request.pk, actor=setup.staff,
                           event_edits=[{"end": future(8, 16).isoformat(), "resourceIds": [str(setup.hall.pk)]}])

    event = only_event(booking).event
    assert (event.start, event.end, resource_ids(event)) == (future(8, 14), future(8, 16), {setup.hall.pk})


def test_change_request_approval_is_conflict_checked(setup):
    other = make_booking(setup, APPROVED, days=8, hour=14, email="bob@example.com")
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    request = request_move(booking, 8, 14)
    watch = Watch()

    with pytest.raises(BookingConflict) as exc_info:
        change_request_approve(change_request_id=request.pk, actor=setup.staff)

    assert exc_info.value.errors[0].meta["conflictingEventIds"] == [str(only_event(other).event_id)]
    assert watch.delta() == {}
    request.refresh_from_db()
    assert request.decision == ""  # still open, staff can deny it or edit the time
    event = only_event(booking).event
    assert (event.start, event.status) == (future(7, 10), EventStatus.CONFIRMED)


@pytest.mark.parametrize("procedure", [EventProcedure.CANCEL, EventProcedure.DELETE])
def test_cancellation_request_approved_cancels_or_deletes_the_events(setup, procedure):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    event = only_event(booking).event
    request = booking_cancel_by_booker(booking_id=booking.pk, actor=booker()).change_request
    watch = Watch()

    result = change_request_approve(change_request_id=request.pk, actor=setup.staff, event_procedure=procedure)

    assert Booking.objects.get(pk=booking.pk).status == CANCELED
    if procedure == EventProcedure.CANCEL:
        assert Event.objects.get(pk=event.pk).status == EventStatus.CANCELED
        assert list(Reservation.objects.filter(event=event).values_list("active", flat=True)) == [False]
        assert [e.pk for e in result.events] == [event.pk]
    else:
        assert not Event.objects.filter(pk=event.pk).exists()
        assert only_event(booking).event_id is None
        assert result.events == []
    assert not BookingChangeRequest.open.filter(pk=request.pk).exists()
    assert watch.notifications() == [("change_request_approved", (BOOKER,))]
    assert setup.submit(setup.event(start=future(7, 10)), email="bob@example.com").booking.status == PENDING


def test_change_request_denied_leaves_the_booking_as_it_was(setup):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    event = only_event(booking).event
    request = request_move(booking, 8, 14)
    watch = Watch()

    change_request_deny(change_request_id=request.pk, actor=setup.staff)

    request.refresh_from_db()
    assert (request.decision, request.decided_by) == (ChangeRequestDecision.DENIED, setup.manager)
    assert not BookingChangeRequest.open.filter(booking=booking).exists()
    assert Booking.objects.get(pk=booking.pk).status == APPROVED
    event.refresh_from_db()
    assert (event.start, event.status) == (future(7, 10), EventStatus.CONFIRMED)
    assert only_event(booking).start == future(7, 10)
    assert watch.notifications() == [("change_request_denied", (BOOKER,))]


def test_change_request_deny_notification_can_be_switched_off(setup):
    booking = make_booking(setup, APPROVED)
    request = request_move(booking, 8, 14)
    watch = Watch()
    change_request_deny(change_request_id=request.pk, actor=setup.staff, notification=NotificationSpec(send=False))
    assert watch.notifications() == []


# --- refused transitions -----------------------------------------------------------------------------


def _approve(s, b):
    return booking_approve(booking_id=b.pk, actor=s.staff, client_last_updated_at=fresh(b))


def _deny(s, b):
    return booking_deny(booking_id=b.pk, actor=s.staff, client_last_updated_at=fresh(b))


def _cancel(s, b):
    return booking_cancel(booking_id=b.pk, actor=s.staff, event_procedure=EventProcedure.CANCEL)


def _change(s, b):
    return change_request_submit(booking_id=b.pk, actor=booker(b), events=[{"title": "Renamed"}])


def _booker_cancel(s, b):
    return booking_cancel_by_booker(booking_id=b.pk, actor=booker(b))


def _update(s, b):
    return booking_update(booking_id=b.pk, actor=s.staff, changes={"customerId": ""})


ACTIONS: dict[str, Callable] = {
    "approve": _approve,
    "deny": _deny,
    "cancel": _cancel,
    "change_request_submit": _change,
    "booker_cancel": _booker_cancel,
    "update": _update,
}

# docs/architecture.md#transition-table, written out by hand (not read from the code): (action, from) -> to. Everything
# else is refused.
ALLOWED = {
    ("approve", PENDING): APPROVED,
    ("deny", PENDING): DENIED,
    ("cancel", APPROVED): CANCELED,
    ("change_request_submit", PENDING): PENDING,
    ("change_request_submit", APPROVED): APPROVED,
    ("booker_cancel", PENDING): CANCELED,
    ("booker_cancel", APPROVED): APPROVED,  # a cancellation change request
    **{("update", s): s for s in ALL_STATUSES},
}
MATRIX = [(action, status) for action in ACTIONS for status in ALL_STATUSES]
REFUSED = [pair for pair in MATRIX if pair not in ALLOWED]


def _status_id(value):
    return BookingStatus(value).name if isinstance(value, int) else value


def test_the_tables_cover_every_refusal_named_in_the_design():
    assert ("approve", DENIED) in REFUSED and ("cancel", PENDING) in REFUSED
    assert len(REFUSED) == 4 * 6 - len(ALLOWED) == 13


@pytest.mark.parametrize(("action", "status"), sorted(ALLOWED), ids=_status_id)
def test_allowed_transition(setup, action, status):
    booking = make_booking(setup, status)
    watch = Watch()
    ACTIONS[action](setup, booking)
    assert Booking.objects.get(pk=booking.pk).status == ALLOWED[(action, status)]
    assert watch.delta()["BookingLog"] == 1


@pytest.mark.parametrize(("action", "status"), REFUSED, ids=_status_id)
def test_refused_transition(setup, action, status):
    booking = make_booking(setup, status)
    read_at = fresh(booking)
    watch = Watch()

    with pytest.raises(InvalidTransition) as exc_info:
        ACTIONS[action](setup, booking)

    assert_refused(exc_info, "INVALID_TRANSITION", 409)
    assert exc_info.value.as_dict()["status"] == 409
    assert watch.delta() == {}
    assert (Booking.objects.get(pk=booking.pk).status, fresh(booking)) == (status, read_at)


def _decide_approve(s, request):
    return change_request_approve(change_request_id=request.pk, actor=s.staff)


def _decide_deny(s, request):
    return change_request_deny(change_request_id=request.pk, actor=s.staff)


def _close_by_booking_cancel(s, request):
    return booking_cancel(booking_id=request.booking_id, actor=s.staff)


def _close_by_newer_request(s, request):
    return request_move(request.booking, 9, 16)


FIRST = {"approved": _decide_approve, "denied": _decide_deny, "booking-canceled": _close_by_booking_cancel,
         "superseded": _close_by_newer_request}
SECOND = {"approve": _decide_approve, "deny": _decide_deny}


@pytest.mark.parametrize("cancellation", [False, True], ids=["change", "cancellation"])
@pytest.mark.parametrize("second", SECOND)
@pytest.mark.parametrize("first", FIRST)
def test_deciding_a_change_request_twice_is_refused(setup, first, second, cancellation):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    if cancellation:
        request = booking_cancel_by_booker(booking_id=booking.pk, actor=booker()).change_request
    else:
        request = request_move(booking, 8, 14)
    FIRST[first](setup, request)
    request.refresh_from_db()
    assert request.decision != ""
    status_after_first = Booking.objects.get(pk=booking.pk).status
    watch = Watch()

    with pytest.raises(InvalidTransition) as exc_info:
        SECOND[second](setup, request)

    assert_refused(exc_info, "INVALID_TRANSITION", 409)
    assert watch.delta() == {}
    assert Booking.objects.get(pk=booking.pk).status == status_after_first


# --- staleness ---------------------------------------------------------------------------------------


BOOKER_CHANGES = {
    "event-time": lambda: {"events": [{"start": future(7, 14).isoformat(), "end": future(7, 15).isoformat()}]},
    "title": lambda: {"events": [{"title": "Renamed by the booker"}]},
    "contact": lambda: {"contact": {"phone": "+44 20 7946 0000"}},
}
DECIDE = {"approve": (booking_approve, APPROVED), "deny": (booking_deny, DENIED)}


@pytest.mark.parametrize("change", BOOKER_CHANGES)
@pytest.mark.parametrize("decision", DECIDE)
def test_deciding_on_an_old_read_of_a_changed_booking_is_stale(setup, decision, change):
    service, decided_status = DECIDE[decision]
    booking = make_booking(setup, days=7, hour=10)
    read_at = fresh(booking)  # staff open the booking ...
    change_request_submit(booking_id=booking.pk, actor=booker(), **BOOKER_CHANGES[change]())  # ... the booker edits
    watch = Watch()

    with pytest.raises(StaleBooking) as exc_info:
        service(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=read_at)

    assert_refused(exc_info, "STALE_BOOKING", 409)
    assert exc_info.value.errors[0].field == "clientBookingLastUpdatedAt"
    assert exc_info.value.errors[0].code == "STALE_BOOKING"
    assert watch.delta() == {}
    assert Booking.objects.get(pk=booking.pk).status == PENDING

    # Re-reading gives the fresh value, which passes.
    service(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking))
    assert Booking.objects.get(pk=booking.pk).status == decided_status


@pytest.mark.parametrize("decision", DECIDE)
def test_an_unchanged_booking_is_not_stale(setup, decision):
    service, decided_status = DECIDE[decision]
    booking = make_booking(setup)
    service(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking))
    assert Booking.objects.get(pk=booking.pk).status == decided_status


# --- rollback ----------------------------------------------------------------------------------------


def test_a_conflicting_approval_rolls_back_everything(setup_no_hold, django_capture_on_commit_callbacks, mailoutbox):
    s = setup_no_hold
    winner = make_booking(s, days=7, hour=10)
    # Two pending requests can overlap when the module does not hold slots; the second also asks for a
    # free time, which must not be created alone.
    loser = s.submit(s.event(start=future(7, 10, 30), title="Loser"), s.event(start=future(9, 10)),
                     email="bob@example.com").booking
    (winning_event,) = booking_approve(booking_id=winner.pk, actor=s.staff,
                                       client_last_updated_at=fresh(winner)).events
    read_at = fresh(loser)
    watch = Watch()
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(BookingConflict) as exc_info:
        booking_approve(booking_id=loser.pk, actor=s.staff, client_last_updated_at=read_at)

    assert_refused(exc_info, "BOOKING_CONFLICT", 409)
    (error,) = exc_info.value.errors
    assert (error.code, error.field) == ("BOOKING_CONFLICT", "events[0].resourceIds")
    assert error.meta["conflictingEventIds"] == [str(winning_event.pk)]
    assert watch.delta() == {}  # no Notification, no BookingLog, no Event, no Reservation
    assert callbacks == [] and mailoutbox == []
    loser.refresh_from_db()
    assert (loser.status, loser.updated_at, loser.decided_by, loser.decided_at) == (PENDING, read_at, None, None)
    assert list(BookingEvent.objects.filter(booking=loser).values_list("event_id", flat=True)) == [None, None]


def test_a_conflicting_edit_at_approval_leaves_the_hold_where_it_was(setup):
    taken = make_booking(setup, APPROVED, days=7, hour=14, email="bob@example.com")
    booking = make_booking(setup, days=7, hour=10)
    held = only_event(booking).event
    watch = Watch()

    with pytest.raises(BookingConflict) as exc_info:
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=fresh(booking),
                        event_edits=[{"title": "Moved", "start": future(7, 14).isoformat(),
                                      "end": future(7, 15).isoformat()}])

    assert exc_info.value.errors[0].meta["conflictingEventIds"] == [str(only_event(taken).event_id)]
    assert watch.delta() == {}
    held.refresh_from_db()
    assert (held.title, held.start, held.status) == ("Team meeting", future(7, 10), EventStatus.TENTATIVE)
    assert Reservation.objects.get(event=held).start == future(7, 10)
    be = only_event(booking)
    assert (be.title, be.start, be.event_id) == ("Team meeting", future(7, 10), held.pk)
    assert Booking.objects.get(pk=booking.pk).status == PENDING


# --- the log: one row per transition -----------------------------------------------------------------


@dataclass
class LogCase:
    action: str
    actor: str  # "staff" or "booker"
    changed: set[str]
    prepare: Callable[[Setup], Callable[[], BookingResult]]  # returns the transition to run


def _prepared(status: int, run: Callable[[Setup, Booking], BookingResult]):
    def prepare(s: Setup):
        booking = make_booking(s, status, days=7, hour=10)
        return lambda: run(s, booking)
    return prepare


def _with_request(run: Callable[[Setup, BookingChangeRequest], BookingResult], *, cancellation: bool = False):
    def prepare(s: Setup):
        booking = make_booking(s, APPROVED, days=7, hour=10)
        if cancellation:
            request = booking_cancel_by_booker(booking_id=booking.pk, actor=booker()).change_request
        else:
            request = request_move(booking, 8, 14)
        return lambda: run(s, request)
    return prepare


def _create(status):
    return lambda s: (lambda: staff_create(s, status))


def _approve_linking(s, b):
    return booking_approve(booking_id=b.pk, actor=s.staff, client_last_updated_at=fresh(b),
                           customer_id=str(CustomerFactory(organization=s.org).pk))


def _approve_editing(s, b):
    return booking_approve(booking_id=b.pk, actor=s.staff, client_last_updated_at=fresh(b),
                           event_edits=[{"title": "Edited"}])


def _move(s, b):
    return change_request_submit(booking_id=b.pk, actor=booker(b),
                                 events=[{"start": future(7, 14).isoformat(), "end": future(7, 15).isoformat()}])


def _update_customer(s, b):
    return booking_update(booking_id=b.pk, actor=s.staff,
                          changes={"customerId": str(CustomerFactory(organization=s.org).pk)})


SUBMITTED = {"status", "title", "contactId", "contact", "events"}
LOG_CASES = {
    "submit": LogCase("submit", "booker", SUBMITTED, lambda s: (lambda: s.submit())),
    **{f"create-{BookingStatus(st).name.lower()}": LogCase("create", "staff", SUBMITTED, _create(st))
       for st in ALL_STATUSES},
    "approve": LogCase("approve", "staff", {"status"}, _prepared(PENDING, _approve)),
    "approve-link-customer": LogCase("approve", "staff", {"status", "customerId"},
                                     _prepared(PENDING, _approve_linking)),
    "approve-with-edits": LogCase("approve", "staff", {"status", "events"}, _prepared(PENDING, _approve_editing)),
    "deny": LogCase("deny", "staff", {"status", "events"}, _prepared(PENDING, _deny)),
    "cancel-0": LogCase("cancel", "staff", {"status"}, _prepared(APPROVED, _cancel)),
    "cancel-1": LogCase("cancel", "staff", {"status", "events"}, _prepared(
        APPROVED, lambda s, b: booking_cancel(booking_id=b.pk, actor=s.staff, event_procedure=EventProcedure.DELETE))),
    "booker-cancel-pending": LogCase("booker_cancel", "booker", {"status", "events"},
                                     _prepared(PENDING, _booker_cancel)),
    "booker-cancel-approved": LogCase("change_requested", "booker", {"changeRequestId", "cancellation"},
                                      _prepared(APPROVED, _booker_cancel)),
    "update": LogCase("update", "staff", {"customerId"}, _prepared(APPROVED, _update_customer)),
    "change-pending": LogCase("change_applied", "booker", {"events"}, _prepared(PENDING, _move)),
    "change-approved": LogCase("change_requested", "booker", {"changeRequestId", "cancellation"},
                               _prepared(APPROVED, _move)),
    "change-request-approve": LogCase("change_request_approve", "staff", {"events"}, _with_request(_decide_approve)),
    "change-request-approve-cancellation": LogCase("change_request_approve", "staff", {"status"},
                                                   _with_request(_decide_approve, cancellation=True)),
    "change-request-deny": LogCase("change_request_deny", "staff", {"changeRequestId"}, _with_request(_decide_deny)),
}


@pytest.mark.parametrize("case", LOG_CASES)
def test_every_transition_writes_exactly_one_log_row(setup, case):
    spec = LOG_CASES[case]
    run = spec.prepare(setup)
    watch = Watch()

    result = run()

    (log,) = watch.logs()
    booking = Booking.objects.get(pk=result.booking.pk)
    assert log.booking_id == booking.pk
    assert log.action == spec.action
    if spec.actor == "staff":
        assert (log.actor_kind, log.actor_user, log.actor_label) == (ActorKind.USER, setup.manager,
                                                                     setup.manager.username)
    else:
        assert (log.actor_kind, log.actor_user, log.actor_label) == (ActorKind.BOOKER, None, BOOKER)
    # before/after hold exactly what changed, each with its old and new value.
    assert set(log.before) == set(log.after) == spec.changed
    assert all(log.before[k] != log.after[k] for k in spec.changed)
    if "status" in spec.changed:
        assert log.after["status"] == booking.status
    if "changeRequestId" in spec.changed and result.change_request is not None:
        assert str(result.change_request.pk) in (log.before["changeRequestId"], log.after["changeRequestId"])


def test_log_of_a_change_request_approval_has_old_and_new_times(setup):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    request = request_move(booking, 8, 14)
    watch = Watch()
    change_request_approve(change_request_id=request.pk, actor=setup.staff)

    (log,) = watch.logs()
    (old,), (new,) = log.before["events"], log.after["events"]
    assert (old["start"], new["start"]) == (future(7, 10).astimezone(UTC).isoformat(),
                                            future(8, 14).astimezone(UTC).isoformat())
    assert old["eventId"] == new["eventId"] == str(only_event(booking).event_id)


def test_staff_actor_through_an_api_token_is_logged_as_token(setup):
    booking = make_booking(setup)
    booking_deny(booking_id=booking.pk, actor=Actor.staff(setup.manager, via_token=True),
                 client_last_updated_at=fresh(booking))
    log = BookingLog.objects.filter(booking=booking).latest("created_at")
    assert (log.action, log.actor_kind, log.actor_user) == ("deny", ActorKind.TOKEN, setup.manager)


# --- booker permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [PENDING, APPROVED])
def test_booker_cannot_cancel_when_the_module_forbids_it_but_staff_can(setup, status):
    setup.module.allow_cancellation = False
    setup.module.save()
    booking = make_booking(setup, status)
    watch = Watch()

    with pytest.raises(PermissionDenied) as exc_info:
        booking_cancel_by_booker(booking_id=booking.pk, actor=booker())

    assert_refused(exc_info, "PERMISSION_DENIED", 403)
    assert watch.delta() == {}
    assert Booking.objects.get(pk=booking.pk).status == status

    result = booking_cancel_by_booker(booking_id=booking.pk, actor=setup.staff)
    if status == PENDING:
        assert Booking.objects.get(pk=booking.pk).status == CANCELED
    else:
        assert result.change_request is not None and result.change_request.cancellation is True
    # Changes are still allowed to bookers: the two switches are independent.
    if status == APPROVED:
        assert _change(setup, booking).change_request is not None


@pytest.mark.parametrize("status", [PENDING, APPROVED])
def test_booker_cannot_request_changes_when_the_module_forbids_it_but_staff_can(setup, status):
    setup.module.allow_change_requests = False
    setup.module.save()
    booking = make_booking(setup, status)
    watch = Watch()

    with pytest.raises(PermissionDenied) as exc_info:
        _change(setup, booking)

    assert_refused(exc_info, "PERMISSION_DENIED", 403)
    assert watch.delta() == {}
    assert only_event(booking).title == "Team meeting"

    result = change_request_submit(booking_id=booking.pk, actor=setup.staff, events=[{"title": "Renamed"}])
    if status == PENDING:
        assert result.applied is True and only_event(booking).title == "Renamed"
    else:
        assert result.change_request is not None
    # Cancelling is still allowed to bookers.
    booking_cancel_by_booker(booking_id=booking.pk, actor=booker())


def test_staff_create_refuses_an_event_that_already_belongs_to_a_booking(setup):
    held = setup.submit().events[0]  # another booker's tentative hold
    watch = Watch()
    with pytest.raises(ValidationFailed) as exc:
        booking_create(module=setup.module, actor=setup.staff, status=APPROVED, event_id=held.pk,
                       contact={"name": "Ada Lovelace", "email": BOOKER})
    assert [(e.field, e.code) for e in exc.value.errors] == [("eventId", "EVENT_ALREADY_BOOKED")]
    held.refresh_from_db()
    assert held.status == EventStatus.TENTATIVE
    assert watch.delta() == {}
