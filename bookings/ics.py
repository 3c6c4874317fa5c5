"""The approved booking's calendar file as a snapshot, for the booker's confirmation email and the visitors'
invitations; the worker writes the file from it (notifications.rendering.calendar_ics).

One VEVENT per booking event. Its UID is derived from the BookingEvent's id, so if the booker imports a
later copy (for instance after a change request moved a time, or from their calendar feed, feeds.ics)
their calendar updates the same entry instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from .models import Booking, BookingEvent


def booking_event_uid(booking_event: BookingEvent) -> str:
    return f"{booking_event.pk}@allot"


def _location(booking_event: BookingEvent) -> str:
    resources = list(booking_event.resources.all())
    venues = list(dict.fromkeys(r.venue for r in resources))
    parts = [", ".join(r.name for r in resources)]
    for venue in venues:
        # An address is typed on several lines; LOCATION is one line in most clients.
        address = ", ".join(line.strip() for line in venue.address.splitlines() if line.strip())
        parts.append(f"{venue.name}, {address}" if address else venue.name)
    return " · ".join(p for p in parts if p)


def _description(booking: Booking) -> str:
    # Never the booker's private link: the attachment is not redacted after sending like the bodies
    # are, and a calendar entry gets shared and synced far more widely than an email.
    lines = [f"{booking.title} — booked with {booking.organization.name}."]
    admin = booking.module.admin_user
    if admin and admin.email:
        lines.append(f"Questions? Write to {admin.email}")
    return "\n".join(lines)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def booking_calendar_snapshot(
    booking: Booking, booking_events: Sequence[BookingEvent], *, now: datetime | None = None
) -> dict[str, Any]:
    """What the file says, as JSON: DTSTAMP (`stamp`, now: when the email is written), the description, and
    per booking event its UID, UTC times, title and location."""
    return {
        "stamp": _utc(now or timezone.now()),
        "description": _description(booking),
        "events": [
            {
                "uid": booking_event_uid(be),
                "start": _utc(be.start),
                "end": _utc(be.end),
                "summary": be.title,
                "location": _location(be),
            }
            for be in booking_events
        ],
    }
