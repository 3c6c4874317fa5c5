"""The helpers of the booking lifecycle tests (tests/bookings/test_lifecycle_*.py): statuses, a fresh read,
a booking made through the services, counts of rows, a check of a refused call, and the staff create and
the change request that several modules drive."""

from __future__ import annotations

from datetime import timedelta

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny
from bookings.lifecycle.submit import booking_create
from bookings.lifecycle.transitions import BookingResult
from bookings.models import Booking, BookingChangeRequest, BookingEvent, BookingLog, BookingStatus
from core.actor import Actor
from events.models import Event, Reservation
from notifications.models import Notification
from tests.conftest import Setup, future

PENDING, APPROVED, DENIED, CANCELED = (
    BookingStatus.PENDING,
    BookingStatus.APPROVED,
    BookingStatus.DENIED,
    BookingStatus.CANCELED,
)
ALL_STATUSES = [PENDING, APPROVED, DENIED, CANCELED]
BOOKER = "ada@example.com"
ADMIN = "admin@example.org"


# --- helpers -----------------------------------------------------------------------------------------


def fresh(booking: Booking):
    """The booking's lastUpdatedAt as a client reading it now would see it."""
    return Booking.objects.values_list("updated_at", flat=True).get(pk=booking.pk)


def booker(booking: Booking | None = None) -> Actor:
    return Actor.booker(booking.booker_email if booking else BOOKER)


def make_booking(
    setup: Setup, status: int = PENDING, *, days: int = 7, hour: int = 10, resources=None, email: str = BOOKER
) -> Booking:
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


def staff_create(setup: Setup, status: int, **kwargs) -> BookingResult:
    kwargs.setdefault("events", [setup.event(start=future(9, 10))])
    return booking_create(
        module=setup.module,
        actor=setup.staff,
        status=status,
        contact={"name": "Ada Lovelace", "email": BOOKER},
        portal=setup.portal,
        single_event=True,
        **kwargs,
    )


def request_move(booking: Booking, days: int, hour: int, **extra) -> BookingChangeRequest:
    start = future(days, hour)
    return change_request_submit(
        booking_id=booking.pk,
        actor=booker(booking),
        events=[{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), **extra}],
    ).change_request
