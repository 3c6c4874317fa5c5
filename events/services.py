"""The only code that writes Events and Reservations (docs/architecture.md#scheduling-guarantees,
docs/adr/0001-database-enforced-no-overlap.md).

Every function here runs inside the caller's transaction (and opens one if there is none). Writers
lock the affected Resource rows in id order before they look for overlaps, so two requests for the same
resource are checked one after the other: the second sees the first's reservation and gets a clear
BOOKING_CONFLICT naming the event. PostgreSQL's exclusion constraint backs this up; on SQLite the
IMMEDIATE transaction mode serializes writers.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import (
    BookingConflict,
    CapacityExceeded,
    DomainError,
    FieldError,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from core.html import sanitize_html
from resources.models import Organization, Resource, ResourceUnit
from webhooks.services import webhook_emit

from .hooks import occurrence_hook
from .models import Event, EventSeries, EventStatus, Reservation
from .rules import check_rules
from .selectors import closures_for, events_payload, reservations_overlapping, resources_for_rules
from .series import (
    WHICH_EVENTS,
    WhichEvents,
    local_delta,
    local_shift,
    series_tz,
    which_events_covers,
    which_events_parse,
)

logger = logging.getLogger(__name__)

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
    series: EventSeries | None = None  # the series a new event joins (else events_save's `series`)
    # An occurrence of a series the caller may leave out when it conflicts (staff's skipConflicts):
    # conflicts_check_skipping / events_save then put its errors in `skipped` instead of refusing.
    skippable: bool = False
    skipped: list[FieldError] | None = None
    # Units (docs/architecture.md#units): the unit asked for (of one of the resources), the units tried first
    # when none is asked for (an existing event's, so a moved hold keeps its desk), and the units
    # conflicts_among chose for the write, by resource id.
    unit_id: UUID | None = None
    prefer_units: dict[UUID, UUID] = dc_field(default_factory=dict)
    units: dict[UUID, UUID] = dc_field(default_factory=dict)


def resources_lock(resource_ids: Iterable[UUID], organization: Organization | None = None) -> dict[UUID, Resource]:
    """Lock the resources (in id order, so two writers never wait on each other in a cycle).

    With `organization`, resources of any other organization are left out (and so reported missing).
    """
    ids = sorted(set(resource_ids), key=str)
    locked = Resource.objects.select_for_update(of=("self",)).filter(pk__in=ids)
    if organization is not None:
        locked = locked.filter(venue__organization=organization)
    return {r.pk: r for r in locked.select_related("venue").order_by("pk")}


Units = dict[UUID, list[ResourceUnit]]


def units_of(resource_ids: Iterable[UUID]) -> Units:
    """The active units of the resources (one query), each resource's in assignment order."""
    out: Units = {}
    for unit in ResourceUnit.objects.filter(resource_id__in=list(resource_ids), archived=False) \
            .order_by("order", "name", "pk"):
        out.setdefault(unit.resource_id, []).append(unit)
    return out


def _check_units(specs: Sequence[EventSpec], units: Units) -> None:
    """A requested unit must be an active unit of one of its spec's resources."""
    errors = []
    for spec in specs:
        if spec.unit_id is None:
            continue
        if not any(u.pk == spec.unit_id for rid in spec.resource_ids for u in units.get(rid, ())):
            errors.append(FieldError(f"{spec.field}.unitId", "INVALID_UNIT",
                                     "That unit is not an available unit of the chosen resources.",
                                     {"unitId": str(spec.unit_id)}))
    if errors:
        raise ValidationFailed(errors=errors)


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
    *, specs: Sequence[EventSpec], resources: dict[UUID, Resource], exclude_event_ids: Iterable[UUID] = (),
    units: Units | None = None,
) -> list[FieldError]:
    """BOOKING_CONFLICT / CAPACITY_EXCEEDED errors for the specs, against the table and each other.

    Call with the resources locked (`resources_lock`) when the result decides a write.
    """
    if not specs:
        return []
    exclude = set(exclude_event_ids) | {s.event.pk for s in specs if s.event is not None}
    window_start = min(s.start for s in specs)
    window_end = max(s.end + timedelta(minutes=resources[r].buffer_minutes) for s in specs for r in s.resource_ids)
    existing = reservations_overlapping(resource_ids=resources.keys(), start=window_start, end=window_end,
                                        exclude_event_ids=exclude)
    return conflicts_among(specs=specs, resources=resources, reservations=existing,
                           units=units_of(resources) if units is None else units)


def conflicts_check_skipping(
    *, specs: Sequence[EventSpec], resources: dict[UUID, Resource], exclude_event_ids: Iterable[UUID] = (),
    units: Units | None = None,
) -> list[FieldError]:
    """conflicts_check, where the `skippable` specs that conflict are set aside instead of refused: each
    gets its errors in `spec.skipped` (the others' `skipped` becomes None). The verdict is repeated for the
    rest against the same reservations, read once (one query, whatever the number of specs), since a spec
    set aside no longer takes its place. Returns the errors of the specs that cannot be skipped."""
    for spec in specs:
        spec.skipped = None
    if not specs:
        return []
    window_start = min(s.start for s in specs)
    window_end = max(s.end + timedelta(minutes=resources[r].buffer_minutes) for s in specs for r in s.resource_ids)
    # The specs' own events are read too: conflicts_among ignores those of the specs it is given, so the
    # event of a spec set aside (a hold that stays where it is) counts against the others.
    reservations = list(reservations_overlapping(resource_ids=resources.keys(), start=window_start, end=window_end,
                                                 exclude_event_ids=exclude_event_ids))
    remaining = list(specs)
    units = units_of(resources) if units is None else units
    while True:
        errors = conflicts_among(specs=remaining, resources=resources, reservations=reservations, units=units)
        by_field = {f"{s.field}.{key}": s for s in remaining if s.skippable for key in ("resourceIds", "unitId")}
        kept = []
        for error in errors:
            spec = by_field.get(error.field)
            if spec is None:
                kept.append(error)
            else:
                spec.skipped = [*(spec.skipped or []), error]
        if len(kept) == len(errors):
            return kept
        remaining = [s for s in remaining if s.skipped is None]


def conflicts_among(
    *, specs: Sequence[EventSpec], resources: dict[UUID, Resource], reservations: Iterable[Reservation],
    units: Units | None = None,
) -> list[FieldError]:
    """conflicts_check's verdict against reservations the caller already read (with `event` loaded):
    a page that shows many bookings' conflicts reads the table once. Reservations of the specs' own
    events are ignored; ones that do not overlap are harmless.

    With `units` (the resources' active units, see units_of): a resource with units takes at most
    min(capacity, units) overlapping bookings; a spec's requested unit must be free (else BOOKING_CONFLICT
    at `<field>.unitId`), and a spec without one is given the first free unit (its `prefer_units` first).
    The units chosen are left in each spec's `units` for the write. Without `units`, units are not judged
    (a read-only preview; the writers always pass them)."""
    own = {s.event.pk for s in specs if s.event is not None}
    existing: dict[UUID, list[tuple[datetime, datetime, Event | None, UUID | None]]] = {}
    for res in reservations:
        if res.event_id not in own:
            existing.setdefault(res.resource_id, []).append(
                (res.start, res.end, res.event, getattr(res, "unit_id", None)))
    # Sorted by start, with each resource's longest period: a spec looks only at the periods that can
    # reach it (a long repeated series against a busy resource stays n log n, not n × table).
    starts: dict[UUID, list[datetime]] = {}
    longest: dict[UUID, timedelta] = {}
    for rid, periods in existing.items():
        periods.sort(key=lambda p: p[0])
        starts[rid] = [p[0] for p in periods]
        longest[rid] = max(p[1] - p[0] for p in periods)

    def overlapping(rid: UUID, start: datetime, end: datetime) -> list[tuple[datetime, datetime, Event | None,
                                                                             UUID | None]]:
        if rid not in existing:
            return []
        low, high = bisect_left(starts[rid], start - longest[rid]), bisect_left(starts[rid], end)
        return [p for p in existing[rid][low:high] if start < p[1]]

    errors: list[FieldError] = []
    accepted: dict[UUID, list[tuple[datetime, datetime, Event | None, UUID | None]]] = {}
    for spec in specs:
        spec.units = {}
        for rid in spec.resource_ids:
            resource = resources[rid]
            start, end = _occupied(resource, spec.start, spec.end)
            taken = overlapping(rid, start, end) + [p for p in accepted.get(rid, []) if p[0] < end and start < p[1]]
            resource_units = (units or {}).get(rid, [])
            capacity = min(resource.capacity, len(resource_units)) if resource_units else resource.capacity
            if resource.exclusive:
                if taken:
                    ids = sorted({str(p[2].pk) for p in taken if p[2] is not None})
                    titles = sorted({p[2].title for p in taken if p[2] is not None})
                    what = f" by {', '.join(titles)}" if titles else " by another requested time"
                    errors.append(FieldError(
                        f"{spec.field}.resourceIds", "BOOKING_CONFLICT",
                        f"{resource.name} is already booked{what} at that time.",
                        {"resourceId": str(rid), "conflictingEventIds": ids},
                    ))
                    continue
            elif _max_concurrent([(p[0], p[1]) for p in taken], start, end) + 1 > capacity:
                errors.append(FieldError(
                    f"{spec.field}.resourceIds", "CAPACITY_EXCEEDED",
                    f"{resource.name} already has {capacity} booking(s) at that time.",
                    {"resourceId": str(rid), "conflictingEventIds": sorted({str(p[2].pk) for p in taken if p[2]})},
                ))
                continue
            unit_id = None
            if resource_units:
                busy = {p[3] for p in taken if p[3] is not None}
                names = {u.pk: u.name for u in resource_units}
                if spec.unit_id in names:
                    if spec.unit_id in busy:
                        holders = [p[2] for p in taken if p[3] == spec.unit_id]
                        titles = sorted({ev.title for ev in holders if ev is not None})
                        what = f" by {', '.join(titles)}" if titles else " by another requested time"
                        errors.append(FieldError(
                            f"{spec.field}.unitId", "BOOKING_CONFLICT",
                            f"{resource.name} · {names[spec.unit_id]} is already booked{what} at that time.",
                            {"resourceId": str(rid), "unitId": str(spec.unit_id),
                             "conflictingEventIds": sorted({str(ev.pk) for ev in holders if ev is not None})},
                        ))
                        continue
                    unit_id = spec.unit_id
                else:
                    preferred = spec.prefer_units.get(rid)
                    order = ([preferred] if preferred in names else []) + [u.pk for u in resource_units]
                    unit_id = next((pk for pk in order if pk not in busy), None)
                    if unit_id is None:  # only when older reservations hold units beyond the capacity count
                        errors.append(FieldError(
                            f"{spec.field}.resourceIds", "CAPACITY_EXCEEDED",
                            f"No unit of {resource.name} is free at that time.",
                            {"resourceId": str(rid),
                             "conflictingEventIds": sorted({str(p[2].pk) for p in taken if p[2]})},
                        ))
                        continue
                spec.units[rid] = unit_id
            accepted.setdefault(rid, []).append((start, end, spec.event, unit_id))
    return errors


def _raise_conflicts(errors: list[FieldError]) -> None:
    if not errors:
        return
    if any(e.code == "BOOKING_CONFLICT" for e in errors):
        raise BookingConflict(errors=errors)
    raise CapacityExceeded(errors=errors)


def _write_reservations(
    pairs: Sequence[tuple[Event, Sequence[UUID], dict[UUID, UUID]]], resources: dict[UUID, Resource]
) -> None:
    """Each event's reservations: (event, resource ids, unit by resource id as conflicts_among chose it)."""
    rows = []
    for event, resource_ids, units in pairs:
        for rid in resource_ids:
            resource = resources[rid]
            start, end = _occupied(resource, event.start, event.end)
            rows.append(Reservation(event=event, resource=resource, start=start, end=end,
                                    active=event.status != EventStatus.CANCELED, exclusive=resource.exclusive,
                                    unit_id=units.get(rid)))
    try:
        # A savepoint, so a constraint violation (a writer that skipped the lock) becomes a clean
        # BOOKING_CONFLICT and leaves the surrounding transaction usable for the rollback.
        with transaction.atomic():
            Reservation.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise BookingConflict(errors=[FieldError("event.resourceIds", "BOOKING_CONFLICT",
                                                 "One of the resources is already booked at that time.")]) from exc


def _check_specs(organization: Organization, specs: Sequence[EventSpec], status: int) -> None:
    """Shape errors a caller should have caught, as field errors rather than database errors."""
    errors = []
    for spec in specs:
        if spec.event is not None and spec.event.organization_id != organization.pk:
            errors.append(FieldError(spec.field, "NOT_FOUND", "That event does not exist in this organization."))
        if not spec.resource_ids:
            errors.append(FieldError(f"{spec.field}.resourceIds", "REQUIRED", "Choose at least one resource."))
        if spec.end <= spec.start:
            errors.append(FieldError(f"{spec.field}.end", "END_BEFORE_START", "The end must be after the start."))
    if errors:
        raise ValidationFailed(errors=errors)
    for spec in specs:
        event = spec.event
        if event is not None and status != event.status and status not in EVENT_TRANSITIONS[event.status]:
            raise InvalidTransition(f"An event that is {event.get_status_display().lower()} cannot become "
                                    f"{EventStatus(status).label.lower()}.")


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
    new); resources and events of other organizations are NOT_FOUND. Booking rules are the caller's (see
    events.rules and bookings.validation). A fixed number of queries, whatever the number of specs.

    Specs marked `skippable` that conflict are left out (their errors in `spec.skipped`, see
    conflicts_check_skipping) and the others saved; the result lists the saved events in the specs' order.
    A new event joins `spec.series`, else `series`.
    """
    _check_specs(organization, specs, status)
    existing = [s.event for s in specs if s.event is not None]
    old = list(Reservation.objects.filter(event__in=existing).values_list("event_id", "resource_id", "unit_id")) \
        if existing else []
    old_resource_ids = {rid for _, rid, _ in old}
    held_units: dict[UUID, dict[UUID, UUID]] = {}
    for event_id, rid, unit_id in old:
        if unit_id is not None:
            held_units.setdefault(event_id, {})[rid] = unit_id
    for spec in specs:  # a moved event keeps its units where it can
        if spec.event is not None and not spec.prefer_units:
            spec.prefer_units = held_units.get(spec.event.pk, {})
    wanted = {rid for s in specs for rid in s.resource_ids}
    resources = resources_lock(old_resource_ids | wanted, organization)
    missing = wanted - resources.keys()
    if missing:
        raise ValidationFailed(errors=[
            FieldError(f"{s.field}.resourceIds", "NOT_FOUND", f"Resource {rid} does not exist.",
                       {"resourceId": str(rid)})
            for s in specs for rid in s.resource_ids if rid in missing
        ])
    units = units_of(resources)
    _check_units(specs, units)
    if status != EventStatus.CANCELED and any(s.skippable for s in specs):
        _raise_conflicts(conflicts_check_skipping(specs=specs, resources=resources, units=units))
        specs = [s for s in specs if not s.skipped]
        existing = [s.event for s in specs if s.event is not None]
    elif status != EventStatus.CANCELED:
        _raise_conflicts(conflicts_check(specs=specs, resources=resources, units=units))
    if existing:
        # Free every moved event's old period before writing any new one, so one spec may take the slot
        # another spec leaves (the exclusion constraint checks each row as it is written).
        Reservation.objects.filter(event__in=existing).delete()
    now = timezone.now()
    saved, created, moved, status_only = [], [], [], []
    for spec in specs:
        event = spec.event
        if event is None:
            event = Event(organization=organization, title=spec.title, description=sanitize_html(spec.description),
                          start=spec.start, end=spec.end, status=status, series=spec.series or series)
            created.append(event)
        else:
            same = ((event.title, event.start, event.end) == (spec.title, spec.start, spec.end)
                    and not spec.description and (spec.series is None or spec.series.pk == event.series_id))
            event.title, event.start, event.end, event.status = spec.title, spec.start, spec.end, status
            if spec.description:
                event.description = sanitize_html(spec.description)
            if spec.series is not None:
                event.series = spec.series
            event.updated_at = now  # bulk_update does not touch auto_now fields
            (status_only if same else moved).append(event)
        saved.append(event)
    Event.objects.bulk_create(created)
    if moved:
        Event.objects.bulk_update(moved, ["title", "description", "start", "end", "status", "series", "updated_at"])
    if status_only:  # e.g. holds confirmed as they are: one UPDATE rather than a CASE per row and field
        Event.objects.filter(pk__in=[e.pk for e in status_only]).update(status=status, updated_at=now)
    _write_reservations([(event, spec.resource_ids, spec.units) for event, spec in zip(saved, specs, strict=True)],
                        resources)
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


# --- single events, as the events API writes them (docs/architecture.md#http-api-conventions) ----


def _event_resources(*, organization: Organization, resource_ids: Sequence[UUID]) -> list[Resource]:
    """The resources, in the order given (duplicates dropped); NOT_FOUND for any not of this organization."""
    ids = list(dict.fromkeys(resource_ids))
    found = resources_for_rules(ids)
    missing = [rid for rid in ids if rid not in found or found[rid].venue.organization_id != organization.pk]
    if missing:
        raise ValidationFailed(errors=[
            FieldError("resourceIds", "NOT_FOUND", f"Resource {rid} does not exist in this organization.",
                       {"resourceId": str(rid)})
            for rid in missing
        ])
    return [found[rid] for rid in ids]


def _aware(moment: datetime, tz: ZoneInfo) -> datetime:
    """Naive times are wall-clock times in the event's timezone."""
    return moment.replace(tzinfo=tz) if timezone.is_naive(moment) else moment


def _check_times(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValidationFailed(errors=[FieldError("end", "END_BEFORE_START", "The end must be after the start.")])


def _check_event_rules(
    *, organization: Organization, resources: Sequence[Resource], start: datetime, end: datetime,
    now: datetime | None,
) -> None:
    now = now or timezone.now()
    closures = closures_for(organization=organization, start=start, end=end)
    errors = [
        FieldError(failure.field, failure.code, failure.message, {"resourceId": failure.resource_id})
        for resource in resources
        for failure in check_rules(resource=resource, start=start, end=end, now=now, closures=closures)
    ]
    if errors:
        raise ValidationFailed(errors=errors)


def _emit(event: Event, event_type: str) -> None:
    """Integrators' webhooks (docs/architecture.md#webhooks), in this transaction: the event as the API
    shows it at this point (for a deletion, before it goes), so a rollback sends nothing."""
    webhook_emit(organization=event.organization_id, event_type=event_type,
                 payload=lambda: {"event": events_payload(Event.objects.filter(pk=event.pk))[0]})


@contextmanager
def _errors_at_top_level():
    """events_save names its errors `event.resourceIds`; the events API's body is the event itself."""
    try:
        yield
    except DomainError as exc:
        exc.errors = [replace(e, field=e.field.removeprefix("event.")) for e in exc.errors]
        raise


@transaction.atomic
def event_create(
    *,
    organization: Organization,
    title: str,
    start: datetime,
    end: datetime,
    resource_ids: Sequence[UUID],
    description: str = "",
    status: int = EventStatus.CONFIRMED,
    override_rules: bool = False,
    now: datetime | None = None,
) -> Event:
    """A CONFIRMED event or a TENTATIVE hold on resources of the organization: booking rules checked
    (unless `override_rules`), conflicts always. Naive times are in the first resource's venue's timezone."""
    if status not in (EventStatus.CONFIRMED, EventStatus.TENTATIVE):
        raise ValidationFailed(errors=[FieldError("status", "INVALID_CHOICE",
                                                  "A new event is 0 (CONFIRMED) or 1 (TENTATIVE).")])
    resources = _event_resources(organization=organization, resource_ids=resource_ids)
    tz = resources[0].venue.tz if resources else organization.tz
    start, end = _aware(start, tz), _aware(end, tz)
    _check_times(start, end)
    if override_rules:
        logger.info("Booking rules overridden creating an event in %s at %s", organization.pk, start)
    else:
        _check_event_rules(organization=organization, resources=resources, start=start, end=end, now=now)
    spec = EventSpec(title=title, start=start, end=end, resource_ids=[r.pk for r in resources],
                     description=description)
    with _errors_at_top_level():
        [event] = events_save(organization=organization, specs=[spec], status=status)
    _emit(event, "event.created")
    return event


@transaction.atomic
def event_update(
    *,
    event: Event,
    title: str | None = None,
    description: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    resource_ids: Sequence[UUID] | None = None,
    status: int | None = None,
    override_rules: bool = False,
    now: datetime | None = None,
) -> Event:
    """Retitle, move (conflicts checked; booking rules too unless `override_rules`), confirm a TENTATIVE
    event (status 0) or cancel (status 2, which frees its resources). None leaves a value as it is."""
    event = Event.objects.select_for_update().select_related("organization").get(pk=event.pk)
    organization = event.organization
    new_status = event.status if status is None else status
    if new_status != event.status and new_status not in EVENT_TRANSITIONS[event.status]:
        raise InvalidTransition(
            f"An event that is {event.get_status_display().lower()} cannot become "
            f"{EventStatus(new_status).label.lower()}.",
            errors=[FieldError("status", "INVALID_TRANSITION", "That status change is not possible.")],
        )
    current_ids = list(event.reservations.order_by("created_at").values_list("resource_id", flat=True))
    resources = _event_resources(organization=organization,
                                 resource_ids=current_ids if resource_ids is None else resource_ids)
    tz = resources[0].venue.tz if resources else organization.tz
    new_start = event.start if start is None else _aware(start, tz)
    new_end = event.end if end is None else _aware(end, tz)
    new_ids = [r.pk for r in resources]
    moved = new_start != event.start or new_end != event.end or new_ids != current_ids
    if title is not None:
        event.title = title
    if description is not None:
        event.description = description
    if moved:
        _check_times(new_start, new_end)
    if moved and new_ids:
        if new_status == EventStatus.CANCELED:
            pass  # a canceled event holds nothing: no rules, no conflicts
        elif override_rules:
            logger.info("Booking rules overridden moving event %s to %s", event.pk, new_start)
        else:
            _check_event_rules(organization=organization, resources=resources, start=new_start, end=new_end,
                               now=now)
        spec = EventSpec(title=event.title, start=new_start, end=new_end, resource_ids=new_ids,
                         description=event.description, event=event)
        with _errors_at_top_level():
            events_save(organization=organization, specs=[spec], status=new_status)
        _emit(event, "event.updated")
        return event
    event.start, event.end = new_start, new_end  # an event without resources has nothing to check
    event.save()
    if new_status != event.status:
        events_set_status(events=[event], status=new_status)
    _emit(event, "event.updated")
    return event


@transaction.atomic
def event_delete(*, event: Event) -> None:
    """Delete the event and its reservations (a booking that created it keeps its request, unlinked)."""
    _emit(event, "event.deleted")
    events_delete(events=[event])


# --- occurrences of a series (docs/architecture.md#series; the scopes and the wall-clock shift are events.series')


@dataclass
class _Occurrence:
    event: Event
    start: datetime
    end: datetime
    resource_ids: list[UUID]
    status: int
    moved: bool


def _when(moment: datetime, tz: ZoneInfo) -> str:
    return f"The occurrence of {moment.astimezone(tz):%a %d %b %Y %H:%M}"


def _occurrence_ids(event: Event, which: WhichEvents, *, deleting: bool) -> list[UUID]:
    """The chosen occurrences, the addressed one first. A change leaves the series' other canceled
    occurrences as they are; a deletion takes them too."""
    if event.series_id is None or which == WhichEvents.THIS:
        return [event.pk]
    others = Event.objects.filter(series_id=event.series_id).exclude(pk=event.pk)
    if not deleting:
        others = others.exclude(status=EventStatus.CANCELED)
    return [event.pk] + [pk for pk, start in others.order_by("start", "pk").values_list("pk", "start")
                         if which_events_covers(which, start=start, target_start=event.start)]


def _leave_out_charged(event: Event, which: WhichEvents, ids: list[UUID]) -> list[UUID]:
    """4 and 7 choose the occurrences that are not charged; whoever keeps charges (the bookings app) says
    which are (events.hooks.OccurrenceHook.charged_event_ids). The addressed one must not be charged: staff pointed
    at it, and leaving it out silently would surprise them."""
    if which not in (WhichEvents.NOT_CHARGED, WhichEvents.DELETE_NOT_CHARGED):
        return ids
    charged = set(occurrence_hook().charged_event_ids(event_ids=ids))
    if event.pk in charged:
        raise ValidationFailed(errors=[FieldError(
            WHICH_EVENTS, "EVENT_CHARGED", f"This occurrence is charged: {int(which)} chooses the occurrences that are "
                                           "not charged. Address one of those, or revert its charge first.")])
    return [pk for pk in ids if pk not in charged]


@transaction.atomic
def occurrences_update(
    *,
    event: Event,
    which: int = WhichEvents.THIS,
    title: str | None = None,
    description: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    resource_ids: Sequence[UUID] | None = None,
    status: int | None = None,
    override_rules: bool = False,
    now: datetime | None = None,
    actor: Any = None,
    price_override: Any = None,
) -> list[Event]:
    """event_update for the occurrences of the event's series that `which` chooses (1 this one, 2 this and
    the later ones, 3 all, 4 those not charged, 8 all and their charges reverted; an event outside a series
    is always just itself), all or nothing.

    Title, description, resources and status apply to each chosen occurrence. A time change moves the
    addressed occurrence to the given start/end and every other chosen one by the same wall-clock shift
    in the series' timezone (DST-safe: 09:00 → 10:30 is 10:30 local in winter and summer). Booking rules
    are checked for each moved occurrence (unless `override_rules`), then conflicts for all of them as one
    unit under one lock of every resource involved: one taken slot changes nothing, and the errors name
    the occurrences (`eventId`) that could not move. `actor` (who does it) is handed to the
    registered hook (events.hooks), and so is `price_override` (staff's
    overridePrice: the bookings app re-fixes the price of the chosen events). Returns the changed events in
    start order."""
    which = which_events_parse(which, deleting=False)
    ids = _occurrence_ids(event, which, deleting=False)
    occurrence_hook().lock(event_ids=ids, actor=actor)
    ids = _leave_out_charged(event, which, ids)
    if len(ids) == 1:
        changed = [event_update(event=event, title=title, description=description, start=start, end=end,
                                resource_ids=resource_ids, status=status, override_rules=override_rules, now=now)]
    else:
        changed = _occurrences_write(
            target_id=event.pk, ids=ids, title=title, description=description, start=start, end=end,
            resource_ids=resource_ids, status=status, override_rules=override_rules, now=now)
    occurrence_hook().follow(events=changed, deleted=False, actor=actor, price_override=price_override)
    if which == WhichEvents.REVERT_ALL_CHARGES:
        every = list(Event.objects.filter(series_id=event.series_id).values_list("pk", flat=True)) \
            if event.series_id else [event.pk]
        occurrence_hook().charges_revert(event_ids=every, actor=actor)
    return changed


def _occurrences_write(
    *, target_id: UUID, ids: Sequence[UUID], title: str | None, description: str | None, start: datetime | None,
    end: datetime | None, resource_ids: Sequence[UUID] | None, status: int | None, override_rules: bool,
    now: datetime | None,
) -> list[Event]:
    events = list(Event.objects.select_for_update(of=("self",)).select_related("organization", "series")
                  .filter(pk__in=ids).order_by("start", "pk"))
    target = next((e for e in events if e.pk == target_id), None)
    if target is None:
        raise NotFound("Event not found.")
    organization = target.organization
    current: dict[UUID, list[UUID]] = {e.pk: [] for e in events}
    held_units: dict[UUID, dict[UUID, UUID]] = {}
    for event_id, rid, unit_id in (Reservation.objects.filter(event__in=events).order_by("created_at", "pk")
                                   .values_list("event_id", "resource_id", "unit_id")):
        current[event_id].append(rid)
        if unit_id is not None:
            held_units.setdefault(event_id, {})[rid] = unit_id
    chosen = None if resource_ids is None else [
        r.pk for r in _event_resources(organization=organization, resource_ids=resource_ids)]
    wanted = {e.pk: list(current[e.pk] if chosen is None else chosen) for e in events}
    found = resources_for_rules({rid for rids in wanted.values() for rid in rids})
    first = found.get(wanted[target.pk][0]) if wanted[target.pk] else None
    input_tz = first.venue.tz if first else organization.tz  # naive times: as event_update reads them
    tz = series_tz(target.series.timezone if target.series else None, input_tz)
    new_start = None if start is None else _aware(start, input_tz)
    new_end = None if end is None else _aware(end, input_tz)
    start_delta = timedelta(0) if new_start is None else local_delta(target.start, new_start, tz)
    end_delta = timedelta(0) if new_end is None else local_delta(target.end, new_end, tz)

    plan: list[_Occurrence] = []
    errors: list[FieldError] = []
    for e in events:
        if e.pk == target.pk:
            s, en = new_start or e.start, new_end or e.end
        else:
            s, en = local_shift(e.start, start_delta, tz), local_shift(e.end, end_delta, tz)
        new_status = e.status if status is None else status
        if new_status != e.status and new_status not in EVENT_TRANSITIONS[e.status]:
            raise InvalidTransition(
                f"{_when(e.start, tz)} is {e.get_status_display().lower()}: it cannot become "
                f"{EventStatus(new_status).label.lower()}.",
                errors=[FieldError("status", "INVALID_TRANSITION", "That status change is not possible.",
                                   {"eventId": str(e.pk)})])
        if en <= s:
            errors.append(FieldError("end", "END_BEFORE_START",
                                     f"{_when(e.start, tz)}: the end must be after the start.", {"eventId": str(e.pk)}))
        rids = wanted[e.pk]
        plan.append(_Occurrence(e, s, en, rids, new_status,
                                moved=(s, en, rids) != (e.start, e.end, current[e.pk])))
    if errors:
        raise ValidationFailed(errors=errors)

    checked = [p for p in plan if p.moved and p.resource_ids and p.status != EventStatus.CANCELED]
    if checked and override_rules:
        logger.info("Booking rules overridden moving %d occurrences of series %s", len(checked), target.series_id)
    elif checked:
        rules_now = now or timezone.now()
        closures = closures_for(organization=organization, start=min(p.start for p in checked),
                                end=max(p.end for p in checked))
        errors = [
            FieldError(failure.field, failure.code, f"{_when(p.event.start, tz)}: {failure.message}",
                       {"resourceId": failure.resource_id, "eventId": str(p.event.pk)})
            for p in checked for rid in p.resource_ids
            for failure in check_rules(resource=found[rid], start=p.start, end=p.end, now=rules_now,
                                       closures=closures)
        ]
        if errors:
            raise ValidationFailed(errors=errors)

    # One lock of every resource involved (old and new), one conflict check of every occurrence together
    # (against the table and each other), then the writes: all or nothing.
    resources = resources_lock({rid for rids in current.values() for rid in rids} | set(found), organization)
    specs = [EventSpec(title=p.event.title, start=p.start, end=p.end, resource_ids=p.resource_ids,
                       field=f"occurrences[{i}]", event=p.event, prefer_units=held_units.get(p.event.pk, {}))
             for i, p in enumerate(plan) if p.resource_ids and p.status != EventStatus.CANCELED]
    conflicts = conflicts_check(specs=specs, resources=resources, exclude_event_ids=[p.event.pk for p in plan])
    if conflicts:
        named = []
        for error in conflicts:
            p = plan[int(error.field.split("[", 1)[1].split("]", 1)[0])]
            named.append(FieldError("resourceIds", error.code, f"{_when(p.event.start, tz)}: {error.message}",
                                    {**error.meta, "eventId": str(p.event.pk)}))
        _raise_conflicts(named)
    Reservation.objects.filter(event__in=events).delete()
    stamp = timezone.now()
    for p in plan:
        e = p.event
        if title is not None:
            e.title = title
        if description is not None:
            e.description = sanitize_html(description)
        e.start, e.end, e.status, e.updated_at = p.start, p.end, p.status, stamp
    Event.objects.bulk_update(events, ["title", "description", "start", "end", "status", "updated_at"])
    chosen_units = {spec.event.pk: spec.units for spec in specs}
    _write_reservations([(p.event, p.resource_ids, chosen_units.get(p.event.pk, {})) for p in plan], resources)
    for e in events:
        _emit(e, "event.updated")
    return events


@transaction.atomic
def occurrences_delete(*, event: Event, which: int = WhichEvents.THIS, actor: Any = None) -> list[UUID]:
    """Delete the occurrences of the event's series that `which` chooses (1 this one, 5 all, 6 this and
    the later ones, 7 those not charged; 3 and 2 mean the same as 5 and 6), canceled ones included, with
    their reservations.
    The series keeps its remaining occurrences; none is ever added to it. A booking whose events go keeps
    its requests, unlinked (the hook's `follow` is told before the rows go). Returns the
    deleted ids."""
    which = which_events_parse(which, deleting=True)
    ids = _occurrence_ids(event, which, deleting=True)
    occurrence_hook().lock(event_ids=ids, actor=actor)
    ids = _leave_out_charged(event, which, ids)
    events = list(Event.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("start", "pk"))
    if not any(e.pk == event.pk for e in events):
        raise NotFound("Event not found.")
    occurrence_hook().follow(events=events, deleted=True, actor=actor)
    for e in events:
        _emit(e, "event.deleted")
    events_delete(events=events)
    return [e.pk for e in events]
