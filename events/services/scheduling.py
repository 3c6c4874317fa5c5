"""The scheduling core (docs/architecture.md#scheduling-guarantees, docs/adr/0002-lock-order.md): lock the
resources in id order, judge overlaps, capacity and units against the table and each other, write the
reservations. Everything that writes Events and Reservations builds on these.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime, timedelta
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from core.errors import BookingConflict, CapacityExceeded, FieldError
from resources.config_cache import cached
from resources.models import Organization, Resource, ResourceUnit, Venue

from ..models import Event, EventSeries, EventStatus, Reservation
from ..selectors import reservations_overlapping


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


def resources_lock_known(
    resource_ids: Iterable[UUID], organization: Organization, known: Mapping[UUID, Resource]
) -> dict[UUID, Resource] | None:
    """Lock the resources as `resources_lock` does, reading only their ids and `updated_at`: the caller's
    copies (the configuration cache) when every row is the organization's and unchanged since they were read,
    else None (the rows stay locked; `resources_lock` then reads them again). Building the full rows and their
    venues is most of a lock's cost, and a warm public submit has them already."""
    ids = sorted(set(resource_ids), key=str)
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(_LOCK_KNOWN, [ids, organization.pk])
        rows = cursor.fetchall()
    if len(rows) != len(ids) or any(known[rid].updated_at != updated_at for rid, updated_at in rows):
        return None
    return {rid: known[rid] for rid in ids}


_LOCK_KNOWN = (
    f"SELECT r.id, r.updated_at FROM {Resource._meta.db_table} r"  # noqa: S608 (table names, no input)
    f" JOIN {Venue._meta.db_table} v ON v.id = r.venue_id"
    " WHERE r.id = ANY(%s) AND v.organization_id = %s ORDER BY r.id FOR UPDATE OF r"
)


Units = dict[UUID, list[ResourceUnit]]

# An occupied period: its start and end, its event (None for another requested time), its unit.
Period = tuple[datetime, datetime, Event | None, UUID | None]


def units_of(resource_ids: Iterable[UUID], organization_id: UUID | None = None) -> Units:
    """The active units of the resources, each resource's in assignment order: one query, or none with
    `organization_id` (the organization's units are in the configuration cache; resources of another
    organization then have none)."""
    wanted = set(resource_ids)
    if organization_id is not None:
        every = cached(
            organization_id,
            "units",
            lambda: _units_query(ResourceUnit.objects.filter(resource__venue__organization_id=organization_id)),
        )
        return {rid: units for rid, units in every.items() if rid in wanted}
    return _units_query(ResourceUnit.objects.filter(resource_id__in=list(wanted)))


def _units_query(units: QuerySet[ResourceUnit]) -> Units:
    out: Units = {}
    for unit in units.filter(archived=False).order_by("order", "name", "pk"):
        out.setdefault(unit.resource_id, []).append(unit)
    return out


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
    *,
    specs: Sequence[EventSpec],
    resources: dict[UUID, Resource],
    exclude_event_ids: Iterable[UUID] = (),
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
    existing = reservations_overlapping(
        resource_ids=resources.keys(), start=window_start, end=window_end, exclude_event_ids=exclude
    )
    return conflicts_among(
        specs=specs, resources=resources, reservations=existing, units=units_of(resources) if units is None else units
    )


def conflicts_check_skipping(
    *,
    specs: Sequence[EventSpec],
    resources: dict[UUID, Resource],
    exclude_event_ids: Iterable[UUID] = (),
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
    reservations = list(
        reservations_overlapping(
            resource_ids=resources.keys(), start=window_start, end=window_end, exclude_event_ids=exclude_event_ids
        )
    )
    remaining = list(specs)
    units = units_of(resources) if units is None else units
    while True:
        errors = conflicts_among(specs=remaining, resources=resources, reservations=reservations, units=units)
        by_field = {f"{s.field}.{key}": s for s in remaining if s.skippable for key in ("resourceIds", "unitId")}
        kept: list[FieldError] = []
        for error in errors:
            owner = by_field.get(error.field)
            if owner is None:
                kept.append(error)
            else:
                owner.skipped = [*(owner.skipped or []), error]
        if len(kept) == len(errors):
            return kept
        remaining = [s for s in remaining if s.skipped is None]


def conflicts_among(
    *,
    specs: Sequence[EventSpec],
    resources: dict[UUID, Resource],
    reservations: Iterable[Reservation],
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
    overlapping = _overlapping_finder(reservations, own)
    errors: list[FieldError] = []
    accepted: dict[UUID, list[Period]] = {}
    for spec in specs:
        spec.units = {}
        for rid in spec.resource_ids:
            resource = resources[rid]
            start, end = _occupied(resource, spec.start, spec.end)
            taken = overlapping(rid, start, end) + [p for p in accepted.get(rid, []) if p[0] < end and start < p[1]]
            resource_units = (units or {}).get(rid, [])
            verdict = _resource_verdict(spec, rid, resource, taken, resource_units, start, end)
            if isinstance(verdict, FieldError):
                errors.append(verdict)
                continue
            if verdict is not None:
                spec.units[rid] = verdict
            accepted.setdefault(rid, []).append((start, end, spec.event, verdict))
    return errors


def _overlapping_finder(
    reservations: Iterable[Reservation],
    own: set[UUID],
) -> Callable[[UUID, datetime, datetime], list[Period]]:
    """The reservations (but those of the events in `own`) by resource, and a function that gives the ones
    a period of a resource overlaps."""
    existing: dict[UUID, list[Period]] = {}
    for res in reservations:
        if res.event_id not in own:
            existing.setdefault(res.resource_id, []).append(
                (res.start, res.end, res.event, getattr(res, "unit_id", None))
            )
    # Sorted by start, with each resource's longest period: a spec looks only at the periods that can
    # reach it (a long repeated series against a busy resource stays n log n, not n × table).
    starts: dict[UUID, list[datetime]] = {}
    longest: dict[UUID, timedelta] = {}
    for rid, periods in existing.items():
        periods.sort(key=lambda p: p[0])
        starts[rid] = [p[0] for p in periods]
        longest[rid] = max(p[1] - p[0] for p in periods)

    def overlapping(rid: UUID, start: datetime, end: datetime) -> list[Period]:
        if rid not in existing:
            return []
        low, high = bisect_left(starts[rid], start - longest[rid]), bisect_left(starts[rid], end)
        return [p for p in existing[rid][low:high] if start < p[1]]

    return overlapping


def _resource_verdict(
    spec: EventSpec,
    rid: UUID,
    resource: Resource,
    taken: list[Period],
    resource_units: list[ResourceUnit],
    start: datetime,
    end: datetime,
) -> FieldError | UUID | None:
    """One resource of a spec against the periods it overlaps (`taken`): the error, else the unit chosen
    (None for a resource without units)."""
    capacity = min(resource.capacity, len(resource_units)) if resource_units else resource.capacity
    if resource.exclusive:
        if taken:
            ids = sorted({str(p[2].pk) for p in taken if p[2] is not None})
            titles = sorted({p[2].title for p in taken if p[2] is not None})
            what = f" by {', '.join(titles)}" if titles else " by another requested time"
            return FieldError(
                f"{spec.field}.resourceIds",
                "BOOKING_CONFLICT",
                f"{resource.name} is already booked{what} at that time.",
                {"resourceId": str(rid), "conflictingEventIds": ids},
            )
    elif _max_concurrent([(p[0], p[1]) for p in taken], start, end) + 1 > capacity:
        return FieldError(
            f"{spec.field}.resourceIds",
            "CAPACITY_EXCEEDED",
            f"{resource.name} already has {capacity} booking(s) at that time.",
            {"resourceId": str(rid), "conflictingEventIds": sorted({str(p[2].pk) for p in taken if p[2]})},
        )
    if not resource_units:
        return None
    return _unit_verdict(spec, rid, resource, taken, resource_units)


def _unit_verdict(
    spec: EventSpec,
    rid: UUID,
    resource: Resource,
    taken: list[Period],
    resource_units: list[ResourceUnit],
) -> FieldError | UUID:
    """The unit of a resource with units: the requested one if it is free, else the first free one (the
    spec's `prefer_units` first); the error when there is none."""
    busy = {p[3] for p in taken if p[3] is not None}
    names = {u.pk: u.name for u in resource_units}
    if spec.unit_id is not None and spec.unit_id in names:
        if spec.unit_id in busy:
            holders = [p[2] for p in taken if p[3] == spec.unit_id]
            titles = sorted({ev.title for ev in holders if ev is not None})
            what = f" by {', '.join(titles)}" if titles else " by another requested time"
            return FieldError(
                f"{spec.field}.unitId",
                "BOOKING_CONFLICT",
                f"{resource.name} · {names[spec.unit_id]} is already booked{what} at that time.",
                {
                    "resourceId": str(rid),
                    "unitId": str(spec.unit_id),
                    "conflictingEventIds": sorted({str(ev.pk) for ev in holders if ev is not None}),
                },
            )
        return spec.unit_id
    preferred = spec.prefer_units.get(rid)
    order = ([preferred] if preferred in names else []) + [u.pk for u in resource_units]
    unit_id = next((pk for pk in order if pk not in busy), None)
    if unit_id is None:  # only when older reservations hold units beyond the capacity count
        return FieldError(
            f"{spec.field}.resourceIds",
            "CAPACITY_EXCEEDED",
            f"No unit of {resource.name} is free at that time.",
            {"resourceId": str(rid), "conflictingEventIds": sorted({str(p[2].pk) for p in taken if p[2]})},
        )
    return unit_id


def raise_conflicts(errors: list[FieldError]) -> None:
    if not errors:
        return
    if any(e.code == "BOOKING_CONFLICT" for e in errors):
        raise BookingConflict(errors=errors)
    raise CapacityExceeded(errors=errors)


class ConflictAtInsert(BookingConflict):
    """The exclusion constraint refused a reservation that was not checked against the table first
    (events_save's `optimistic`): the transaction is spoilt, so the caller says which booking is in the way
    after its rollback."""


def write_reservations(
    pairs: Sequence[tuple[Event, Sequence[UUID], dict[UUID, UUID]]],
    resources: dict[UUID, Resource],
    *,
    at_insert: bool = False,
) -> None:
    """Each event's reservations: (event, resource ids, unit by resource id as conflicts_among chose it).
    `at_insert`: the constraint is the conflict check (ConflictAtInsert)."""
    rows = []
    for event, resource_ids, units in pairs:
        for rid in resource_ids:
            resource = resources[rid]
            start, end = _occupied(resource, event.start, event.end)
            rows.append(
                Reservation(
                    event=event,
                    resource=resource,
                    start=start,
                    end=end,
                    active=event.status != EventStatus.CANCELED,
                    exclusive=resource.exclusive,
                    unit_id=units.get(rid),
                )
            )
    try:
        # No savepoint (two statements more on every write): a constraint violation becomes a clean
        # BOOKING_CONFLICT that leaves through the caller's transaction, which rolls back.
        with transaction.atomic(savepoint=False):
            Reservation.objects.bulk_create(rows)
    except IntegrityError as exc:
        raise (ConflictAtInsert if at_insert else BookingConflict)(
            errors=[
                FieldError(
                    "event.resourceIds", "BOOKING_CONFLICT", "One of the resources is already booked at that time."
                )
            ]
        ) from exc
