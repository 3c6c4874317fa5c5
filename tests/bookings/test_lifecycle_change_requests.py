"""The booking lifecycle services (docs/architecture.md#booking-lifecycle): every row of the table, every refused
transition, staleness, rollback, the audit log and the booker's permissions.

Bookings are driven through the real services only (submit, approve, deny, ...), so each test sees the
same rows the admin, the API and the public pages would.

This module: the table's rows for change requests submitted, approved and denied."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookings.lifecycle.change_requests import (
    booking_cancel_by_booker,
    change_request_approve,
    change_request_deny,
    change_request_submit,
)
from bookings.lifecycle.transitions import EventProcedure
from bookings.models import Booking, BookingChangeRequest, ChangeRequestDecision
from core.errors import BookingConflict, ValidationFailed
from events.models import Event, EventStatus, Reservation
from notifications.services import NotificationSpec
from tests.bookings.lifecycle_helpers import (
    ADMIN,
    APPROVED,
    BOOKER,
    CANCELED,
    PENDING,
    Watch,
    booker,
    fresh,
    make_booking,
    only_event,
    request_move,
    resource_ids,
)
from tests.conftest import future

# --- table: change request submitted -------------------------------------------------------


def test_change_request_on_a_pending_booking_is_applied_directly_and_moves_the_hold(setup):
    booking = make_booking(setup, days=7, hour=10)
    held = only_event(booking).event
    read_at = fresh(booking)
    new_start = future(7, 14)
    watch = Watch()

    result = change_request_submit(
        booking_id=booking.pk,
        actor=booker(),
        contact={"phone": "+44 20 7946 0000"},
        events=[{"start": new_start.isoformat(), "end": (new_start + timedelta(hours=2)).isoformat()}],
    )

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
        change_request_submit(
            booking_id=booking.pk,
            actor=booker(),
            events=[{"start": future(7, 14).isoformat(), "end": future(7, 15).isoformat()}],
        )
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

    result = change_request_submit(
        booking_id=booking.pk,
        actor=booker(),
        request_note="Later <i>please</i>",
        events=[
            {
                "start": new_start.isoformat(),
                "end": (new_start + timedelta(hours=1)).isoformat(),
                "title": "Team meeting",
            }
        ],
    )

    request = result.change_request
    assert request is not None and result.applied is False
    request.refresh_from_db()
    assert request.cancellation is False
    # Only what differs is recorded (the title did not change).
    assert request.event_changes == [
        {
            "bookingEventId": str(be.pk),
            "start": new_start.isoformat(),
            "end": (new_start + timedelta(hours=1)).isoformat(),
        }
    ]
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


def test_change_request_approved_applies_the_changes_to_booking_and_events(setup):
    booking = make_booking(setup, APPROVED, days=7, hour=10)
    event = only_event(booking).event
    request = change_request_submit(
        booking_id=booking.pk,
        actor=booker(),
        contact={"phone": "+44 20 7946 0000"},
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
    assert (event.title, event.start, event.end, event.status) == (
        "Moved",
        future(8, 14),
        future(8, 15),
        EventStatus.CONFIRMED,
    )
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

    change_request_approve(
        change_request_id=request.pk,
        actor=setup.staff,
        event_edits=[{"end": future(8, 16).isoformat(), "resourceIds": [str(setup.hall.pk)]}],
    )

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
