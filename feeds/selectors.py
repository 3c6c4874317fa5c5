"""Reads for calendar feeds: the feed behind a token, the events a feed shows, and a booker's events.

A feed is read in three queries whatever the number of events: the feed (with its organization and
resource), the events, and their reservations with resource and venue names.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Prefetch, Q
from django.utils import timezone

from bookings.models import Booking, BookingEvent, BookingStatus
from core.errors import NotFound
from events.models import Event, EventStatus, Reservation
from resources.models import Resource

from .models import CalendarFeed

# What a feed covers, around the moment it is read: enough history for "when was that?", and the
# bookable future. Events overlapping the window are shown.
FEED_PAST = timedelta(days=90)
FEED_FUTURE = timedelta(days=2 * 365)
# A canceled event stays in the feed (STATUS:CANCELLED, so subscribers drop it at once) for this long
# after it was canceled; after that it is left out, which subscribers treat the same way (a feed is a
# whole snapshot), without old cancellations piling up in the file.
CANCELED_KEPT_FOR = timedelta(days=30)

# Tokens are 43 characters (secrets.token_urlsafe(32)); anything much longer is not one of ours.
_MAX_TOKEN_LENGTH = 64


def feed_by_token(token: Any) -> CalendarFeed:
    """The active feed with this token; a revoked or unknown token is NotFound, without telling which."""
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
        raise NotFound()
    try:
        return CalendarFeed.objects.active().select_related("organization", "resource__venue").get(token=token)
    except CalendarFeed.DoesNotExist as exc:
        raise NotFound() from exc


@dataclass(frozen=True)
class Place:
    """One resource an event occupies, for LOCATION."""

    resource: str
    venue: str
    address: str


@dataclass(frozen=True)
class FeedEvent:
    """An event as a feed shows it (no booker data: the event's own title and description only)."""

    id: UUID
    title: str
    description: str
    start: datetime
    end: datetime
    status: int
    created_at: datetime
    last_modified: datetime
    places: list[Place]


def feed_statuses(feed: CalendarFeed) -> list[EventStatus]:
    """The live statuses the feed shows; CANCELED events are added separately (recent ones only)."""
    statuses = [EventStatus.CONFIRMED]
    if feed.include_tentative:
        statuses.append(EventStatus.TENTATIVE)
    return statuses


def feed_events(feed: CalendarFeed, *, now: datetime | None = None) -> list[FeedEvent]:
    """The feed's events overlapping [now - FEED_PAST, now + FEED_FUTURE), by start: the live ones the
    feed shows and those canceled within CANCELED_KEPT_FOR. Two queries, whatever their number."""
    now = now or timezone.now()
    events = Event.objects.filter(
        organization_id=feed.organization_id,
        start__lt=now + FEED_FUTURE,
        end__gt=now - FEED_PAST,
    ).filter(
        Q(status__in=feed_statuses(feed)) | Q(status=EventStatus.CANCELED, updated_at__gte=now - CANCELED_KEPT_FOR)
    )
    if feed.resource_id is not None:
        # Canceled events keep their (inactive) reservations, so they are found here too.
        events = events.filter(reservations__resource_id=feed.resource_id)
    rows = list(
        events.order_by("start", "end", "pk").values(
            "id", "title", "description", "start", "end", "status", "created_at", "updated_at"
        )
    )

    places: dict[UUID, list[Place]] = defaultdict(list)
    changed: dict[UUID, datetime] = {}
    # A subquery rather than a list of ids: a big organization's two years can exceed the database's
    # limit on query parameters.
    for event_id, resource, venue, address, updated_at in (
        Reservation.objects.filter(event__in=events.values("pk"))
        .order_by("created_at", "resource__name", "resource_id")
        .values_list("event_id", "resource__name", "resource__venue__name", "resource__venue__address", "updated_at")
    ):
        places[event_id].append(Place(resource=resource, venue=venue, address=address))
        changed[event_id] = max(updated_at, changed.get(event_id, updated_at))

    return [
        FeedEvent(
            id=r["id"],
            title=r["title"],
            description=r["description"],
            start=r["start"],
            end=r["end"],
            status=r["status"],
            created_at=r["created_at"],
            # Moving an event to other resources rewrites its reservations: that is a change too.
            last_modified=max(r["updated_at"], changed.get(r["id"], r["updated_at"])),
            places=places.get(r["id"], []),
        )
        for r in rows
    ]


# --- the booker's own events (their private page) --------------------------------------------------


def booker_events(booking: Booking) -> list[BookingEvent]:
    """The booking's requested events, each with its resources (and venues) and its Event with that
    Event's reservations: four queries whatever their number."""
    return list(
        BookingEvent.objects.filter(booking=booking)
        .select_related("event")
        .order_by("order", "start", "pk")
        .prefetch_related(
            Prefetch("resources", queryset=Resource.objects.select_related("venue").order_by("name", "pk")),
            Prefetch(
                "event__reservations",
                queryset=Reservation.objects.select_related("resource__venue").order_by(
                    "created_at", "resource__name", "resource_id"
                ),
            ),
        )
    )


BOOKING_STATUS_SHOWN: dict[int, int] = {
    BookingStatus.PENDING: EventStatus.TENTATIVE,
    BookingStatus.DENIED: EventStatus.CANCELED,
    BookingStatus.CANCELED: EventStatus.CANCELED,
}


def booking_event_status(booking: Booking, booking_event: BookingEvent) -> int:
    """How a booker's calendar should show one of their requested events: TENTATIVE while the request is
    pending, the Event's status once approved (CANCELED if staff removed the Event), CANCELED once the
    booking is denied or canceled."""
    if booking.status == BookingStatus.APPROVED:
        event = booking_event.event
        return event.status if event is not None else EventStatus.CANCELED
    return BOOKING_STATUS_SHOWN.get(booking.status, EventStatus.CANCELED)
