"""Reads with logic for events: overlaps, closures, availability."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from resources.models import Closure, Organization, Resource

from .models import Event, Reservation
from .rules import _shift_years


def reservations_overlapping(
    *, resource_ids: Iterable[UUID], start: datetime, end: datetime, exclude_event_ids: Iterable[UUID] = ()
) -> QuerySet[Reservation]:
    """Active reservations of these resources that share a moment with [start, end).

    One range query on the partial index (resource, start, end) WHERE active.
    """
    qs = Reservation.objects.filter(
        resource_id__in=list(resource_ids), active=True, start__lt=end, end__gt=start
    ).select_related("event")
    exclude = list(exclude_event_ids)
    if exclude:
        qs = qs.exclude(event_id__in=exclude)
    return qs


def closures_for(*, organization: Organization | UUID, start: datetime, end: datetime) -> list[Closure]:
    """The organization's closures that can touch [start, end): dated ones overlapping it, and every
    yearly one (they are few and their dates move from year to year)."""
    org_id = getattr(organization, "pk", organization)
    return list(
        Closure.objects.filter(organization_id=org_id)
        .filter(Q(repeats_yearly=True) | Q(start__lt=end, end__gt=start))
        .prefetch_related("resources")
    )


def resources_for_rules(resource_ids: Iterable[UUID]) -> dict[UUID, Resource]:
    return {
        r.pk: r
        for r in Resource.objects.filter(pk__in=list(resource_ids))
        .select_related("venue__organization")
        .prefetch_related("bookable_hours")
    }


# --- the Event wire form and availability (DESIGN §6) ---------------------------------------------


def events_payload(events: QuerySet[Event], booking_of: dict | None = None) -> list[dict[str, Any]]:
    """Events in their wire form (DESIGN §6), in three queries whatever their number: the events, their
    reservations (resource ids and the first resource's venue timezone), and the bookings they came from.
    `booking_of` maps event id → booking id when the caller knows it already."""
    from resources.api.common import iso, local_times  # the wire helpers load DRF; keep it out of app loading

    rows = list(events.values("id", "organization_id", "organization__timezone", "title", "description", "start",
                              "end", "status", "series_id", "created_at", "updated_at"))
    ids = [r["id"] for r in rows]
    resources: dict[Any, list[str]] = defaultdict(list)
    tz_name: dict[Any, str] = {}
    for event_id, resource_id, venue_tz, org_tz in (
        Reservation.objects.filter(event_id__in=ids).order_by("created_at", "resource__name", "resource_id")
        .values_list("event_id", "resource_id", "resource__venue__timezone", "resource__venue__organization__timezone")
    ):
        resources[event_id].append(str(resource_id))
        tz_name.setdefault(event_id, venue_tz or org_tz)
    if booking_of is None:
        # Through the reverse relation the bookings app declares (BookingEvent.event), without importing it.
        booking_of = dict(Event.objects.filter(pk__in=ids, booking_events__isnull=False)
                          .values_list("id", "booking_events__booking_id"))
    out = []
    for r in rows:
        tz = ZoneInfo(tz_name.get(r["id"]) or r["organization__timezone"])
        booking_id = booking_of.get(r["id"])
        out.append({
            "id": str(r["id"]),
            "orgId": str(r["organization_id"]),
            "title": r["title"],
            "description": r["description"],
            "start": iso(r["start"]),
            "end": iso(r["end"]),
            "status": r["status"],
            "resourceIds": resources.get(r["id"], []),
            "bookingId": str(booking_id) if booking_id else None,
            "seriesId": str(r["series_id"]) if r["series_id"] else None,
            "createdAt": iso(r["created_at"]),
            "lastUpdatedAt": iso(r["updated_at"]),
            **local_times(r["start"], r["end"], tz),
        })
    return out


@dataclass(frozen=True)
class Busy:
    start: datetime  # the event's times
    end: datetime
    occupied_until: datetime  # the event's end plus the resource's buffer
    event_id: UUID
    status: int


@dataclass(frozen=True)
class ClosureSpan:
    closure_id: UUID
    start: datetime
    end: datetime
    message: str


@dataclass(frozen=True)
class Availability:
    resource_id: UUID
    busy: list[Busy]
    closures: list[ClosureSpan]


def closure_spans(closure: Closure, tz: ZoneInfo, start: datetime, end: datetime) -> list[ClosureSpan]:
    """The closure's periods overlapping [start, end): itself, or for a yearly one each year's repeat
    (shifted on the local calendar of `tz`, as the rules do)."""
    if closure.repeats_yearly:
        local_start, local_end = closure.start.astimezone(tz), closure.end.astimezone(tz)
        first, last = start.astimezone(tz).year, end.astimezone(tz).year
        years = range(first - local_start.year - 1, last - local_start.year + 1)
        spans = [(_shift_years(local_start, y), _shift_years(local_end, y)) for y in years]
    else:
        spans = [(closure.start, closure.end)]
    return [ClosureSpan(closure.pk, s.astimezone(UTC), e.astimezone(UTC), closure.message)
            for s, e in spans if s < end and start < e]


def resource_availability(*, resource: Resource, start: datetime, end: datetime) -> Availability:
    """What occupies the resource during [start, end): its active reservations (one query on the
    partial index) and the closures that apply to it."""
    busy = [
        Busy(start=r.event.start, end=r.event.end, occupied_until=r.end, event_id=r.event_id, status=r.event.status)
        for r in reservations_overlapping(resource_ids=[resource.pk], start=start, end=end).order_by("start", "end")
    ]
    tz = resource.venue.tz
    closures = []
    for closure in closures_for(organization=resource.venue.organization_id, start=start, end=end):
        applies_to = {r.pk for r in closure.resources.all()}
        if not applies_to or resource.pk in applies_to:
            closures += closure_spans(closure, tz, start, end)
    closures.sort(key=lambda c: (c.start, c.end))
    return Availability(resource_id=resource.pk, busy=busy, closures=closures)
