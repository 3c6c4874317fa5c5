"""Writes for venues, resources (with their bookable hours) and closures (docs/architecture.md#what-each-app-owns,
docs/architecture.md#every-write-through-a-service). The API, the admin and the commands call these; the callers
check permission and shape, these check meaning. A resource's units, rates and products are written by
resources.catalog, which a resource write given `rows` calls row by row.

Field errors name the API's camelCase fields (`maxDurationMinutes`, `bookableHours[1].end`,
`units[0].name`), like every other service. A venue or resource that other records still refer to is
never deleted: IN_USE (409).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from core.errors import BookingConflict, CapacityExceeded, FieldError, InUse, ValidationFailed
from core.html import sanitize_html

from .catalog import NO_ROWS, ResourceRows, resource_rows_save
from .config_cache import config_changed
from .models import (
    BookableHours,
    Closure,
    Organization,
    Resource,
    ResourceKind,
    Venue,
    validate_timezone,
)

ORGANIZATION_FIELDS = {"name", "slug", "timezone", "currency", "personal_data_retention_days"}
VENUE_FIELDS = {"name", "address", "timezone"}
RESOURCE_FIELDS = {
    "venue",
    "name",
    "kind",
    "description",
    "capacity",
    "exclusive",
    "requires_approval",
    "archived",
    "min_duration_minutes",
    "max_duration_minutes",
    "min_notice_minutes",
    "max_advance_days",
    "buffer_minutes",
}
# What a resource owns (deleted with it); every other reverse relation is a reference that keeps it alive.
OWNED_BY_RESOURCE = {BookableHours}


@dataclass(frozen=True)
class HoursSpec:
    """One weekly bookable window in the venue's local time; `end` 00:00 means midnight at the day's end."""

    weekday: int
    start: time
    end: time


# --- organizations ----------------------------------------------------------------------------------


@transaction.atomic
def organization_save(*, organization: Organization, changes: Mapping[str, Any]) -> Organization:
    """Create (unsaved `organization`, superusers) or change an organization: name, slug, timezone, currency.
    Every submit reads the timezone and currency through the configuration cache: the change bumps it."""
    _only(changes, ORGANIZATION_FIELDS)
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    # The admin's form object is unsaved when it adds one (its id is made before the first save).
    organization = Organization.objects.select_for_update().filter(pk=organization.pk).first() or organization
    for key, value in changes.items():
        setattr(organization, key, value)
    organization.save()
    config_changed(organization_id=organization.pk)
    return organization


@transaction.atomic
def organization_delete(*, organization: Organization) -> None:
    """Delete an organization and everything it holds (superusers only, as the admin offers it)."""
    Organization.objects.filter(pk=organization.pk).delete()


# --- venues ---------------------------------------------------------------------------------------


def _check_timezone(value: str) -> None:
    if not value:
        return  # empty: the organization's
    try:
        validate_timezone(value)
    except Exception as exc:  # noqa: BLE001  (ValidationError, or anything zoneinfo raises on odd keys)
        raise ValidationFailed(
            errors=[FieldError("timezone", "INVALID", f"{value!r} is not an IANA time zone.")]
        ) from exc


@transaction.atomic
def venue_create(*, organization: Organization, name: str, address: str = "", timezone: str = "") -> Venue:
    _check_timezone(timezone)
    config_changed(organization_id=organization.pk)
    return Venue.objects.create(organization=organization, name=name, address=address, timezone=timezone)


@transaction.atomic
def venue_update(*, venue: Venue, changes: Mapping[str, Any]) -> Venue:
    """Apply `changes` (model field names: name, address, timezone)."""
    _only(changes, VENUE_FIELDS)
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    venue = Venue.objects.select_for_update(of=("self",)).select_related("organization").get(pk=venue.pk)
    for key, value in changes.items():
        setattr(venue, key, value)
    venue.save()
    config_changed(organization_id=venue.organization_id)
    return venue


@transaction.atomic
def venue_delete(*, venue: Venue) -> None:
    """Delete a venue and its resources, unless any of them is referenced (reservations, booking
    requests, modules, closures): then IN_USE, and nothing is deleted."""
    resources = Resource.objects.filter(venue=venue)
    list(resources.select_for_update().values_list("pk", flat=True))  # booking writers lock these too
    used = _references(Venue, Venue.objects.filter(pk=venue.pk), skip={Resource}) + _references(Resource, resources)
    if used:
        raise InUse(
            f"{venue.name} still has {', '.join(used)}; archive its resources instead.",
            errors=[FieldError("", "IN_USE", f"Still referenced by {', '.join(used)}.")],
        )
    venue.delete()
    config_changed(organization_id=venue.organization_id)


# --- resources ------------------------------------------------------------------------------------


@transaction.atomic
def resource_create(
    *,
    venue: Venue,
    name: str,
    kind: str = ResourceKind.ROOM,
    description: str = "",
    capacity: int = 1,
    exclusive: bool = True,
    requires_approval: bool = True,
    archived: bool = False,
    min_duration_minutes: int | None = None,
    max_duration_minutes: int | None = None,
    min_notice_minutes: int = 0,
    max_advance_days: int | None = None,
    buffer_minutes: int = 0,
    bookable_hours: Sequence[HoursSpec] = (),
    rows: ResourceRows = NO_ROWS,
) -> Resource:
    resource = Resource(
        venue=venue,
        name=name,
        kind=kind,
        description=description,
        capacity=capacity,
        exclusive=exclusive,
        requires_approval=requires_approval,
        archived=archived,
        min_duration_minutes=min_duration_minutes,
        max_duration_minutes=max_duration_minutes,
        min_notice_minutes=min_notice_minutes,
        max_advance_days=max_advance_days,
        buffer_minutes=buffer_minutes,
    )
    _check_resource(resource, bookable_hours)
    resource.save()
    _replace_hours(resource, bookable_hours)
    resource_rows_save(resource=resource, rows=rows)
    config_changed(organization_id=venue.organization_id)
    return resource


@transaction.atomic
def resource_update(
    *,
    resource: Resource,
    changes: Mapping[str, Any],
    bookable_hours: Sequence[HoursSpec] | None = None,
    rows: ResourceRows = NO_ROWS,
) -> Resource:
    """Apply `changes` (model field names; `venue` must stay in the organization). `bookable_hours`
    replaces the weekly windows as a whole; None keeps them. `rows` adds, changes and deletes units,
    rates and products one by one.

    Making a resource exclusive, or lowering a shared resource's capacity, is refused (409) while its
    upcoming reservations would break the new rule. Other rule changes apply to new bookings only.
    """
    _only(changes, RESOURCE_FIELDS)
    # Locked like the booking writers do, so no reservation slips in between the check and the change.
    resource = Resource.objects.select_for_update(of=("self",)).select_related("venue").get(pk=resource.pk)
    was_exclusive, old_capacity = resource.exclusive, resource.capacity
    venue = changes.get("venue")
    if venue is not None and venue.organization_id != resource.venue.organization_id:
        raise ValidationFailed(errors=[FieldError("venueId", "NOT_FOUND", "No such venue in this organization.")])
    for key, value in changes.items():
        setattr(resource, key, value)
    if "description" in changes:
        resource.description = sanitize_html(resource.description)
    _check_resource(resource, bookable_hours)
    if resource.exclusive and not was_exclusive:
        _check_upcoming(resource, limit=1, field="exclusive")
    elif not resource.exclusive and resource.capacity < old_capacity:
        _check_upcoming(resource, limit=resource.capacity, field="capacity")
    resource.save()
    if resource.exclusive != was_exclusive:
        # The database's no-overlap constraint covers reservations flagged exclusive
        # (docs/adr/0001-database-enforced-no-overlap.md): the live ones follow the resource.
        resource.reservations.filter(active=True, end__gt=timezone.now()).update(exclusive=resource.exclusive)
    if bookable_hours is not None:
        _replace_hours(resource, bookable_hours)
    resource_rows_save(resource=resource, rows=rows)
    config_changed(organization_id=resource.venue.organization_id)
    if venue is not None and venue.pk != resource.venue_id:
        config_changed(organization_id=venue.organization_id)
    return resource


@transaction.atomic
def resource_delete(*, resource: Resource) -> None:
    """Delete a resource nothing refers to; otherwise IN_USE (archive it instead)."""
    qs = Resource.objects.filter(pk=resource.pk)
    list(qs.select_for_update().values_list("pk", flat=True))
    used = _references(Resource, qs)
    if used:
        raise InUse(
            f"{resource.name} still has {', '.join(used)}; archive it instead.",
            errors=[FieldError("", "IN_USE", f"Still referenced by {', '.join(used)}.")],
        )
    organization_id = resource.venue.organization_id
    resource.delete()
    config_changed(organization_id=organization_id)


# --- closures ------------------------------------------------------------------------------------------

CLOSURE_FIELDS = {"start", "end", "message", "repeats_yearly"}


@transaction.atomic
def closure_create(
    *,
    organization: Organization,
    start: datetime,
    end: datetime,
    message: str = "",
    repeats_yearly: bool = False,
    resources: Sequence[Resource] = (),
) -> Closure:
    """A closure of the given resources of the organization; none given: of every resource."""
    closure = Closure(organization=organization, start=start, end=end, message=message, repeats_yearly=repeats_yearly)
    _check_closure(closure, resources)
    closure.save()
    closure.resources.set(resources)
    config_changed(organization_id=closure.organization_id)
    return closure


@transaction.atomic
def closure_update(
    *, closure: Closure, changes: Mapping[str, Any], resources: Sequence[Resource] | None = None
) -> Closure:
    """Apply `changes` (start, end, message, repeats_yearly); `resources` replaces the list, None keeps it."""
    _only(changes, CLOSURE_FIELDS)
    closure = Closure.objects.select_for_update().get(pk=closure.pk)
    for key, value in changes.items():
        setattr(closure, key, value)
    _check_closure(closure, resources or ())
    closure.save()
    if resources is not None:
        closure.resources.set(resources)
    config_changed(organization_id=closure.organization_id)
    return closure


@transaction.atomic
def closure_delete(*, closure: Closure) -> None:
    Closure.objects.select_for_update().filter(pk=closure.pk).delete()
    config_changed(organization_id=closure.organization_id)


def _check_closure(closure: Closure, resources: Sequence[Resource]) -> None:
    errors = []
    if closure.end <= closure.start:
        errors.append(FieldError("end", "END_BEFORE_START", "The closure must end after it starts."))
    others = [r.name for r in resources if r.venue.organization_id != closure.organization_id]
    if others:
        errors.append(
            FieldError("resourceIds", "NOT_FOUND", f"Not resources of this organization: {', '.join(others)}.")
        )
    if errors:
        raise ValidationFailed(errors=errors)


# --- helpers --------------------------------------------------------------------------------------


def _only(changes: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"Unknown fields: {', '.join(sorted(unknown))}")


def _references(model: type[Model], queryset: QuerySet, skip: AbstractSet[type[Model]] = frozenset()) -> list[str]:
    """The reverse relations through which other records still refer to the rows of `queryset`."""
    used = []
    for rel in model._meta.related_objects:
        if rel.related_model in skip or rel.related_model in OWNED_BY_RESOURCE:
            continue
        if queryset.filter(**{f"{rel.name}__isnull": False}).exists():
            used.append(str(rel.related_model._meta.verbose_name_plural))
    return sorted(set(used))


def _check_resource(resource: Resource, hours: Sequence[HoursSpec] | None) -> None:
    errors = []
    if (
        resource.min_duration_minutes is not None
        and resource.max_duration_minutes is not None
        and resource.min_duration_minutes > resource.max_duration_minutes
    ):
        errors.append(
            FieldError("maxDurationMinutes", "INVALID", "The maximum duration must not be shorter than the minimum.")
        )
    if resource.capacity < 1:
        errors.append(FieldError("capacity", "MIN_VALUE", "The capacity must be at least 1."))
    for index, window in enumerate(hours or ()):
        if not 0 <= window.weekday <= 6:
            errors.append(
                FieldError(f"bookableHours[{index}].weekday", "INVALID", "The weekday is 0 (Monday) to 6 (Sunday).")
            )
        if window.end <= window.start and window.end != time(0, 0):
            errors.append(
                FieldError(
                    f"bookableHours[{index}].end",
                    "END_BEFORE_START",
                    "The end must be after the start (00:00 means midnight).",
                )
            )
    if errors:
        raise ValidationFailed(errors=errors)


def _replace_hours(resource: Resource, hours: Sequence[HoursSpec]) -> None:
    resource.bookable_hours.all().delete()
    BookableHours.objects.bulk_create(
        BookableHours(resource=resource, weekday=h.weekday, start_time=h.start, end_time=h.end) for h in hours
    )


def _check_upcoming(resource: Resource, *, limit: int, field: str) -> None:
    """409 when more than `limit` upcoming active reservations of the resource share a moment."""
    rows = list(
        resource.reservations.filter(active=True, end__gt=timezone.now())
        .order_by("start")
        .values_list("start", "end", "event_id")
    )
    points: list[tuple[datetime, int, Any]] = []
    for start, end, event_id in rows:
        points += [(start, 1, event_id), (end, -1, event_id)]
    points.sort(key=lambda p: (p[0], p[1]))  # ends before starts at the same moment: adjacent is fine
    current: set[Any] = set()
    for _, delta, event_id in points:
        if delta < 0:
            current.discard(event_id)
            continue
        current.add(event_id)
        if len(current) > limit:
            meta = {"conflictingEventIds": sorted(str(e) for e in current)}
            if field == "exclusive":
                raise BookingConflict(
                    f"{resource.name} has overlapping upcoming bookings, so it cannot become exclusive.",
                    errors=[FieldError(field, "BOOKING_CONFLICT", "Upcoming bookings overlap.", meta)],
                )
            raise CapacityExceeded(
                f"{resource.name} has more than {limit} overlapping upcoming bookings.",
                errors=[FieldError(field, "CAPACITY_EXCEEDED", "Upcoming bookings need more capacity.", meta)],
            )
