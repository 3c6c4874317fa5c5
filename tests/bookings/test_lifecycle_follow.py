"""A booking whose events staff delete on the calendar (bookings.lifecycle.follow, through events.hooks): an
approved booking left without a live event is canceled through the transition table, logged, its booker
emailed as for a cancellation (unless the caller says not to) and the organization's webhook told; any
other booking keeps its requested times, unlinked (docs/architecture.md#series)."""

from __future__ import annotations

import pytest

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_cancel
from bookings.lifecycle.follow import CANCELED_NOTE
from bookings.lifecycle.submit import booking_create
from bookings.models import (
    Booking,
    BookingChangeRequest,
    BookingEvent,
    BookingLog,
    BookingStatus,
    ChangeRequestDecision,
)
from core.actor import Actor
from events.models import Event, EventStatus
from events.series import WhichEvents
from events.services.occurrences import occurrences_delete, occurrences_update
from notifications.models import Notification
from notifications.rendering import notification_bodies
from notifications.services import NotificationSpec
from tests.conftest import future
from tests.factories import EventSeriesFactory, WebhookEndpointFactory
from tests.series import RULE, make_booked_series, weekly_times
from webhooks.models import WebhookDelivery

S = BookingStatus
W = WhichEvents


def _booked(setup, status: int, count: int = 4) -> tuple[Booking, list[Event]]:
    """A booking of `count` weekly times whose events (holds for a pending one) form one series."""
    if status == S.APPROVED:
        booking, _, events = make_booked_series(setup, count=count)
        return booking, events
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=S.PENDING,
        contact={"name": "Ada Lovelace", "email": "ada@example.com"},
        events=[
            {"title": "Weekly sync", "start": s.isoformat(), "end": e.isoformat(), "resourceIds": [str(setup.room.pk)]}
            for s, e in weekly_times(count)
        ],
    )
    series = EventSeriesFactory(organization=setup.org, timezone="Europe/London", rule=RULE)
    Event.objects.filter(pk__in=[e.pk for e in result.events]).update(series=series)
    booking = result.booking
    if status == S.CANCELED:
        booking = _approved_then_canceled(setup, booking)
    return booking, list(Event.objects.filter(series=series).order_by("start"))


def _approved_then_canceled(setup, booking: Booking) -> Booking:
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    booking_cancel(booking_id=booking.pk, actor=setup.staff, event_procedure=0)
    return Booking.objects.get(pk=booking.pk)


def _kinds() -> list[str]:
    return list(Notification.objects.order_by("created_at").values_list("kind", flat=True))


# The state × action table: the booking's status, which occurrence is addressed with which scope (after
# canceling some first), and what the booking becomes.
CASES = [
    # (id, status, canceled first, addressed, scope, the booking after)
    ("approved-delete-all", S.APPROVED, [], 0, W.DELETE_ALL, S.CANCELED),
    ("approved-delete-all-from-a-later-one", S.APPROVED, [], 2, W.DELETE_ALL, S.CANCELED),
    ("approved-this-and-after-from-the-first", S.APPROVED, [], 0, W.DELETE_THIS_AND_AFTER, S.CANCELED),
    ("approved-this-and-after-from-the-third", S.APPROVED, [], 2, W.DELETE_THIS_AND_AFTER, S.APPROVED),
    ("approved-one", S.APPROVED, [], 1, W.THIS, S.APPROVED),
    ("approved-the-rest-already-canceled", S.APPROVED, [0, 1], 2, W.DELETE_THIS_AND_AFTER, S.CANCELED),
    ("approved-one-left-canceled-one-live", S.APPROVED, [0], 2, W.DELETE_THIS_AND_AFTER, S.APPROVED),
    ("pending-holds-delete-all", S.PENDING, [], 0, W.DELETE_ALL, S.PENDING),
    ("canceled-delete-all", S.CANCELED, [], 0, W.DELETE_ALL, S.CANCELED),
]


@pytest.mark.parametrize(
    ("status", "canceled_first", "addressed", "which", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_what_a_deletion_leaves_of_the_booking(setup, status, canceled_first, addressed, which, after):
    WebhookEndpointFactory(organization=setup.org)
    booking, events = _booked(setup, status)
    for i in canceled_first:
        occurrences_update(event=events[i], status=EventStatus.CANCELED, actor=setup.manager)
    kinds, webhooks = _kinds(), WebhookDelivery.objects.count()
    stamp = Booking.objects.get(pk=booking.pk).updated_at

    occurrences_delete(event=events[addressed], which=which, actor=setup.manager)

    booking.refresh_from_db()
    assert booking.status == after
    assert booking.updated_at > stamp
    assert BookingEvent.objects.filter(booking=booking).count() == 4  # the requested times stay, unlinked
    log = BookingLog.objects.filter(booking=booking).order_by("created_at").last()
    assert log.action == "events_deleted" and log.actor_user == setup.manager
    new_kinds = _kinds()[len(kinds) :]
    new_hooks = list(WebhookDelivery.objects.order_by("created_at").values_list("event_type", flat=True)[webhooks:])
    if after == S.CANCELED and status == S.APPROVED:
        assert (log.before["status"], log.after["status"]) == (S.APPROVED, S.CANCELED)
        assert log.note.endswith(CANCELED_NOTE)
        assert new_kinds == ["booking_canceled"]
        assert "booking.canceled" in new_hooks
    else:
        assert "status" not in log.after and CANCELED_NOTE not in log.note
        assert new_kinds == []
        assert "booking.canceled" not in new_hooks


def test_a_single_event_booking_whose_event_is_deleted_is_canceled(setup):
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=S.APPROVED,
        contact={"name": "Ada Lovelace", "email": "ada@example.com"},
        events=[setup.event()],
        single_event=True,
    )
    occurrences_delete(event=result.events[0], actor=setup.manager)
    assert Booking.objects.get(pk=result.booking.pk).status == S.CANCELED
    assert _kinds() == ["booking_canceled"]


def test_the_booker_is_not_emailed_when_the_caller_says_so(setup):
    booking, events = _booked(setup, S.APPROVED)
    occurrences_delete(
        event=events[0], which=W.DELETE_ALL, actor=setup.manager, notification=NotificationSpec(send=False)
    )
    assert Booking.objects.get(pk=booking.pk).status == S.CANCELED
    assert _kinds() == []


def test_the_cancellation_email_carries_staffs_message_and_the_times(setup):
    booking, events = _booked(setup, S.APPROVED)
    spec = NotificationSpec(subject="Your series is off", message="<p>The hall is closing.</p>")
    occurrences_delete(event=events[0], which=W.DELETE_ALL, actor=setup.manager, notification=spec)
    notification = Notification.objects.get()
    text = notification_bodies(notification).body_text
    assert notification.recipients == ["ada@example.com"] and notification.subject == "Your series is off"
    assert "The hall is closing." in text and "Weekly sync" in text


def test_an_open_change_request_is_withdrawn(setup):
    booking, events = _booked(setup, S.APPROVED)
    change_request_submit(booking_id=booking.pk, actor=Actor.booker("ada@example.com"), cancellation=True)
    occurrences_delete(event=events[0], which=W.DELETE_ALL, actor=setup.manager)
    assert BookingChangeRequest.objects.get(booking=booking).decision == ChangeRequestDecision.WITHDRAWN
    assert not BookingChangeRequest.open.filter(booking=booking).exists()


def test_each_of_two_bookings_in_one_deletion_is_decided_on_its_own(setup):
    """A series deletion that takes all of one booking's events and some of another's."""
    first, events = _booked(setup, S.APPROVED, count=2)
    other = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=S.APPROVED,
        contact={"name": "Bob", "email": "bob@example.com"},
        events=[
            setup.event(future(3), resources=[setup.hall]),
            setup.event(future(4), resources=[setup.hall], title="Later"),
        ],
    )
    Event.objects.filter(pk=other.events[0].pk).update(series=events[0].series)
    occurrences_delete(event=events[0], which=W.DELETE_ALL, actor=setup.manager)
    assert Booking.objects.get(pk=first.pk).status == S.CANCELED
    assert Booking.objects.get(pk=other.booking.pk).status == S.APPROVED  # its "Later" event is left
    assert Notification.objects.get().recipients == ["ada@example.com"]
