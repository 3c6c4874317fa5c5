"""Reminders before approved events (docs/architecture.md#emails): the booker gets one email `module.reminder_hours`
before each event of an approved booking.

Exactly once per start: `BookingEvent.reminded_for` records the start the reminder was sent for, and is
claimed with a conditional UPDATE in the same transaction that writes the reminder's Notification. Of
two sweeps running at once only one UPDATE matches; if writing the email fails, the claim rolls back
with it and the next sweep tries again. An event moved to another start no longer matches its
`reminded_for`, so the booker is reminded of the new time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

from django.db import transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from events.models import EventStatus
from resources.models import Resource

from .models import Booking, BookingEvent, BookingModule, BookingStatus
from .notify import notify_booker

logger = logging.getLogger(__name__)

REMINDER_KIND = "booking_reminder"


def _due_events(now: datetime) -> QuerySet[BookingEvent]:
    """Events of approved bookings, confirmed and in the future, starting within their module's
    reminder_hours, not yet reminded for this start."""
    configured = BookingModule.objects.filter(reminder_hours__gt=0).order_by().values_list("reminder_hours", flat=True)
    hours = {h for h in configured if h is not None}  # none is None (the filter leaves nulls out): for the type
    if not hours:
        return BookingEvent.objects.none()
    # One window per distinct setting (a handful): plain comparisons on `start` that use its index on
    # every database, rather than date arithmetic with a column.
    window = Q()
    for h in sorted(hours):
        window |= Q(booking__module__reminder_hours=h, start__lte=now + timedelta(hours=h))
    return (
        BookingEvent.objects.filter(
            window, start__gt=now, booking__status=BookingStatus.APPROVED, event__status=EventStatus.CONFIRMED
        )
        .exclude(reminded_for=F("start"))
        .order_by("start")
    )


def _remind(booking_event_id: UUID, booking_id: UUID, now: datetime) -> bool:
    """Claim and write one reminder; False when another sweep won or the booking changed meanwhile."""
    with transaction.atomic():
        # The booking's lock orders us with its lifecycle (cancel, change requests lock it too): what we
        # check below stays true until the reminder is written.
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("organization", "module__organization", "module__admin_user")
            .filter(pk=booking_id, status=BookingStatus.APPROVED)
            .first()
        )
        if booking is None or not booking.module.reminder_hours:
            return False
        be = (
            BookingEvent.objects.select_related("event")
            .prefetch_related(Prefetch("resources", queryset=Resource.objects.select_related("venue")))
            .filter(pk=booking_event_id, booking=booking)
            .first()
        )
        if (
            be is None
            or be.event is None
            or be.event.status != EventStatus.CONFIRMED
            or not now < be.start <= now + timedelta(hours=booking.module.reminder_hours)
        ):
            return False
        # The claim: only one of any number of concurrent sweeps changes the row (PostgreSQL re-checks
        # the condition after waiting for the winner's row lock; SQLite runs one writer at a time).
        claimed = (
            BookingEvent.objects.filter(pk=be.pk, start=be.start)
            .exclude(reminded_for=F("start"))
            .update(reminded_for=F("start"))
        )
        if not claimed:
            return False
        be.booking = booking
        notify_booker(booking, REMINDER_KIND, [be])
    return True


def reminders_send_due(*, now: datetime | None = None) -> int:
    """Write the reminder of every approved booking's event that is due; returns how many were written.

    Each is sent by the notification task after its transaction commits. Safe to run as often and as
    concurrently as you like (the sweeper runs it every pass)."""
    now = now or timezone.now()
    written = 0
    for be_id, booking_id in list(_due_events(now).values_list("pk", "booking_id")):
        try:
            written += _remind(be_id, booking_id, now)
        except Exception:
            # One broken booking must not stop everyone else's reminders; its claim rolled back, so the
            # next sweep tries it again.
            logger.exception("could not write the reminder of booking event %s", be_id)
    return written
