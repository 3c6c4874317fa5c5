"""The only code that writes Events and Reservations (DESIGN §5).

Every function here runs inside the caller's transaction (and opens one if there is none). Writers
lock the affected Resource rows in id order before they look for overlaps, so two requests for the same
resource are checked one after the other: the second sees the first's reservation and gets a clear
BOOKING_CONFLICT naming the event. PostgreSQL's exclusion constraint backs this up; on SQLite the
IMMEDIATE transaction mode serializes writers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from resources.exceptions import BookingConflict, CapacityExceeded, FieldError, InvalidTransition, ValidationFailed
from resources.models import Organization, Resource

from .models import Event, EventSeries, EventStatus, Reservation
from .selectors import reservations_overlapping

# Event status changes allowed through `event_set_status`.
EVENT_TRANSITIONS: dict[int, set[int]] = {
    EventStatus.TENTATIVE: {EventStatus.CONFIRMED, EventStatus.CANCELED},
    EventStatus.CONFIRMED: {EventStatus.CANCELED},
    EventStatus.CANCELED: set(),
}


@dataclass
class EventSpec:
    """What an event should be: times are aware datetimes, `field` prefixes error fields (`events[0]`)."""

    title: str
    start: datetime
    end: datetime
    resource_ids: list[UUID]
    description: str = ""
    field: str = "event"
    event: Event | None = None  # set when the spec updates an existing event


def resources_lock(resource_ids: Iterable[UUID]) -> dict[UUID, Resource]:
    """Lock the resources (in id order, so two writers never wait on each other in a cycle)."""
    ids = sorted(set(resource_ids), key=str)
    locked = (
        Resource.objects.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .select_related("venue")
        .order_by("pk")
    )
    return {r.pk: r for r in locked}


def _occupied(resource: Resource, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    return start, end + timedelta(minutes=resource.buffer_minutes)


def _max_concurrent(intervals: Sequence[tuple[datetime, datetime]], start: datetime, end: datetime) -> int:
    """The most intervals that share one moment inside [start, end)."""
    points: list[tuple[datetime, int]] = []
    for s, e in intervals:
        s, e = max(s, start), min(e, end)
        if s < e:
            points += [(s, 1), (e, -1)]
    points.sort(key=lambda p: (p[0], p[1]))  # ends before starts at the same moment: adjacent is free
    best = current = 0
    for _, delta in points:
        current += delta
        best = max(best, current)
    return best


def conflicts_check(
    *, specs: Sequence[EventSpec], resources: dict[UUID, Resource], exclude_event_ids: Iterable[UUID] = ()
) -> list[FieldError]:
    """BOOKING_CONFLICT / CAPACITY_EXCEEDED errors for the specs, against the table and each other.

    Call with the resources locked (`resources_lock`) when the result decides a write.
    """
    if not specs:
        return []
    exclude = set(exclude_event_ids) | {s.event.pk for s in specs if s.event is not None}
    window_start = min(s.start for s in specs)
    window_end = max(s.end + timedelta(minutes=resources[r].buffer_minutes) for s in specs for r in s.resource_ids)
    existing: dict[UUID, list[tuple[datetime, datetime, Event]]] = {}
    for res in reservations_overlapping(
        resource_ids=resources.keys(), start=window_start, end=window_end, exclude_event_ids=exclude
    ):
        existing.setdefault(res.resource_id, []).append((res.start, res.end, res.event))

    errors: list[FieldError] = []
    accepted: dict[UUID, list[tuple[datetime, datetime, Event | None]]] = {}
    for spec in specs:
        for rid in spec.resource_ids:
            resource = resources[rid]
            start, end = _occupied(resource, spec.start, spec.end)
            taken = [(s, e, ev) for s, e, ev in existing.get(rid, []) + accepted.get(rid, []) if s < end and start < e]
            if resource.exclusive:
                if taken:
                    ids = sorted({str(ev.pk) for _, _, ev in taken if ev is not None})
                    titles = sorted({ev.title for _, _, ev in taken if ev is not None})
                    what = f" by {', '.join(titles)}" if titles else " by another requested time"
                    errors.append(FieldError(
                        f"{spec.field}.resourceIds", "BOOKING_CONFLICT",
                        f"{resource.name} is already booked{what} at that time.",
                        {"resourceId": str(rid), "conflictingEventIds": ids},
                    ))
                    continue
            elif _max_concurrent([(s, e) for s, e, _ in taken], start, end) + 1 > resource.capacity:
                errors.append(FieldError(
                    f"{spec.field}.resourceIds", "CAPACITY_EXCEEDED",
                    f"{resource.name} already has {resource.capacity} booking(s) at that time.",
                    {"resourceId": str(rid), "conflictingEventIds": sorted({str(ev.pk) for *_, ev in taken if ev})},
                ))
                continue
            accepted.setdefault(rid, []).append((start, end, spec.event))
    return errors


def _raise_conflicts(errors: list[FieldError]) -> None:
    if not errors:
        return
    if any(e.code == "BOOKING_CONFLICT" for e in errors):
        raise BookingConflict(errors=errors)
    raise CapacityExceeded(errors=errors)


def _write_reservations(event: Event, resource_ids: Sequence[UUID], resources: dict[UUID, Resource]) -> None:
    rows = []
    for rid in resource_ids:
        resource = resources[rid]
        start, end = _occupied(resource, event.start, event.end)
        rows.append(Reservation(event=event, resource=resource, start=start, end=end,
                                active=event.status != EventStatus.CANCELED, exclusive=resource.exclusive))
    try:
        # A savepoint, so a constraint violation (a writer that skipped the lock) becomes a clean
        # BOOKING_CONFLICT and leaves the surrounding transaction usable for the rollback.
        with transaction.atomic():
            Reservation.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise BookingConflict(errors=[FieldError("event.resourceIds", "BOOKING_CONFLICT",
                                                 "One of the resources is already booked at that time.")]) from exc


@transaction.atomic
def events_save(
    *,
    organization: Organization,
    specs: Sequence[EventSpec],
    status: int = EventStatus.CONFIRMED,
    series: EventSeries | None = None,
) -> list[Event]:
    """Create the specs without an event and move the ones with an event, all or nothing.

    Conflicts are checked for all specs as one unit, under one lock of every resource involved (old and
    new). Booking rules are the caller's (see events.rules and bookings.validation).
    """
    existing = [s.event for s in specs if s.event is not None]
    old_resource_ids = set(
        Reservation.objects.filter(event__in=existing).values_list("resource_id", flat=True)
    ) if existing else set()
    resources = resources_lock(old_resource_ids | {rid for s in specs for rid in s.resource_ids})
    missing = {rid for s in specs for rid in s.resource_ids} - resources.keys()
    if missing:
        raise ValidationFailed(errors=[
            FieldError(f"{s.field}.resourceIds", "NOT_FOUND", f"Resource {rid} does not exist.",
                       {"resourceId": str(rid)})
            for s in specs for rid in s.resource_ids if rid in missing
        ])
    if status != EventStatus.CANCELED:
        _raise_conflicts(conflicts_check(specs=specs, resources=resources))
    if existing:
        # Free every moved event's old period before writing any new one, so one spec may take the slot
        # another spec leaves (the exclusion constraint checks each row as it is written).
        Reservation.objects.filter(event__in=existing).delete()
    saved = []
    for spec in specs:
        event = spec.event
        if event is None:
            event = Event.objects.create(organization=organization, title=spec.title, description=spec.description,
                                         start=spec.start, end=spec.end, status=status, series=series)
        else:
            event.title, event.start, event.end, event.status = spec.title, spec.start, spec.end, status
            if spec.description:
                event.description = spec.description
            event.save()
        _write_reservations(event, spec.resource_ids, resources)
        saved.append(event)
    return saved


@transaction.atomic
def events_set_status(*, events: Sequence[Event], status: int) -> list[Event]:
    """Confirm or cancel events. Canceling frees their resources (reservations become inactive)."""
    for event in events:
        if status != event.status and status not in EVENT_TRANSITIONS[event.status]:
            raise InvalidTransition(
                f"An event that is {event.get_status_display().lower()} cannot become "
                f"{EventStatus(status).label.lower()}."
            )
    ids = [e.pk for e in events]
    if status == EventStatus.CANCELED:
        Reservation.objects.filter(event_id__in=ids).update(active=False)
    Event.objects.filter(pk__in=ids).update(status=status, updated_at=timezone.now())
    for event in events:
        event.status = status
    return list(events)


@transaction.atomic
def events_delete(*, events: Sequence[Event]) -> None:
    Event.objects.filter(pk__in=[e.pk for e in events]).delete()
