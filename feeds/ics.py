"""iCalendar (RFC 5545) files: an organization's or a resource's feed, and a booker's own events.

Times are written in UTC (every client converts them to the reader's zone; no VTIMEZONE to keep in step
with the tz database). UIDs never change: `<event id>@allot` in feeds, and in the booker's file the
booking event's UID that bookings.ics already put in their confirmation email, so importing a later copy
updates the entry instead of adding a second one. SEQUENCE grows with every change (seconds from the
item's creation to its last change), so clients that insist on it accept the update.

Feeds carry no booker data: a feed URL gets pasted into shared calendars, so an event shows its own
title and description (what staff see on the calendar) and where it is, never who asked for it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from icalendar import Calendar, vDuration
from icalendar import Event as VEvent

from bookings.ics import booking_event_uid
from bookings.models import Booking, BookingEvent, BookingStatus
from core.html import plain_text
from events.models import EventStatus

from .models import CalendarFeed
from .selectors import FeedEvent, Place, booking_event_status

FEED_PRODID = "-//Allot//Calendar feed//EN"
BOOKER_PRODID = "-//Allot//Bookings//EN"  # as bookings.ics: the same file, a later copy of it
# How often subscribers should fetch the feed again (RFC 7986 REFRESH-INTERVAL, and Outlook's own name).
REFRESH = timedelta(hours=1)

ICS_STATUS = {EventStatus.CONFIRMED: "CONFIRMED", EventStatus.TENTATIVE: "TENTATIVE", EventStatus.CANCELED: "CANCELLED"}


def event_uid(event_id) -> str:
    return f"{event_id}@allot"


def sequence(created_at: datetime, last_modified: datetime) -> int:
    """A SEQUENCE that never goes down: whole seconds between creation and the last change (0 for an
    untouched item; 32 bits last 68 years)."""
    return max(0, int((last_modified - created_at).total_seconds()))


def location(places: Iterable[Place]) -> str:
    """ "Room, Hall · Main building, 1 High Street": the resources, then each venue once (an address typed
    on several lines becomes one, as LOCATION is one line in most clients)."""
    places = list(places)
    parts = [", ".join(dict.fromkeys(p.resource for p in places))]
    for venue, address in dict.fromkeys((p.venue, p.address) for p in places):
        address = ", ".join(line.strip() for line in address.splitlines() if line.strip())
        parts.append(f"{venue}, {address}" if address else venue)
    return " · ".join(p for p in parts if p)


_BREAKS = re.compile(r"<br\s*/?>|</(p|li|h3|h4|blockquote)>", re.IGNORECASE)


def description_text(value: str) -> str:
    """The event's sanitized HTML description as plain text, paragraphs on their own lines."""
    if not value:
        return ""
    text = html.unescape(plain_text(_BREAKS.sub("\n", value)))
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _vevent(
    *,
    uid: str,
    title: str,
    start: datetime,
    end: datetime,
    status: int,
    created_at: datetime,
    last_modified: datetime,
    stamp: datetime,
    place: str,
    description: str,
) -> VEvent:
    vevent = VEvent()
    vevent.add("uid", uid)
    vevent.add("dtstamp", _utc(stamp))
    vevent.add("created", _utc(created_at))
    vevent.add("last-modified", _utc(last_modified))
    vevent.add("sequence", sequence(created_at, last_modified))
    vevent.add("dtstart", _utc(start))
    vevent.add("dtend", _utc(end))
    vevent.add("summary", title)
    if place:
        vevent.add("location", place)
    if description:
        vevent.add("description", description)
    vevent.add("status", ICS_STATUS[EventStatus(status)])
    # A canceled event no longer makes anyone busy.
    vevent.add("transp", "TRANSPARENT" if status == EventStatus.CANCELED else "OPAQUE")
    return vevent


def _calendar(*, prodid: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", prodid)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    return calendar


def feed_calendar(feed: CalendarFeed, events: Sequence[FeedEvent]) -> Calendar:
    """The feed as a calendar. No METHOD: a subscription is a published snapshot, not an iTIP message, and
    without METHOD each DTSTAMP is the event's last change (RFC 5545 3.8.7.2), so the file only changes
    when an event does (and its ETag with it)."""
    tz_name = feed.resource.venue.timezone if feed.resource is not None else ""
    calendar = _calendar(prodid=FEED_PRODID)
    calendar.add("name", feed.name)  # RFC 7986
    calendar.add("x-wr-calname", feed.name)  # what Apple, Google and Outlook read
    calendar.add("x-wr-timezone", tz_name or feed.organization.timezone)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    for e in events:
        calendar.add_component(
            _vevent(
                uid=event_uid(e.id),
                title=e.title,
                start=e.start,
                end=e.end,
                status=e.status,
                created_at=e.created_at,
                last_modified=e.last_modified,
                stamp=e.last_modified,
                place=location(e.places),
                description=description_text(e.description),
            )
        )
    return calendar


def feed_ics(feed: CalendarFeed, events: Sequence[FeedEvent]) -> bytes:
    return feed_calendar(feed, events).to_ical()


# --- the booker's events ------------------------------------------------------------------------------


def _booker_description(booking: Booking) -> str:
    # Never the private link: a calendar entry gets shared and synced far more widely than an email.
    if booking.status == BookingStatus.PENDING:
        lines = [f"{booking.title} — requested from {booking.organization.name}, not confirmed yet."]
    elif booking.status == BookingStatus.APPROVED:
        lines = [f"{booking.title} — booked with {booking.organization.name}."]
    elif booking.status == BookingStatus.DENIED:
        lines = [f"{booking.title} — not confirmed by {booking.organization.name}."]
    else:
        lines = [f"{booking.title} — canceled."]
    admin = booking.module.admin_user
    if admin and admin.email:
        lines.append(f"Questions? Write to {admin.email}")
    return "\n".join(lines)


def _booking_event_places(booking_event: BookingEvent) -> list[Place]:
    event = booking_event.event
    if event is not None:
        resources = [r.resource for r in event.reservations.all()]
    else:
        resources = list(booking_event.resources.all())
    return [Place(resource=r.name, venue=r.venue.name, address=r.venue.address) for r in resources]


def booker_calendar(
    booking: Booking, booking_events: Sequence[BookingEvent], *, now: datetime | None = None
) -> Calendar:
    """The booker's requested events: the Event's title, times and resources once there is one (staff may
    have changed them when approving), the request as sent before. Statuses follow the booking
    (selectors.booking_event_status), so a denied or canceled request disappears from their calendar."""
    stamp = now or timezone.now()
    # No calendar name: like the email's attachment (bookings.ics), the file's events go into the booker's
    # own calendar rather than a new one. PUBLISH, as there: this file tells the booker's calendar what is
    # planned; it is not an invitation expecting a reply.
    calendar = _calendar(prodid=BOOKER_PRODID)
    calendar.add("method", "PUBLISH")
    description = _booker_description(booking)
    for be in booking_events:
        source = be.event or be
        changed = max(booking.updated_at, be.updated_at, *([be.event.updated_at] if be.event else []))
        calendar.add_component(
            _vevent(
                uid=booking_event_uid(be),
                title=source.title,
                start=source.start,
                end=source.end,
                status=booking_event_status(booking, be),
                created_at=be.created_at,
                last_modified=changed,
                stamp=stamp,
                place=location(_booking_event_places(be)),
                description=description,
            )
        )
    return calendar


def booker_ics(booking: Booking, booking_events: Sequence[BookingEvent], *, now: datetime | None = None) -> bytes:
    return booker_calendar(booking, booking_events, now=now).to_ical()
