"""Creating and moving events as one unit, and deleting them (docs/architecture.md#scheduling-guarantees):
one lock of every resource involved, one conflict check of every spec, then the writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from core.errors import FieldError, InvalidTransition, ValidationFailed
from core.html import sanitize_html
from resources.models import Organization, Resource

from ..models import Event, EventSeries, EventStatus, Placement, Reservation
from .scheduling import (
    EventSpec,
    Units,
    conflicts_among,
    conflicts_check,
    conflicts_check_skipping,
    raise_conflicts,
    resources_lock,
    resources_lock_known,
    units_of,
    write_reservations,
)
from .status import EVENT_TRANSITIONS


def _check_units(specs: Sequence[EventSpec], units: Units) -> None:
    """A requested unit must be an active unit of one of its spec's resources."""
    errors = []
    for spec in specs:
        if spec.unit_id is None:
            continue
        if not any(u.pk == spec.unit_id for rid in spec.resource_ids for u in units.get(rid, ())):
            errors.append(
                FieldError(
                    f"{spec.field}.unitId",
                    "INVALID_UNIT",
                    "That unit is not an available unit of the chosen resources.",
                    {"unitId": str(spec.unit_id)},
                )
            )
    if errors:
        raise ValidationFailed(errors=errors)


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
            raise InvalidTransition(
                f"An event that is {event.get_status_display().lower()} cannot become "
                f"{EventStatus(status).label.lower()}."
            )


def events_save(
    *,
    organization: Organization,
    specs: Sequence[EventSpec],
    status: int = EventStatus.CONFIRMED,
    series: EventSeries | None = None,
    optimistic: bool = False,
    known: Mapping[UUID, Resource] | None = None,
    nested: bool = False,
) -> list[Event]:
    """Create the specs without an event and move the ones with an event, all or nothing.

    Conflicts are checked for all specs as one unit, under one lock of every resource involved (old and
    new); resources and events of other organizations are NOT_FOUND. Booking rules are the caller's (see
    events.rules and bookings.validation). A fixed number of queries, whatever the number of specs.

    Specs marked `skippable` that conflict are left out (their errors in `spec.skipped`, see
    conflicts_check_skipping) and the others saved; the result lists the saved events in the specs' order.
    A new event joins `spec.series`, else `series`.

    `optimistic` (the public submit, docs/adr/0021-the-write-path.md): where the database's exclusion
    constraint alone decides (see _constraint_decides), the table is not read before the insert; a conflict
    then raises ConflictAtInsert, which the caller describes once its transaction rolled back. `known`: the
    resources as the caller loaded them (the configuration cache); SQLite, whose transactions take the
    write lock at BEGIN, then reads no resource row.

    `nested`: called inside a service's transaction that rolls back as a whole on any error, so no savepoint
    of its own (two statements less); called alone, a refusal leaves the caller's transaction usable.
    """
    with transaction.atomic(savepoint=not nested):
        _check_specs(organization, specs, status)
        existing = [s.event for s in specs if s.event is not None]
        held = _held(specs, existing)
        if status != EventStatus.CANCELED and known is not None and _in_place(specs, held, known):
            saved = _write_events(organization, specs, status, series)
            for event in saved:
                event.placement = _placement(held[event.pk], known, organization)
            return saved
        old_resource_ids = {row[0] for rows in held.values() for row in rows}
        resources = _lock_resources(organization, specs, old_resource_ids, known)
        units = units_of(resources, organization.pk)
        _check_units(specs, units)
        at_insert = optimistic and status != EventStatus.CANCELED and _constraint_decides(specs, resources, units)
        if at_insert:
            raise_conflicts(conflicts_among(specs=specs, resources=resources, reservations=(), units=units))
        elif status != EventStatus.CANCELED:
            specs = _refuse_conflicts(specs, resources, units)
            existing = [s.event for s in specs if s.event is not None]
        if existing:
            # Free every moved event's old period before writing any new one, so one spec may take the slot
            # another spec leaves (the exclusion constraint checks each row as it is written).
            Reservation.objects.filter(event__in=existing).delete()
        saved = _write_events(organization, specs, status, series)
        write_reservations(
            [(event, spec.resource_ids, spec.units) for event, spec in zip(saved, specs, strict=True)],
            resources,
            at_insert=at_insert,
        )
        return saved


def _constraint_decides(specs: Sequence[EventSpec], resources: Mapping[UUID, Resource], units: Units) -> bool:
    """Whether PostgreSQL's exclusion constraint is the whole conflict check of these specs: new events only,
    none to skip, on exclusive resources without units (capacity and units are judged in Python)."""
    return (
        transaction.get_connection().vendor == "postgresql"
        and not any(s.event is not None or s.skippable for s in specs)
        and all(r.exclusive for r in resources.values())
        and not any(units.values())
    )


# What a moved event holds now: (resource id, start, end, unit id, active) per reservation, by event id.
Held = dict[UUID, list[tuple[UUID, datetime, datetime, UUID | None, bool]]]


def _held(specs: Sequence[EventSpec], existing: list[Event]) -> Held:
    """The reservations the moved events hold now (their resources are locked too); a moved event keeps its
    units where it can (they become its spec's `prefer_units` unless it has some)."""
    held: Held = {}
    if existing:
        rows = (
            Reservation.objects.filter(event__in=existing)
            .order_by(*Reservation.WIRE_ORDER)  # as events_payload lists them (see _placement)
            .values_list("event_id", "resource_id", "start", "end", "unit_id", "active")
        )
        for event_id, rid, start, end, unit_id, active in rows:
            held.setdefault(event_id, []).append((rid, start, end, unit_id, active))
    for spec in specs:  # a moved event keeps its units where it can
        if spec.event is not None and not spec.prefer_units:
            spec.prefer_units = {row[0]: row[3] for row in held.get(spec.event.pk, []) if row[3] is not None}
    return held


def _placement(
    rows: Sequence[tuple[UUID, datetime, datetime, UUID | None, bool]],
    known: Mapping[UUID, Resource],
    organization: Organization,
) -> Placement | None:
    """An event's placement from the reservations it holds (in the wire's order) and the caller's resources;
    None when a unit's name is not among them (an archived unit: the answer reads it)."""
    reservations = []
    for rid, _start, _end, unit_id, _active in rows:
        name = None
        if unit_id is not None:
            name = next((u.name for u in getattr(known[rid], "active_units", ()) if u.pk == unit_id), None)
            if name is None:
                return None
        reservations.append((rid, unit_id, name))
    first = known[rows[0][0]].venue if rows else None
    tz = (first.timezone or first.organization.timezone) if first is not None else organization.timezone
    return Placement(timezone=tz, reservations=tuple(reservations))


def _in_place(specs: Sequence[EventSpec], held: Held, known: Mapping[UUID, Resource]) -> bool:
    """Whether every spec keeps its event exactly where it is (times, resources, units, the buffers its
    reservations were written with): then only the events' status changes (a hold confirmed), and their
    reservations, already in the table and under the database's constraint, need no lock, check or rewrite."""
    if not specs:
        return False
    for spec in specs:
        event = spec.event
        rows = held.get(event.pk, []) if event is not None else []
        if event is None or spec.skippable or (event.start, event.end) != (spec.start, spec.end):
            return False
        if {row[0] for row in rows} != set(spec.resource_ids) or len(rows) != len(spec.resource_ids):
            return False
        for rid, start, end, _unit, active in rows:
            resource = known.get(rid)
            buffer = timedelta(minutes=resource.buffer_minutes) if resource is not None else None
            if buffer is None or not active or (start, end) != (spec.start, spec.end + buffer):
                return False
        # The requested unit is one of the event's resources' (the one with units): it must hold it already.
        if spec.unit_id is not None and spec.unit_id not in {row[3] for row in rows}:
            return False
    return True


def _lock_resources(
    organization: Organization,
    specs: Sequence[EventSpec],
    old_resource_ids: set[UUID],
    known: Mapping[UUID, Resource] | None = None,
) -> dict[UUID, Resource]:
    """One lock of every resource involved, old and new; NOT_FOUND for a wanted one of another organization.
    Resources the caller knows are not read again: on SQLite the transaction holds the database's write lock
    already; on PostgreSQL the lock reads only whether they changed since (resources_lock_known)."""
    wanted = {rid for s in specs for rid in s.resource_ids}
    involved = old_resource_ids | wanted
    resources: dict[UUID, Resource] | None = None
    if known is not None and involved <= known.keys():
        if transaction.get_connection().vendor == "sqlite":
            resources = {rid: known[rid] for rid in involved if known[rid].venue.organization_id == organization.pk}
        else:
            resources = resources_lock_known(involved, organization, known)
    if resources is None:
        resources = resources_lock(involved, organization)
    missing = wanted - resources.keys()
    if missing:
        raise ValidationFailed(
            errors=[
                FieldError(
                    f"{s.field}.resourceIds", "NOT_FOUND", f"Resource {rid} does not exist.", {"resourceId": str(rid)}
                )
                for s in specs
                for rid in s.resource_ids
                if rid in missing
            ]
        )
    return resources


def _refuse_conflicts(
    specs: Sequence[EventSpec],
    resources: dict[UUID, Resource],
    units: Units,
) -> Sequence[EventSpec]:
    """Refuse the conflicts; the `skippable` specs that conflict are left out instead (the specs returned)."""
    if any(s.skippable for s in specs):
        raise_conflicts(conflicts_check_skipping(specs=specs, resources=resources, units=units))
        return [s for s in specs if not s.skipped]
    raise_conflicts(conflicts_check(specs=specs, resources=resources, units=units))
    return specs


def _write_events(
    organization: Organization,
    specs: Sequence[EventSpec],
    status: int,
    series: EventSeries | None,
) -> list[Event]:
    """Create the specs' new events and update the moved ones (a fixed number of queries); the events in the
    specs' order."""
    now = timezone.now()
    saved: list[Event] = []
    created: list[Event] = []
    moved: list[Event] = []
    status_only: list[Event] = []
    for spec in specs:
        event = spec.event
        if event is None:
            event = Event(
                organization=organization,
                title=spec.title,
                description=sanitize_html(spec.description),
                start=spec.start,
                end=spec.end,
                status=status,
                series=spec.series or series,
            )
            created.append(event)
        else:
            same = (
                (event.title, event.start, event.end) == (spec.title, spec.start, spec.end)
                and not spec.description
                and (spec.series is None or spec.series.pk == event.series_id)
            )
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
    return saved


@transaction.atomic
def events_delete(*, events: Sequence[Event]) -> None:
    Event.objects.filter(pk__in=[e.pk for e in events]).delete()
