"""A booking's requested times (BookingEvent rows; docs/architecture.md#glossary) and their events:
writing and updating them, holding their slots (TENTATIVE events), saving their events through
events.services (which lock the resources; docs/adr/0002-lock-order.md), linking the two, and the
occurrences of repeated requests (one EventSeries per request; docs/architecture.md#series)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from uuid import UUID

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from bookings.validation.billing import EventBilling
from bookings.validation.events import CleanEvent, occurrence_refs
from bookings.validation.repeat import Occurrence, collapse_occurrence_errors
from bookings.validation.submission import CleanSubmission
from core.errors import BookingConflict, CapacityExceeded, DomainError
from events.models import Event, EventSeries, EventStatus
from events.services.saving import events_delete, events_save
from events.services.scheduling import (
    ConflictAtInsert,
    EventSpec,
    conflicts_check,
    conflicts_check_skipping,
    raise_conflicts,
)
from events.services.status import events_set_status
from resources.models import Organization, Resource

from ..models import Booking, BookingEvent, BookingModule
from ..module_cache import prefetched
from .transitions import EventProcedure


def _resource_prefetch() -> Prefetch[str, QuerySet[Resource], str]:
    return Prefetch(
        "resources", queryset=Resource.objects.select_related("venue__organization").prefetch_related("bookable_hours")
    )


def load_booking_events(booking: Booking) -> list[BookingEvent]:
    """The booking's requested times with their event, unit and resources (venue, bookable hours). The
    resources come from the module's configuration cache where it has them (lock_booking's module): the
    requested times then name only their ids, and the hours are not read again."""
    offered = {r.pk: r for r in prefetched(booking.module, "resources") or ()}
    if not offered:
        return list(booking.requested_times.select_related("event", "unit").prefetch_related(_resource_prefetch()))
    ids_only = Prefetch("resources", queryset=Resource.objects.only("id", "name"))
    booking_events = list(booking.requested_times.select_related("event", "unit").prefetch_related(ids_only))
    missing = {r.pk for be in booking_events for r in be.resources.all()} - offered.keys()
    if missing:  # no longer offered by the module: read as before
        offered.update({r.pk: r for r in _resource_prefetch().queryset.filter(pk__in=missing)})  # type: ignore[union-attr]
    for be in booking_events:
        rows = be.resources.all()  # the prefetched rows, in Resource's order (name)
        rows._result_cache = [offered[r.pk] for r in rows]  # Django's prefetch state
    return booking_events


def insert_booking_events(booking_events: list[BookingEvent], clean_events: Sequence[CleanEvent]) -> list[BookingEvent]:
    """Two inserts whatever the number of events (a repeat series can have many): the rows as they are (their
    event and estimate when the caller set them first), and their resources."""
    created = BookingEvent.objects.bulk_create(booking_events)
    through = BookingEvent.resources.through
    through.objects.bulk_create(
        [
            through(bookingevent_id=be.pk, resource_id=r.pk)
            for be, ce in zip(created, clean_events, strict=True)
            for r in ce.resources
        ]
    )
    return created


def build_booking_events(booking: Booking, clean_events: Sequence[CleanEvent]) -> list[BookingEvent]:
    """The booking events of the clean events, not saved yet."""
    return [
        BookingEvent(
            booking=booking,
            order=order,
            title=ce.title,
            start=ce.start,
            end=ce.end,
            attendees=ce.attendees,
            answers=ce.answers,
            rate_id=ce.billing.rate_id,
            products=ce.billing.products_wire(),
            override_price=ce.billing.override_price,
            unit=ce.unit,
            repeat=ce.repeat.rule if ce.repeat else {},
            repeat_group=ce.repeat.group if ce.repeat else None,
            occurrence=ce.repeat.index if ce.repeat else None,
        )
        for order, ce in enumerate(clean_events)
    ]


def with_resources(booking_events: list[BookingEvent], clean_events: Sequence[CleanEvent]) -> list[BookingEvent]:
    """The booking events just written, holding the validated Resource objects (loaded with their venue and
    bookable hours) as their prefetched `resources`: what `load_booking_events` would read back, without the
    three queries on every submit."""
    for be, ce in zip(booking_events, clean_events, strict=True):
        resources = be.resources.all()  # unevaluated; filled below as prefetch_related would fill it
        resources._result_cache = sorted(ce.resources, key=lambda r: r.name)  # Resource.Meta.ordering
        resources._prefetch_done = True  # type: ignore[attr-defined]  # Django's private prefetch state
        be._prefetched_objects_cache = {"resources": resources}  # type: ignore[attr-defined]  # likewise
    return booking_events


def update_booking_event(be: BookingEvent, ce: CleanEvent) -> None:
    wanted = (ce.title, ce.start, ce.end, ce.attendees, ce.answers, ce.unit_id)
    if (be.title, be.start, be.end, be.attendees, be.answers, be.unit_id) != wanted:  # a series: only what changed
        be.title, be.start, be.end, be.attendees, be.answers, be.unit_id = wanted
        be.save()
    if EventBilling.of(be) != ce.billing:  # staff's pricing edits at approval
        be.rate_id, be.products, be.override_price = (
            ce.billing.rate_id,
            ce.billing.products_wire(),
            ce.billing.override_price,
        )
        be.save(update_fields=["rate", "products", "override_price", "updated_at"])
    if sorted(str(r.pk) for r in be.resources.all()) != sorted(str(r) for r in ce.resource_ids):
        be.resources.set(ce.resources)


def event_specs(
    clean_events: Sequence[CleanEvent],
    booking_events: Sequence[BookingEvent] | None = None,
    *,
    series: Mapping[UUID, EventSeries] | None = None,
    skippable: bool = False,
) -> list[EventSpec]:
    """Event specs for the clean events; a booking event's live (not canceled) Event is moved, not duplicated.
    A new event of an occurrence joins its request's series (`series`, by repeat group); with `skippable`,
    occurrences may be left out when they conflict (staff's skipConflicts)."""
    specs = []
    for i, ce in enumerate(clean_events):
        be = booking_events[i] if booking_events is not None else None
        existing = be.event if be is not None and be.event and be.event.status != EventStatus.CANCELED else None
        occurrence = ce.repeat
        specs.append(
            EventSpec(
                title=ce.title,
                start=ce.start,
                end=ce.end,
                resource_ids=ce.resource_ids,
                field=ce.field,
                event=existing,
                unit_id=ce.unit_id,
                series=(series or {}).get(occurrence.group) if occurrence else None,
                skippable=skippable and occurrence is not None,
            )
        )
    return specs


def link_events(booking_events: Sequence[BookingEvent], events: Sequence[Event]) -> None:
    """Each booking event's Event; booking events not inserted yet only carry it into their insert."""
    changed = []
    for be, ev in zip(booking_events, events, strict=True):
        if be.event_id != ev.pk:
            be.event = ev
            be.updated_at = timezone.now()
            if not be._state.adding:
                changed.append(be)
    if changed:
        BookingEvent.objects.bulk_update(changed, ["event", "updated_at"])


def occurrence_of(be: BookingEvent) -> Occurrence | None:
    return Occurrence(be.repeat, be.repeat_group, be.occurrence or 0) if be.repeat_group else None


def _series_for(
    organization: Organization, clean_events: Sequence[CleanEvent], booking_events: Sequence[BookingEvent] = ()
) -> dict[UUID, EventSeries]:
    """The EventSeries of each repeated request among the clean events, by repeat group: the one its
    occurrences' events already belong to (the holds made at submit), else a new one (the organization,
    the venue's timezone, the rule as requested). Two queries at most, whatever the number of occurrences."""
    groups: dict[UUID, tuple[CleanEvent, Occurrence]] = {}
    for ce in clean_events:
        if ce.repeat is not None:
            groups.setdefault(ce.repeat.group, (ce, ce.repeat))
    if not groups:
        return {}
    known = {
        be.repeat_group: be.event.series_id
        for be in booking_events
        if be.repeat_group in groups and be.event is not None and be.event.series_id
    }
    found: dict[UUID, EventSeries] = {}
    if known:
        by_id = EventSeries.objects.in_bulk(set(known.values()))
        found = {group: by_id[pk] for group, pk in known.items() if pk in by_id}
    new = {
        group: EventSeries(organization=organization, timezone=ce.tz.key, rule=dict(occurrence.rule))
        for group, (ce, occurrence) in groups.items()
        if group not in found
    }
    EventSeries.objects.bulk_create(new.values())
    return {**found, **new}


@contextmanager
def _errors_per_occurrence(clean_events: Sequence[CleanEvent]) -> Iterator[None]:
    """The errors of repeated requests' occurrences (conflicts) merged into one per occurrence, filed at
    its path (`event.occurrences[6]`) and named by its date."""
    try:
        yield
    except DomainError as exc:
        refs = occurrence_refs(clean_events)
        if refs:
            exc.errors = collapse_occurrence_errors(exc.errors, refs)
        raise


def _delete_booking_events(booking_events: Sequence[BookingEvent]) -> None:
    if booking_events:
        release_holds(booking_events)
        BookingEvent.objects.filter(pk__in=[be.pk for be in booking_events]).delete()


def _leave_out_skipped(
    clean: CleanSubmission, booking_events: Sequence[BookingEvent], specs: Sequence[EventSpec]
) -> list[BookingEvent]:
    """After conflicts were checked with skippable specs: the occurrences set aside move from `clean.events`
    to `clean.skipped` (one error each), their booking events (and holds) are deleted, and the booking
    events kept are returned, in order. A repeated request left with no occurrence at all refuses the
    whole request (409): never an empty series, never a silent partial write."""
    gone = [i for i, spec in enumerate(specs) if spec.skipped]
    if not gone:
        return list(booking_events)
    errors = collapse_occurrence_errors(
        [e for i in gone for e in specs[i].skipped or []], occurrence_refs(clean.events)
    )
    kept_groups = {ce.repeat.group for i, ce in enumerate(clean.events) if ce.repeat and not specs[i].skipped}
    # Only a repeated request's occurrences are skippable (event_specs).
    emptied = {
        ce.field
        for ce in (clean.events[i] for i in gone)
        if ce.repeat is not None and ce.repeat.group not in kept_groups
    }
    if emptied:
        refused = [e for e in errors if e.field in emptied]
        error_class = BookingConflict if any(e.code == "BOOKING_CONFLICT" for e in refused) else CapacityExceeded
        raise error_class("No occurrence of the repeated booking is free.", errors=refused)
    leaving = set(gone)
    _delete_booking_events([booking_events[i] for i in gone if i < len(booking_events)])
    clean.skipped.extend(errors)
    clean.events = [ce for i, ce in enumerate(clean.events) if i not in leaving]
    return [be for i, be in enumerate(booking_events) if i not in leaving]


def drop_set_aside(booking_events: Sequence[BookingEvent], clean: CleanSubmission) -> list[BookingEvent]:
    """An existing booking's events that validation kept (approval with skipConflicts sets aside the
    occurrences that break a rule): the others are deleted, with their holds."""
    if not clean.skipped:
        return list(booking_events)
    kept = {str(ce.booking_event_id) for ce in clean.events}
    _delete_booking_events([be for be in booking_events if str(be.pk) not in kept])
    return [be for be in booking_events if str(be.pk) in kept]


def save_events(
    organization: Organization,
    clean: CleanSubmission,
    booking_events: Sequence[BookingEvent],
    *,
    status: int,
    skip: bool = False,
    move: bool = False,
    optimistic: bool = False,
) -> tuple[list[Event], list[BookingEvent]]:
    """events_save for the clean events (one per booking event, in order; `move`: the booking events'
    live events are moved rather than new ones made), each repeated request's occurrences in one
    EventSeries, its conflicts one error per occurrence. With `skip`, occurrences that conflict are left
    out (see _leave_out_skipped). Returns the events and the booking events they belong to."""
    specs = event_specs(
        clean.events,
        booking_events if move else None,
        series=_series_for(organization, clean.events, booking_events),
        skippable=skip,
    )
    with _errors_per_occurrence(clean.events):
        events = events_save(
            organization=organization,
            specs=specs,
            status=status,
            optimistic=optimistic,
            known={r.pk: r for ce in clean.events for r in ce.resources},
            nested=True,  # inside the booking service's transaction
        )
        return events, _leave_out_skipped(clean, booking_events, specs)


def _held_events(booking_events: Sequence[BookingEvent]) -> list[Event]:
    return [be.event for be in booking_events if be.event and be.event.status == EventStatus.TENTATIVE]


def release_holds(booking_events: Sequence[BookingEvent]) -> None:
    held = _held_events(booking_events)
    if held:
        events_delete(events=held)
        for be in booking_events:
            if be.event in held:
                be.event = None


def end_events(booking_events: Sequence[BookingEvent], event_procedure: int) -> list[Event]:
    """Cancel or delete the booking's live events; return the ones that still exist (canceled)."""
    live = [be.event for be in booking_events if be.event and be.event.status != EventStatus.CANCELED]
    if event_procedure == EventProcedure.DELETE:
        if live:
            events_delete(events=live)
        for be in booking_events:
            be.event = None
        return []
    if live:
        events_set_status(events=live, status=EventStatus.CANCELED)
    return live


def hold_or_check(
    module: BookingModule,
    booking_events: list[BookingEvent],
    clean: CleanSubmission,
    *,
    skip: bool = False,
    optimistic: bool = False,
) -> tuple[list[Event], list[BookingEvent]]:
    """A pending request holds its slots with TENTATIVE events when the module says so (a repeated
    request's holds in one EventSeries); otherwise it is only refused when the slot is already taken (two
    unheld requests may compete for one slot). With `skip` (staff), occurrences that conflict are left
    out instead. Returns the holds and the booking events kept. `optimistic`: see events_save (the caller
    turns a ConflictAtInsert into the described conflict with describe_conflict)."""
    if module.hold_pending_slots:
        held, booking_events = save_events(
            module.organization, clean, booking_events, status=EventStatus.TENTATIVE, skip=skip, optimistic=optimistic
        )
        link_events(booking_events, held)
        return held, booking_events
    resources = {r.pk: r for ce in clean.events for r in ce.resources}
    specs = event_specs(clean.events, skippable=skip)
    with _errors_per_occurrence(clean.events):
        check = conflicts_check_skipping if skip else conflicts_check
        errors = check(specs=specs, resources=resources)
        if errors:
            error_class = BookingConflict if any(e.code == "BOOKING_CONFLICT" for e in errors) else CapacityExceeded
            raise error_class(errors=errors)
        return [], _leave_out_skipped(clean, booking_events, specs)


def describe_conflict(clean: CleanSubmission, error: ConflictAtInsert) -> DomainError:
    """The conflict an optimistic write met at its insert, described as the check before the insert would
    have (which requested time, which resource, which events), read once the transaction rolled back;
    `error` itself when the booking in the way is gone meanwhile."""
    resources = {r.pk: r for ce in clean.events for r in ce.resources}
    errors = conflicts_check(specs=event_specs(clean.events), resources=resources)
    if not errors:
        return error
    try:
        with _errors_per_occurrence(clean.events):
            raise_conflicts(errors)
    except DomainError as described:
        return described
    return error
