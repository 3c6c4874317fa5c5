"""The approved booking as an iCalendar file (RFC 5545), attached to the booker's confirmation email.

One VEVENT per booking event. Its UID is derived from the BookingEvent's id, so if the booker imports a
later copy (for instance after a change request moved a time) their calendar updates the same entry
instead of adding a second one. Times are written in UTC: every calendar client converts them to the
reader's zone, and no VTIMEZONE block has to be kept in step with the tz database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as VEvent

from .models import Booking, BookingEvent

PRODID = "-//Allot//Bookings//EN"
ICS_FILENAME = "booking.ics"
ICS_MIMETYPE = "text/calendar"


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


def booking_calendar(
    booking: Booking, booking_events: Sequence[BookingEvent], *, now: datetime | None = None
) -> Calendar:
    stamp = (now or timezone.now()).astimezone(UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    # PUBLISH, not REQUEST: REQUEST is an iTIP invitation that expects an ORGANIZER and a reply from
    # the attendee; this file only tells the booker's calendar what was confirmed.
    calendar.add("method", "PUBLISH")
    description = _description(booking)
    for be in booking_events:
        vevent = VEvent()
        vevent.add("uid", booking_event_uid(be))
        vevent.add("dtstamp", stamp)
        vevent.add("dtstart", be.start.astimezone(UTC))
        vevent.add("dtend", be.end.astimezone(UTC))
        vevent.add("summary", be.title)
        location = _location(be)
        if location:
            vevent.add("location", location)
        vevent.add("description", description)
        vevent.add("status", "CONFIRMED")
        calendar.add_component(vevent)
    return calendar


def booking_ics(booking: Booking, booking_events: Sequence[BookingEvent], *, now: datetime | None = None) -> str:
    return booking_calendar(booking, booking_events, now=now).to_ical().decode()


def booking_ics_attachment(booking: Booking, booking_events: Sequence[BookingEvent]) -> dict[str, str]:
    """In the shape of Notification.attachments: text content, so the row stays plain JSON."""
    return {"filename": ICS_FILENAME, "mimetype": ICS_MIMETYPE, "content": booking_ics(booking, booking_events)}
