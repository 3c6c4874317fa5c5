"""Every email kind, as the provider receives it, compared byte for byte with its golden file
(tests/golden.py says where the files come from and how to regenerate them).

Each case writes its notifications through bookings.notify (what the services call) in a fixed world, then
has the worker send them; the captured message (recipients, subject, text body, HTML body, attachments)
must equal the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.core import mail

from bookings.lifecycle.requested_times import load_booking_events
from bookings.models import BookingStatus
from bookings.notify import SUBJECTS, notify_admin, notify_booker, notify_visitors
from events.series import WHICH_EVENTS, WhichEvents
from notifications.models import Notification
from notifications.sending import notification_send
from notifications.services import NotificationSpec
from resources.models import Role
from tests.factories import (
    BookingChangeRequestFactory,
    BookingVisitorFactory,
    MembershipFactory,
    WebhookEndpointFactory,
)
from tests.golden import World, at, booking_with_events, build_world, check_golden, frozen_world
from webhooks.delivery import Outcome, _notify_disabled

GOLDEN = Path(__file__).parent / "golden"
TOKEN = "Tok3n_private_link_abcdefghijklmnop"
STAFF = NotificationSpec(
    subject="About your booking",
    message='<p>See <a href="https://example.com/map">the map</a> &amp; bring <b>ID</b>.</p><ul><li>one</li></ul>',
)
NOTE = "<p>Please <b>open</b> early &amp; <a href='https://example.com/plan'>see plan</a></p>"


def message_text(message) -> str:
    """One email as a stable text file: headers we set, both bodies, each attachment."""
    parts = [f"To: {', '.join(message.to)}", f"Subject: {message.subject}", "", "--- text/plain ---", message.body]
    for content, mimetype in message.alternatives:
        parts += [f"--- {mimetype} ---", content]
    for filename, content, mimetype in message.attachments:
        shown = content if isinstance(content, str) else content.decode()
        parts += [f"--- attachment {filename} ({mimetype}) ---", shown]
    return "\n".join(parts)


def send_all() -> list:
    """The worker's path: each row sent in the order it was written (the ids count up)."""
    mail.outbox.clear()
    for pk in Notification.objects.order_by("pk").values_list("pk", flat=True):
        assert notification_send(notification_id=pk) == "sent"
    return list(mail.outbox)


def _pending(world: World, *, status=BookingStatus.PENDING):
    booking, _ = booking_with_events(world, status=status)
    return booking, load_booking_events(booking)


def case_received(world: World) -> None:
    booking, events = _pending(world)
    notify_booker(booking, "booking_received", events, access_token=TOKEN)
    notify_admin(booking, "admin_new_request", events, note=booking.request_note)


def case_received_staff_message(world: World) -> None:
    booking, events = _pending(world)
    notify_booker(booking, "booking_received", events, spec=STAFF, access_token=TOKEN)


def case_approved(world: World) -> None:
    booking, events = _pending(world, status=BookingStatus.APPROVED)
    notify_booker(booking, "booking_approved", events, access_token=TOKEN)
    notify_admin(booking, "admin_booking_auto_approved", events, note=booking.request_note)


def case_approved_staff_message_no_link(world: World) -> None:
    booking, events = _pending(world, status=BookingStatus.APPROVED)
    notify_booker(booking, "booking_approved", events, spec=STAFF)


def case_approved_no_manage(world: World) -> None:
    world.module.allow_change_requests = False
    world.module.allow_cancellation = False
    world.module.save()
    booking, events = _pending(world, status=BookingStatus.APPROVED)
    notify_booker(booking, "booking_approved", events)


def case_denied(world: World) -> None:
    booking, events = _pending(world, status=BookingStatus.DENIED)
    notify_booker(booking, "booking_denied", events, spec=NotificationSpec(message="<p>Sorry.</p>"))


def case_canceled(world: World) -> None:
    booking, events = _pending(world, status=BookingStatus.CANCELED)
    notify_booker(booking, "booking_canceled", events)
    notify_admin(booking, "admin_booker_canceled", events)


def case_changed_while_pending(world: World) -> None:
    booking, events = _pending(world)
    notify_admin(booking, "admin_booking_changed", events)


def _change_request(world: World, booking, events, **kwargs):
    return BookingChangeRequestFactory(booking=booking, **kwargs)


def case_change_request(world: World) -> None:
    booking, events = _pending(world, status=BookingStatus.APPROVED)
    change_request = _change_request(
        world,
        booking,
        events,
        contact_changes={"name": "Ada King", str(world.field.pk): "Physics", "newsletter": True, "tags": ["a", "b"]},
        event_changes=[
            {
                "bookingEventId": str(events[0].pk),
                "start": at(11, 10).isoformat(),
                "end": at(11, 12).isoformat(),
                "resourceIds": [str(world.hall.pk), str(world.studio.pk)],
            },
            {"bookingEventId": str(events[1].pk), "title": "Supper", WHICH_EVENTS: int(WhichEvents.THIS_AND_FUTURE)},
        ],
        request_note=NOTE,
    )
    notify_booker(booking, "change_request_received", events, change_request=change_request)
    notify_admin(booking, "admin_new_change_request", events, change_request=change_request, note=NOTE)
    notify_booker(booking, "change_request_approved", events, spec=STAFF, change_request=change_request)
    notify_booker(booking, "change_request_denied", events, change_request=change_request)


def case_change_request_series_all(world: World) -> None:
    booking, events = _pending(world, status=BookingStatus.APPROVED)
    change_request = _change_request(
        world,
        booking,
        events,
        event_changes=[{"bookingEventId": str(events[0].pk), "title": "Talk 2", WHICH_EVENTS: int(WhichEvents.ALL)}],
    )
    notify_booker(booking, "change_request_received", events, change_request=change_request)


def case_cancellation_request(world: World) -> None:
    booking, events = _pending(world, status=BookingStatus.APPROVED)
    change_request = _change_request(world, booking, events, cancellation=True, request_note="")
    notify_booker(booking, "change_request_received", events, change_request=change_request)
    notify_admin(booking, "admin_new_change_request", events, change_request=change_request)
    notify_booker(booking, "change_request_approved", events, change_request=change_request)
    notify_booker(booking, "change_request_denied", events, change_request=change_request)


def case_reminder(world: World) -> None:
    booking, events = _pending(world, status=BookingStatus.APPROVED)
    notify_booker(booking, "booking_reminder", events[:1])


def case_visitors(world: World) -> None:
    booking, events = _pending(world, status=BookingStatus.APPROVED)
    BookingVisitorFactory(booking=booking, name="Grace <Hopper>", email="grace@example.com")
    BookingVisitorFactory(booking=booking, name="Alan", email="alan@example.com")
    notify_visitors(booking, events)


def case_webhook_endpoint_disabled(world: World) -> None:
    MembershipFactory(user=world.admin, organization=world.org, role=Role.OWNER)
    endpoint = WebhookEndpointFactory(
        organization=world.org, url="https://hooks.example.com/a?b=1&c=2", description="CRM <sync>"
    )
    endpoint.consecutive_failures = 5
    _notify_disabled(endpoint, Outcome(status=500, error="", duration_ms=3))


CASES: dict[str, Callable[[World], None]] = {
    name.removeprefix("case_"): fn for name, fn in globals().items() if name.startswith("case_")
}
# The emails each case writes, in order: test_golden holds every case to its list, so a case dropped or
# changed cannot leave a kind without its golden test.
CASE_KINDS: dict[str, list[str]] = {
    "received": ["booking_received", "admin_new_request"],
    "received_staff_message": ["booking_received"],
    "approved": ["booking_approved", "admin_booking_auto_approved"],
    "approved_staff_message_no_link": ["booking_approved"],
    "approved_no_manage": ["booking_approved"],
    "denied": ["booking_denied"],
    "canceled": ["booking_canceled", "admin_booker_canceled"],
    "changed_while_pending": ["admin_booking_changed"],
    "change_request": [
        "change_request_received",
        "admin_new_change_request",
        "change_request_approved",
        "change_request_denied",
    ],
    "change_request_series_all": ["change_request_received"],
    "cancellation_request": [
        "change_request_received",
        "admin_new_change_request",
        "change_request_approved",
        "change_request_denied",
    ],
    "reminder": ["booking_reminder"],
    "visitors": ["visitor_invitation", "visitor_invitation"],
    "webhook_endpoint_disabled": ["webhook_endpoint_disabled"],
}


def test_every_kind_has_a_case():
    """Each kind of bookings.notify.SUBJECTS (and the endpoint-disabled email) is written by some case, and
    every case has its list."""
    assert set(CASE_KINDS) == set(CASES)
    assert set(SUBJECTS) | {"webhook_endpoint_disabled"} <= {kind for kinds in CASE_KINDS.values() for kind in kinds}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(db, case):
    with frozen_world():
        world = build_world()
        CASES[case](world)
        kinds = list(Notification.objects.order_by("pk").values_list("kind", flat=True))
        messages = send_all()
    assert kinds == CASE_KINDS[case]
    for index, (kind, message) in enumerate(zip(kinds, messages, strict=True)):
        check_golden(GOLDEN / f"{case}-{index}.{kind}.txt", message_text(message))
