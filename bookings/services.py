"""The booking lifecycle of DESIGN §4: the only code that changes a booking's status.

Every service runs in one transaction: it locks the booking row, checks the move against TRANSITIONS,
does the work (events through events.services, which lock the resources), writes one BookingLog row and
enqueues its emails as Notification rows. If anything fails, all of it rolls back: no event, no log
row, no email.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.text import slugify

from core.actor import Actor, ActorKind
from core.errors import (
    BookingConflict,
    CapacityExceeded,
    DomainError,
    FieldError,
    ImmutableField,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleBooking,
    ValidationFailed,
)
from core.ids import as_uuid
from core.tokens import new_token
from events.models import Event, EventSeries, EventStatus, Reservation
from events.series import (
    WHICH_EVENTS,
    WhichEvents,
    local_delta,
    local_shift,
    series_tz,
    which_events_covers,
    which_events_parse,
)
from events.services import (
    EventSpec,
    conflicts_check,
    conflicts_check_skipping,
    events_delete,
    events_save,
    events_set_status,
)
from notifications.services import NotificationSpec
from resources.models import Membership, Organization, Resource
from webhooks.services import webhook_emit

from .models import (
    Booking,
    BookingChangeRequest,
    BookingEvent,
    BookingLog,
    BookingModule,
    BookingStatus,
    BookingVisitor,
    ChangeRequestDecision,
    Contact,
    Customer,
    FieldType,
    FormField,
    FormSection,
    ModuleResource,
    Portal,
    PortalStatus,
    random_portal_slug,
)
from .notify import notify_admin, notify_booker, notify_visitors
from .pricing.estimate import apply_booking_billing, booking_estimate
from .pricing.fixing import booking_events_release, booking_price_fix, event_price_override, update_booking_billing
from .validation.billing import (
    BookingBilling,
    EventBilling,
    check_charge_flags,
    refuse_billing_changes,
    refuse_public_override,
)
from .validation.events import CleanEvent, check_event_rules, clean_visitors, occurrence_refs, parse_moment
from .validation.fields import clean_note, clean_title, validate_contact
from .validation.repeat import Occurrence, collapse_occurrence_errors
from .validation.submission import CleanSubmission, check_repeat_allowed, validate_submission

S = BookingStatus

# action -> {from status: to status}. Anything not listed is INVALID_TRANSITION.
TRANSITIONS: dict[str, dict[int, int]] = {
    "approve": {S.PENDING: S.APPROVED},
    "deny": {S.PENDING: S.DENIED},
    "cancel": {S.APPROVED: S.CANCELED},
    "update": {s: s for s in S},
    "change_request_submit": {S.PENDING: S.PENDING, S.APPROVED: S.APPROVED},
    # A pending booking is canceled directly; an approved one gets a cancellation change request.
    "booker_cancel": {S.PENDING: S.CANCELED, S.APPROVED: S.APPROVED},
    "change_request_approve": {S.APPROVED: S.APPROVED},
    "change_request_approve_cancellation": {S.APPROVED: S.CANCELED},
    "change_request_deny": {S.APPROVED: S.APPROVED},
}


ACTION_WORDS = {
    "approve": "approved",
    "deny": "denied",
    "cancel": "canceled by staff (only approved bookings can be)",
    "update": "updated",
    "change_request_submit": "changed",
    "booker_cancel": "canceled",
    "change_request_approve": "changed through a change request",
    "change_request_approve_cancellation": "canceled through a change request",
    "change_request_deny": "the subject of a change request decision",
}


class EventProcedure:
    CANCEL = 0
    DELETE = 1


@dataclass
class BookingResult:
    booking: Booking
    events: list[Event] = field(default_factory=list)
    access_token: str | None = None
    change_request: BookingChangeRequest | None = None
    applied: bool = False  # change request submit: applied directly to a pending booking
    # Occurrences of a repeated request left out (staff's skipConflicts), one error each with its date.
    skipped: list[FieldError] = field(default_factory=list)


# --- helpers ---------------------------------------------------------------------------------------


def _resource_prefetch() -> Prefetch:
    return Prefetch("resources", queryset=Resource.objects.select_related("venue__organization")
                    .prefetch_related("bookable_hours"))


def _lock_booking(booking_id: UUID | str) -> Booking:
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("organization", "module__organization", "module__admin_user", "portal")
        .filter(pk=as_uuid(booking_id)).first()
    ) if as_uuid(booking_id) else None
    if booking is None:
        raise NotFound("Booking not found.")
    return booking


def _booking_events(booking: Booking) -> list[BookingEvent]:
    return list(booking.events.select_related("event", "unit").prefetch_related(_resource_prefetch()))


def _check_transition(booking: Booking, action: str) -> int:
    allowed = TRANSITIONS[action]
    if booking.status not in allowed:
        label = BookingStatus(booking.status).label.lower()
        article = "An" if label[0] in "aeiou" else "A"
        raise InvalidTransition(f"{article} {label} booking cannot be {ACTION_WORDS[action]}.")
    return allowed[booking.status]


def _mark_decided(booking: Booking, actor: Actor, status: int) -> None:
    booking.status = status
    booking.decided_by = actor.db_user
    booking.decided_at = timezone.now()
    booking.save()


def _check_fresh(booking: Booking, client_last_updated_at: datetime | None) -> None:
    """Refuse to decide on a booking that changed after the deciding person read it.

    Exact equality with the lastUpdatedAt the client was given: a later or made-up value is as stale as
    an earlier one."""
    if client_last_updated_at is None:
        return
    if not isinstance(client_last_updated_at, datetime) or timezone.is_naive(client_last_updated_at):
        raise ValidationFailed(errors=[FieldError("clientBookingLastUpdatedAt", "INVALID",
                                                  "Send the booking's lastUpdatedAt as you received it.")])
    if booking.updated_at != client_last_updated_at:
        raise StaleBooking(errors=[FieldError(
            "clientBookingLastUpdatedAt", "STALE_BOOKING",
            f"The booking was changed at {booking.updated_at.isoformat()}; reload it and decide again.",
            {"lastUpdatedAt": booking.updated_at.isoformat()},
        )])


def _snapshot(booking: Booking, booking_events: Sequence[BookingEvent]) -> dict[str, Any]:
    return {
        "status": int(booking.status),
        "title": booking.title,
        "customerId": str(booking.customer_id) if booking.customer_id else None,
        "contactId": str(booking.contact_id) if booking.contact_id else None,
        "contact": dict(booking.contact_answers),
        "events": [
            {
                "id": str(be.pk),
                "title": be.title,
                "start": be.start.isoformat(),
                "end": be.end.isoformat(),
                "resourceIds": sorted(str(r.pk) for r in be.resources.all()),
                "attendees": be.attendees,
                "answers": dict(be.answers),
                "eventId": str(be.event_id) if be.event_id else None,
                **({"unitId": str(be.unit_id)} if be.unit_id else {}),
            }
            for be in booking_events
        ],
    }


def _log(booking: Booking, actor: Actor, action: str, before: dict, after: dict, note: str = "") -> BookingLog:
    changed = [k for k in after.keys() | before.keys() if before.get(k) != after.get(k)]
    return BookingLog.objects.create(
        booking=booking,
        actor_kind=actor.kind,
        actor_user=actor.db_user,
        actor_label=actor.label[:200],
        action=action,
        before={k: before.get(k) for k in sorted(changed)},
        after={k: after.get(k) for k in sorted(changed)},
        note=note,
    )


def _rules_override_note(clean_events: list[CleanEvent], organization, now: datetime | None) -> str:
    """What staff overrode, for the log (empty when no rule was broken)."""
    broken = check_event_rules(clean_events, organization=organization, now=now)
    if not broken:
        return ""
    return "Rules overridden: " + "; ".join(f"{e.field} {e.code}" for e in broken)


def _write_booking_events(booking: Booking, clean_events: Sequence[CleanEvent]) -> list[BookingEvent]:
    # Two inserts whatever the number of events (a repeat series can have many).
    created = BookingEvent.objects.bulk_create([
        BookingEvent(booking=booking, order=order, title=ce.title, start=ce.start, end=ce.end,
                     attendees=ce.attendees, answers=ce.answers, rate_id=ce.billing.rate_id,
                     products=ce.billing.products_wire(), override_price=ce.billing.override_price, unit=ce.unit,
                     repeat=ce.repeat.rule if ce.repeat else {}, repeat_group=ce.repeat.group if ce.repeat else None,
                     occurrence=ce.repeat.index if ce.repeat else None)
        for order, ce in enumerate(clean_events)
    ])
    through = BookingEvent.resources.through
    through.objects.bulk_create([
        through(bookingevent_id=be.pk, resource_id=r.pk) for be, ce in zip(created, clean_events, strict=True)
        for r in ce.resources
    ])
    return created


def _with_resources(booking_events: list[BookingEvent], clean_events: Sequence[CleanEvent]) -> list[BookingEvent]:
    """The booking events just written, holding the validated Resource objects (loaded with their venue and
    bookable hours) as their prefetched `resources`: what `_booking_events` would read back, without the
    three queries on every submit."""
    for be, ce in zip(booking_events, clean_events, strict=True):
        resources = be.resources.all()  # unevaluated; filled below as prefetch_related would fill it
        resources._result_cache = sorted(ce.resources, key=lambda r: r.name)  # Resource.Meta.ordering
        resources._prefetch_done = True
        be._prefetched_objects_cache = {"resources": resources}
    return booking_events


def _update_booking_event(be: BookingEvent, ce: CleanEvent) -> None:
    wanted = (ce.title, ce.start, ce.end, ce.attendees, ce.answers, ce.unit_id)
    if (be.title, be.start, be.end, be.attendees, be.answers, be.unit_id) != wanted:  # a series: only what changed
        be.title, be.start, be.end, be.attendees, be.answers, be.unit_id = wanted
        be.save()
    if EventBilling.of(be) != ce.billing:  # staff's pricing edits at approval
        be.rate_id, be.products, be.override_price = (ce.billing.rate_id, ce.billing.products_wire(),
                                                      ce.billing.override_price)
        be.save(update_fields=["rate", "products", "override_price", "updated_at"])
    if sorted(str(r.pk) for r in be.resources.all()) != sorted(str(r) for r in ce.resource_ids):
        be.resources.set(ce.resources)


def _specs(
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
        specs.append(EventSpec(title=ce.title, start=ce.start, end=ce.end, resource_ids=ce.resource_ids,
                               field=ce.field, event=existing, unit_id=ce.unit_id,
                               series=(series or {}).get(occurrence.group) if occurrence else None,
                               skippable=skippable and occurrence is not None))
    return specs


def _link_events(booking_events: Sequence[BookingEvent], events: Sequence[Event]) -> None:
    changed = []
    for be, ev in zip(booking_events, events, strict=True):
        if be.event_id != ev.pk:
            be.event = ev
            be.updated_at = timezone.now()
            changed.append(be)
    if changed:
        BookingEvent.objects.bulk_update(changed, ["event", "updated_at"])


def _occurrence_of(be: BookingEvent) -> Occurrence | None:
    return Occurrence(be.repeat, be.repeat_group, be.occurrence or 0) if be.repeat_group else None


def _series_for(
    organization: Organization, clean_events: Sequence[CleanEvent], booking_events: Sequence[BookingEvent] = ()
) -> dict[UUID, EventSeries]:
    """The EventSeries of each repeated request among the clean events, by repeat group: the one its
    occurrences' events already belong to (the holds made at submit), else a new one (the organization,
    the venue's timezone, the rule as requested). Two queries at most, whatever the number of occurrences."""
    groups: dict[UUID, CleanEvent] = {}
    for ce in clean_events:
        if ce.repeat is not None:
            groups.setdefault(ce.repeat.group, ce)
    if not groups:
        return {}
    known = {be.repeat_group: be.event.series_id for be in booking_events
             if be.repeat_group in groups and be.event is not None and be.event.series_id}
    found: dict[UUID, EventSeries] = {}
    if known:
        by_id = EventSeries.objects.in_bulk(set(known.values()))
        found = {group: by_id[pk] for group, pk in known.items() if pk in by_id}
    new = {group: EventSeries(organization=organization, timezone=ce.tz.key, rule=dict(ce.repeat.rule))
           for group, ce in groups.items() if group not in found}
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
        _release_holds(booking_events)
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
    errors = collapse_occurrence_errors([e for i in gone for e in specs[i].skipped], occurrence_refs(clean.events))
    kept_groups = {ce.repeat.group for i, ce in enumerate(clean.events) if ce.repeat and not specs[i].skipped}
    emptied = {clean.events[i].field for i in gone if clean.events[i].repeat.group not in kept_groups}
    if emptied:
        refused = [e for e in errors if e.field in emptied]
        error_class = BookingConflict if any(e.code == "BOOKING_CONFLICT" for e in refused) else CapacityExceeded
        raise error_class("No occurrence of the repeated booking is free.", errors=refused)
    leaving = set(gone)
    _delete_booking_events([booking_events[i] for i in gone if i < len(booking_events)])
    clean.skipped.extend(errors)
    clean.events = [ce for i, ce in enumerate(clean.events) if i not in leaving]
    return [be for i, be in enumerate(booking_events) if i not in leaving]


def _drop_set_aside(booking_events: Sequence[BookingEvent], clean: CleanSubmission) -> list[BookingEvent]:
    """An existing booking's events that validation kept (approval with skipConflicts sets aside the
    occurrences that break a rule): the others are deleted, with their holds."""
    if not clean.skipped:
        return list(booking_events)
    kept = {str(ce.booking_event_id) for ce in clean.events}
    _delete_booking_events([be for be in booking_events if str(be.pk) not in kept])
    return [be for be in booking_events if str(be.pk) in kept]


def _save_events(
    organization: Organization,
    clean: CleanSubmission,
    booking_events: Sequence[BookingEvent],
    *,
    status: int,
    skip: bool = False,
    move: bool = False,
) -> tuple[list[Event], list[BookingEvent]]:
    """events_save for the clean events (one per booking event, in order; `move`: the booking events'
    live events are moved rather than new ones made), each repeated request's occurrences in one
    EventSeries, its conflicts one error per occurrence. With `skip`, occurrences that conflict are left
    out (see _leave_out_skipped). Returns the events and the booking events they belong to."""
    specs = _specs(clean.events, booking_events if move else None,
                   series=_series_for(organization, clean.events, booking_events), skippable=skip)
    with _errors_per_occurrence(clean.events):
        events = events_save(organization=organization, specs=specs, status=status)
        return events, _leave_out_skipped(clean, booking_events, specs)


def _skipped_note(skipped: Sequence[FieldError]) -> str:
    """The log's account of the occurrences left out (their local date and time and why)."""
    if not skipped:
        return ""
    items = []
    for error in skipped:
        local = error.meta.get("startLocal")
        when = f"{datetime.fromisoformat(local):%a %d %b %Y %H:%M}" if local else error.field
        items.append(f"{when} {error.code}")
    return f"Skipped {len(skipped)} occurrence{'s' if len(skipped) != 1 else ''}: " + "; ".join(items)


def _held_events(booking_events: Sequence[BookingEvent]) -> list[Event]:
    return [be.event for be in booking_events if be.event and be.event.status == EventStatus.TENTATIVE]


def _release_holds(booking_events: Sequence[BookingEvent]) -> None:
    held = _held_events(booking_events)
    if held:
        events_delete(events=held)
        for be in booking_events:
            if be.event in held:
                be.event = None


def _end_events(booking_events: Sequence[BookingEvent], event_procedure: int) -> list[Event]:
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


def _withdraw_open_change_requests(booking: Booking, decision: str, actor: Actor) -> None:
    BookingChangeRequest.open.filter(booking=booking).update(
        decision=decision, decided_at=timezone.now(), decided_by=actor.db_user
    )


def _emit(booking: Booking, event_type: str, change_request: BookingChangeRequest | None = None) -> None:
    """Integrators' webhooks (DESIGN §9), in this transaction: the booking (and the change request) as the
    staff API shows them at this point, so the payload is what commits, and a rollback sends nothing."""
    from .selectors import booking_payload, change_requests_payload  # the selectors import this module

    def payload() -> dict[str, Any]:
        data: dict[str, Any] = {"booking": booking_payload(booking, staff=True)}
        if change_request is not None:
            [data["changeRequest"]] = change_requests_payload(
                BookingChangeRequest.objects.filter(pk=change_request.pk))
        return data

    webhook_emit(organization=booking.organization_id, event_type=event_type, payload=payload)


# The webhook of a booking staff create: the status it starts in.
CREATED_EVENT_TYPES = {S.PENDING: "booking.submitted", S.APPROVED: "booking.approved", S.DENIED: "booking.denied",
                       S.CANCELED: "booking.canceled"}


def _contact_record(booking_org, answers: dict[str, Any]) -> Contact | None:
    """The organization's contact with this email, created on first sight."""
    email = answers.get("email")
    if not email:
        return None
    contact, _ = Contact.objects.get_or_create(
        organization=booking_org, email__iexact=email,
        defaults={"email": email, "name": answers.get("name", ""), "phone": answers.get("phone") or ""},
    )
    return contact


def _resolve(model, organization, value: Any, field_name: str):
    """A customer/contact id of this organization; "" or None clears it."""
    if value in ("", None):
        return None
    found = model.objects.filter(organization=organization, pk=as_uuid(value)).first() if as_uuid(value) else None
    if found is None:
        raise ValidationFailed(errors=[FieldError(field_name, "NOT_FOUND",
                                                  f"No {model._meta.verbose_name} with id {value}.")])
    return found


_UNSET: Any = object()


def _answers_for_merge(be: BookingEvent) -> dict[str, Any]:
    return {
        "bookingEventId": str(be.pk),
        "title": be.title,
        "start": be.start.isoformat(),
        "end": be.end.isoformat(),
        "resourceIds": [str(r.pk) for r in be.resources.all()],
        "attendees": be.attendees,
        "unitId": str(be.unit_id) if be.unit_id else None,
        **be.answers,
        "rateId": str(be.rate_id) if be.rate_id else None,
        "products": list(be.products or []),
        "overridePrice": None if be.override_price is None else str(be.override_price),
    }


def _unit_stays(be: BookingEvent | None, resource_ids: Any) -> bool:
    """Whether a booking event's requested unit is of one of the resources a change names."""
    if be is None or be.unit_id is None or not isinstance(resource_ids, list):
        return False
    return str(be.unit.resource_id) in {str(r) for r in resource_ids}


def _merge(
    booking: Booking,
    booking_events: Sequence[BookingEvent],
    contact_changes: dict[str, Any] | None,
    event_changes: Sequence[dict[str, Any]] | None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Current answers with partial changes laid over them. Each event change names its
    `bookingEventId`, or may leave it out when the booking has one event."""
    if contact_changes is not None and not isinstance(contact_changes, dict):
        raise ValidationFailed(errors=[FieldError("contact", "INVALID", "The contact changes must be an object.")])
    if event_changes is not None and not isinstance(event_changes, list | tuple):
        raise ValidationFailed(errors=[FieldError("events", "INVALID", "The event changes must be a list.")])
    contact = {**booking.contact_answers, **(contact_changes or {})}
    events = [_answers_for_merge(be) for be in booking_events]
    by_id = {e["bookingEventId"]: e for e in events}
    by_be = {str(be.pk): be for be in booking_events}
    errors = []
    immutable = [FieldError(f"{'event' if len(event_changes) == 1 else f'events[{i}]'}.repeat", "IMMUTABLE_FIELD",
                            "A repeat is set when the booking is made: no occurrence can be added or changed by it.")
                 for i, change in enumerate(event_changes or []) if isinstance(change, dict) and "repeat" in change]
    if immutable:
        raise ImmutableField("A repeat can only be set when the booking is made.", errors=immutable)
    for i, change in enumerate(event_changes or []):
        path = "event" if len(event_changes or []) == 1 else f"events[{i}]"
        if not isinstance(change, dict):
            errors.append(FieldError(path, "INVALID", "Each event change must be an object."))
            continue
        target_id = change.get("bookingEventId")
        if target_id is None and len(events) == 1:
            target_id = events[0]["bookingEventId"]
        target = by_id.get(str(target_id)) if target_id is not None else None
        if target is None:
            errors.append(FieldError(f"{path}.bookingEventId", "NOT_FOUND",
                                     "Name the bookingEventId of the requested time to change."))
            continue
        if "resourceIds" in change and "unitId" not in change and not _unit_stays(
                by_be.get(target["bookingEventId"]), change["resourceIds"]):
            target["unitId"] = None  # the unit was one of the old resources'; a free one is assigned again
        target.update({k: v for k, v in change.items() if k not in ("bookingEventId", WHICH_EVENTS)})
        if WHICH_EVENTS in change:  # a series change: the other occurrences it chooses follow
            _spread_series_change(booking_events, by_id, target["bookingEventId"], change, path, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    return contact, events


def _series_scope(
    booking_events: Sequence[BookingEvent], target: BookingEvent, which: WhichEvents
) -> tuple[list[BookingEvent], Any]:
    """The booking's other occurrences that a change addressed to `target` chooses (events.series: those of
    the same series on the calendar, not canceled), and the series' timezone."""
    event = target.event
    if which == WhichEvents.THIS or event is None or event.series_id is None:
        return [], None
    covered = [be for be in booking_events if be.pk != target.pk and be.event is not None
               and be.event.series_id == event.series_id and be.event.status != EventStatus.CANCELED
               and which_events_covers(which, start=be.event.start, target_start=event.start)]
    first = next(iter(target.resources.all()), None)
    fallback = first.venue.tz if first else target.booking.organization.tz
    name = EventSeries.objects.filter(pk=event.series_id).values_list("timezone", flat=True).first()
    return covered, series_tz(name, fallback)


def _spread_series_change(
    booking_events: Sequence[BookingEvent], by_id: dict[str, dict[str, Any]], target_id: str,
    change: dict[str, Any], path: str, errors: list[FieldError],
) -> None:
    """A change with whichEventsToUpdate 2 (this and later) or 3 (all) applies to the other occurrences it
    chooses as the events API applies it: the same answers, and a time change as the same wall-clock
    shift in the series' timezone (events.series), from each occurrence's current time."""
    try:
        which = which_events_parse(change.get(WHICH_EVENTS), deleting=False, field=f"{path}.{WHICH_EVENTS}",
                                   charges=False)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        return
    target = next(be for be in booking_events if str(be.pk) == target_id)
    covered, tz = _series_scope(booking_events, target, which)
    if not covered:
        return
    copied = {k: v for k, v in change.items() if k not in ("bookingEventId", WHICH_EVENTS, "start", "end")}
    shifts = {}
    for key in ("start", "end"):
        moment = parse_moment(change.get(key), tz) if key in change else None
        if moment is not None:  # an unreadable time is reported on the addressed occurrence
            shifts[key] = local_delta(getattr(target, key), moment, tz)
    for be in covered:
        answers = by_id[str(be.pk)]
        answers.update(copied)
        for key, delta in shifts.items():
            answers[key] = local_shift(getattr(be, key), delta, tz).isoformat()


def _series_changes_compact(
    booking_events: Sequence[BookingEvent], requested: Sequence[Any] | None, changes: list[dict[str, Any]],
    clean: CleanSubmission,
) -> list[dict[str, Any]]:
    """How a change request keeps a series change: as it was asked (the addressed occurrence's change with
    its whichEventsToUpdate, spread again when approved, over the series as it is then) followed by the
    changes of occurrences it does not cover or that were named on their own; not one entry per occurrence."""
    index = {str(be.pk): i for i, be in enumerate(booking_events)}
    heads: list[dict[str, Any]] = []
    covered: set[str] = set()
    named: set[str] = set()
    for change in requested or []:
        if not isinstance(change, dict):
            continue
        target_id = str(change.get("bookingEventId") or (booking_events[0].pk if len(booking_events) == 1 else ""))
        which = which_events_parse(change.get(WHICH_EVENTS), deleting=False, charges=False)  # _merge checked it
        if which == WhichEvents.THIS or target_id not in index:
            named.add(target_id)
            continue
        target = booking_events[index[target_id]]
        scope, _ = _series_scope(booking_events, target, which)
        covered |= {str(be.pk) for be in scope}
        ce = clean.events[index[target_id]]
        wanted = {"title": ce.title, "start": ce.start.isoformat(), "end": ce.end.isoformat(),
                  "resourceIds": [str(r) for r in ce.resource_ids], "attendees": ce.attendees, **ce.answers}
        heads.append({"bookingEventId": target_id, **{k: wanted[k] for k in change if k in wanted},
                      WHICH_EVENTS: int(which)})
    if not heads:
        return changes
    covered |= {head["bookingEventId"] for head in heads}
    return heads + [c for c in changes if c["bookingEventId"] not in covered or c["bookingEventId"] in named]


def _merge_and_validate(
    booking: Booking,
    booking_events: Sequence[BookingEvent],
    *,
    contact_changes: dict[str, Any] | None = None,
    event_changes: Sequence[dict[str, Any]] | None = None,
    check_rules: bool = True,
    only_moved_rules: bool = False,
    now: datetime | None = None,
    skip_failing: bool = False,
    repeats: Sequence[Occurrence | None] | None = None,
) -> CleanSubmission:
    """Validate the booking's answers with the changes applied, as an existing booking (see
    validate_submission). With `only_moved_rules`, booking rules are checked only for the times that
    move or change resources: an approved booking with a past occurrence can still change its phone.
    `skip_failing` and `repeats` (each booking event's occurrence): as validate_submission's."""
    contact, events = _merge(booking, booking_events, contact_changes, event_changes)
    moved = None
    if only_moved_rules:
        current = {str(be.pk): _answers_for_merge(be) for be in booking_events}

        def moves(event: dict[str, Any]) -> bool:
            before = current[str(event["bookingEventId"])]
            return (event.get("start") != before["start"] or event.get("end") != before["end"]
                    or sorted(map(str, event.get("resourceIds") or [])) != sorted(before["resourceIds"]))

        moved = {str(e["bookingEventId"]) for e in events if moves(e)}
    held = {str(r.pk): r for be in booking_events for r in be.resources.all()}
    return validate_submission(module=booking.module, contact=contact, events=events,
                               single_event=len(events) == 1, check_rules=check_rules, rules_for=moved,
                               existing=held, now=now, skip_failing=skip_failing, repeats=repeats)


def _parse_event_procedure(value: Any) -> int:
    if not isinstance(value, bool) and value in (EventProcedure.CANCEL, EventProcedure.DELETE):
        return int(value)
    raise ValidationFailed(errors=[FieldError("eventProcedure", "INVALID",
                                              "eventProcedure is 0 (cancel) or 1 (delete).")])


# --- create ----------------------------------------------------------------------------------------


def _new_booking(
    *,
    module: BookingModule,
    portal: Portal | None,
    status: int,
    submission: bool,
    clean: CleanSubmission,
    title: str | None,
    request_note: str,
    customer: Customer | None,
    contact: Contact | None,
    billing_choices: BookingBilling | None = None,
) -> tuple[Booking, str, list[BookingEvent]]:
    token, token_hash = new_token()
    title = clean_title(title)
    booking = Booking(
        organization=module.organization,
        module=module,
        portal=portal,
        customer=customer,
        contact=contact or _contact_record(module.organization, clean.contact),
        status=status,
        submission=submission,
        title=title or (clean.events[0].title if clean.events else "Booking"),
        contact_answers=clean.contact,
        request_note=clean_note(request_note),
        access_token_hash=token_hash,
    )
    apply_booking_billing(booking, billing_choices)
    booking.save()
    return booking, token, _with_resources(_write_booking_events(booking, clean.events), clean.events)


def _hold_or_check(
    module: BookingModule, booking_events: list[BookingEvent], clean: CleanSubmission, *, skip: bool = False
) -> tuple[list[Event], list[BookingEvent]]:
    """A pending request holds its slots with TENTATIVE events when the module says so (a repeated
    request's holds in one EventSeries); otherwise it is only refused when the slot is already taken (two
    unheld requests may compete for one slot). With `skip` (staff), occurrences that conflict are left
    out instead. Returns the holds and the booking events kept."""
    if module.hold_pending_slots:
        held, booking_events = _save_events(module.organization, clean, booking_events, status=EventStatus.TENTATIVE,
                                            skip=skip)
        _link_events(booking_events, held)
        return held, booking_events
    resources = {r.pk: r for ce in clean.events for r in ce.resources}
    specs = _specs(clean.events, skippable=skip)
    with _errors_per_occurrence(clean.events):
        check = conflicts_check_skipping if skip else conflicts_check
        errors = check(specs=specs, resources=resources)
        if errors:
            error_class = BookingConflict if any(e.code == "BOOKING_CONFLICT" for e in errors) else CapacityExceeded
            raise error_class(errors=errors)
        return [], _leave_out_skipped(clean, booking_events, specs)


def booking_submit(
    *,
    module: BookingModule,
    portal: Portal,
    contact: Any,
    events: Any,
    single_event: bool = False,
    title: str | None = None,
    request_note: str = "",
    visitors: Any = None,
    actor: Actor | None = None,
    now: datetime | None = None,
    billing_choices: BookingBilling | None = None,
) -> BookingResult:
    """A booker's request: validated against the module's form and the resources' rules, PENDING, and
    (when the module holds pending slots) holding its times with TENTATIVE events. `repeat` only when the
    module allows repeat requests. Errors keep their detail (conflicting events); what shows them to the
    public passes them through validation.public_errors.

    `visitors` ([{name, email}], see validation.clean_visitors) are invited when the booking is approved.
    Instant confirmation (see _auto_approves): the request is then approved in the same transaction by
    booking_approve itself (actor: the system), and the booker gets the approval email with the private
    link instead of "received"; the module admin a notice instead of "new request"."""
    actor = actor or Actor.booker((contact or {}).get("email", "") if isinstance(contact, dict) else "")
    if portal.organization_id != module.organization_id or portal.status != PortalStatus.LIVE \
            or not module.portals.filter(pk=portal.pk).exists():
        raise NotFound("This booking form is not published.")
    check_repeat_allowed(module=module, events=events, single_event=single_event)
    refuse_public_override(events, single_event=single_event)
    check_charge_flags(billing_choices, approved=False)
    with transaction.atomic():
        clean = validate_submission(module=module, contact=contact, events=events, single_event=single_event, now=now)
        guests = clean_visitors(visitors, _resources_of(clean))
        booking, token, booking_events = _new_booking(
            module=module, portal=portal, status=BookingStatus.PENDING, submission=True, clean=clean,
            title=title, request_note=request_note, customer=None, contact=None, billing_choices=billing_choices,
        )
        _add_visitors(booking, guests)
        held, booking_events = _hold_or_check(module, booking_events, clean)
        booking_estimate(booking=booking, booking_events=booking_events, now=now,
                                 fields=[ce.field for ce in clean.events])
        _log(booking, actor, "submit", {}, _snapshot(booking, booking_events))
        if _auto_approves(module, clean):
            _emit(booking, "booking.submitted")
            approved = booking_approve(booking_id=booking.pk, actor=Actor.system(), client_last_updated_at=None,
                                       now=now, access_token=token, note=AUTO_APPROVED_NOTE)
            notify_admin(approved.booking, "admin_booking_auto_approved", _booking_events(approved.booking),
                         note=approved.booking.request_note)
            return BookingResult(booking=approved.booking, events=approved.events, access_token=token)
        notify_booker(booking, "booking_received", booking_events, access_token=token)
        notify_admin(booking, "admin_new_request", booking_events, note=booking.request_note)
        _emit(booking, "booking.submitted")
    return BookingResult(booking=booking, events=held, access_token=token)


AUTO_APPROVED_NOTE = "Approved automatically: the module approves at once, and no resource requires approval."


def _auto_approves(module: BookingModule, clean: CleanSubmission) -> bool:
    """Instant confirmation (issue 9): the module says so and no resource of any requested time requires
    approval. Rules and conflicts were checked by the submit already and are checked again by the approval;
    a request mixing resources that require approval with ones that do not stays pending as a whole."""
    return module.auto_approve and bool(clean.events) and all(
        not r.requires_approval for ce in clean.events for r in ce.resources)


def _resources_of(clean: CleanSubmission) -> list[Resource]:
    return list({r.pk: r for ce in clean.events for r in ce.resources}.values())


def _add_visitors(booking: Booking, visitors: Sequence[dict[str, str]]) -> None:
    if visitors:
        BookingVisitor.objects.bulk_create(
            [BookingVisitor(booking=booking, name=v["name"], email=v["email"]) for v in visitors])


def booking_create(
    *,
    module: BookingModule,
    actor: Actor,
    status: int = BookingStatus.PENDING,
    contact: Any = None,
    events: Any = None,
    single_event: bool = False,
    portal: Portal | None = None,
    title: str | None = None,
    request_note: str = "",
    event_id: UUID | str | None = None,
    customer_id: Any = None,
    contact_id: Any = None,
    notification: NotificationSpec | None = None,
    override_rules: bool = False,
    skip_conflicts: bool = False,
    visitors: Any = None,
    now: datetime | None = None,
    billing_choices: BookingBilling | None = None,
) -> BookingResult:
    """Staff create a booking in any status. APPROVED links an existing event (`event_id`) or creates
    CONFIRMED events; PENDING behaves like a submission; DENIED and CANCELED only record the request.
    An email goes out only when `notification` asks for one.

    With `skip_conflicts`, occurrences of a repeated request that break a rule or conflict are left out
    and the rest booked; the result's `skipped` lists them (one error each, with its date) and the log's
    note names them. A repeated request with no free occurrence is still refused."""
    if isinstance(status, bool) or status not in BookingStatus.values:
        raise ValidationFailed(errors=[FieldError("bookingStatus", "INVALID", "bookingStatus is 0, 1, 2 or 3.")])
    org = module.organization
    if portal is not None and portal.organization_id != org.pk:
        raise ValidationFailed(errors=[FieldError("portalId", "NOT_FOUND", "No such portal.")])
    check_charge_flags(billing_choices, approved=status == BookingStatus.APPROVED)
    with transaction.atomic():
        customer = _resolve(Customer, org, customer_id, "customerId")
        contact_obj = _resolve(Contact, org, contact_id, "contactId")
        linked: Event | None = None
        if event_id:
            if status != BookingStatus.APPROVED:
                raise ValidationFailed(errors=[FieldError("eventId", "INVALID",
                                                          "Only an approved booking can be based on an event.")])
            linked = _linked_event(org, event_id)
            # The times come from the event; only the contact answers are checked.
            contact_clean = validate_contact(module=module, contact=contact)
            resources = list(linked.resources.select_related("venue__organization"))
            clean = CleanSubmission(contact=contact_clean, events=[CleanEvent(
                title=linked.title, start=linked.start, end=linked.end, resources=resources)])
        else:
            check = not override_rules and status in (BookingStatus.PENDING, BookingStatus.APPROVED)
            clean = validate_submission(module=module, contact=contact, events=events, single_event=single_event,
                                        check_rules=check, now=now, skip_failing=skip_conflicts)
        guests = clean_visitors(visitors, _resources_of(clean))
        booking, token, booking_events = _new_booking(
            module=module, portal=portal, status=status, submission=False, clean=clean, title=title,
            request_note=request_note, customer=customer, contact=contact_obj, billing_choices=billing_choices,
        )
        _add_visitors(booking, guests)
        result_events: list[Event] = []
        if linked is not None:
            if linked.status == EventStatus.TENTATIVE:
                events_set_status(events=[linked], status=EventStatus.CONFIRMED)
            _link_events(booking_events, [linked])
            result_events = [linked]
        elif status == BookingStatus.PENDING:
            result_events, booking_events = _hold_or_check(module, booking_events, clean, skip=skip_conflicts)
        elif status == BookingStatus.APPROVED:
            result_events, booking_events = _save_events(org, clean, booking_events, status=EventStatus.CONFIRMED,
                                                         skip=skip_conflicts)
            _link_events(booking_events, result_events)
        if status in (BookingStatus.PENDING, BookingStatus.APPROVED):
            booking_estimate(booking=booking, booking_events=booking_events, now=now,
                                     fields=[ce.field for ce in clean.events] if not linked else None)
        if status == BookingStatus.APPROVED:
            choices = billing_choices or BookingBilling()
            booking_price_fix(booking=booking, booking_events=booking_events, actor=actor, now=now,
                                      charge_now=choices.charge_now, invoice_now=choices.invoice_now)
        if status in (BookingStatus.APPROVED, BookingStatus.DENIED):
            _mark_decided(booking, actor, status)
        note = _rules_override_note(clean.events, org, now) if override_rules and not linked else ""
        note = "; ".join(filter(None, [note, _skipped_note(clean.skipped)]))
        _log(booking, actor, "create", {}, _snapshot(booking, booking_events), note=note)
        if notification is not None:
            kind = {S.PENDING: "booking_received", S.APPROVED: "booking_approved", S.DENIED: "booking_denied",
                    S.CANCELED: "booking_canceled"}[BookingStatus(status)]
            notify_booker(booking, kind, booking_events, spec=notification,
                          access_token=token if status in (S.PENDING, S.APPROVED) else None)
            if status == BookingStatus.APPROVED:
                notify_visitors(booking, booking_events, spec=notification)
        _emit(booking, CREATED_EVENT_TYPES[BookingStatus(status)])
    return BookingResult(booking=booking, events=result_events, access_token=token, skipped=clean.skipped)


def _linked_event(organization, event_id: Any) -> Event:
    event = Event.objects.select_for_update(of=("self",)).filter(
        organization=organization, pk=as_uuid(event_id)).first() if as_uuid(event_id) else None
    if event is None:
        raise ValidationFailed(errors=[FieldError("eventId", "NOT_FOUND", "No such event.")])
    if event.status == EventStatus.CANCELED:
        raise ValidationFailed(errors=[FieldError("eventId", "INVALID", "That event is canceled.")])
    if BookingEvent.objects.filter(event=event).exists():
        # Confirming another booking's hold (or sharing an approved event) would tie two bookings'
        # lifecycles to one calendar entry.
        raise ValidationFailed(errors=[FieldError("eventId", "EVENT_ALREADY_BOOKED",
                                                  "That event already belongs to another booking.")])
    return event


# --- decide ----------------------------------------------------------------------------------------


def booking_approve(
    *,
    booking_id: UUID | str,
    actor: Actor,
    client_last_updated_at: datetime | None,
    event_edits: Sequence[dict[str, Any]] | None = None,
    notification: NotificationSpec | None = None,
    customer_id: Any = _UNSET,
    contact_id: Any = _UNSET,
    override_rules: bool = False,
    skip_conflicts: bool = False,
    now: datetime | None = None,
    billing_changes: Mapping[str, Any] | None = None,
    accept_available_credit: bool = False,
    access_token: str | None = None,
    note: str = "",
) -> BookingResult:
    """PENDING → APPROVED: CONFIRMED events from the requested times with staff edits applied (holds
    are confirmed in place). 409 BOOKING_CONFLICT naming the events if a resource is taken. The
    occurrences of a repeated request become the events of one EventSeries (the one their holds are in).

    `client_last_updated_at` is the booking's lastUpdatedAt as the deciding person saw it; None skips
    the check and is only for callers that read the booking in the same request.

    With `skip_conflicts`, occurrences that break a rule or conflict are left out: their requested times
    (and holds) are removed from the booking, the result's `skipped` lists them and the log names them.

    The price is fixed (bookings.booking_price_fix): `billing_changes` (wire keys discountCode,
    doNotUseBookingCredit, invoiceThisContact, purchaseOrder) changes what the request said about paying;
    `accept_available_credit` approves even when less credit is left than the estimate counted on.
    The booking's visitors are invited (unless `notification` says not to email). `access_token` puts the
    private link in the booker's email and `note` is added to the log (instant confirmation at submit).
    """
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        _check_transition(booking, "approve")
        _check_fresh(booking, client_last_updated_at)
        booking_events = _booking_events(booking)
        before = _snapshot(booking, booking_events)
        clean = _merge_and_validate(booking, booking_events, event_changes=event_edits,
                                    check_rules=not override_rules, now=now, skip_failing=skip_conflicts,
                                    repeats=[_occurrence_of(be) for be in booking_events])
        booking_events = _drop_set_aside(booking_events, clean)
        events, booking_events = _save_events(booking.organization, clean, booking_events,
                                              status=EventStatus.CONFIRMED, skip=skip_conflicts, move=True)
        for be, ce in zip(booking_events, clean.events, strict=True):
            _update_booking_event(be, ce)
        _link_events(booking_events, events)
        if customer_id is not _UNSET:
            booking.customer = _resolve(Customer, booking.organization, customer_id, "customerId")
        if contact_id is not _UNSET:
            booking.contact = _resolve(Contact, booking.organization, contact_id, "contactId")
        update_booking_billing(booking, billing_changes)
        booking_price_fix(booking=booking, booking_events=booking_events, actor=actor, now=now,
                                  accept_available_credit=accept_available_credit)
        _mark_decided(booking, actor, BookingStatus.APPROVED)
        rules_note = _rules_override_note(clean.events, booking.organization, now) if override_rules else ""
        note = "; ".join(filter(None, [note, rules_note, _skipped_note(clean.skipped)]))
        _log(booking, actor, "approve", before, _snapshot(booking, booking_events), note=note)
        notify_booker(booking, "booking_approved", booking_events, spec=notification, access_token=access_token)
        notify_visitors(booking, booking_events, spec=notification)
        _emit(booking, "booking.approved")
    return BookingResult(booking=booking, events=events, skipped=clean.skipped)


def booking_deny(
    *,
    booking_id: UUID | str,
    actor: Actor,
    client_last_updated_at: datetime | None,
    notification: NotificationSpec | None = None,
) -> BookingResult:
    """PENDING → DENIED; held slots are released."""
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        _check_transition(booking, "deny")
        _check_fresh(booking, client_last_updated_at)
        booking_events = _booking_events(booking)
        before = _snapshot(booking, booking_events)
        _release_holds(booking_events)
        _mark_decided(booking, actor, BookingStatus.DENIED)
        _log(booking, actor, "deny", before, _snapshot(booking, booking_events))
        notify_booker(booking, "booking_denied", booking_events, spec=notification)
        _emit(booking, "booking.denied")
    return BookingResult(booking=booking)


def booking_cancel(
    *,
    booking_id: UUID | str,
    actor: Actor,
    event_procedure: int = EventProcedure.CANCEL,
    notification: NotificationSpec | None = None,
) -> BookingResult:
    """APPROVED → CANCELED; its events are marked CANCELED (procedure 0) or deleted (1), either way
    freeing their resources. An open change request is withdrawn."""
    procedure = _parse_event_procedure(event_procedure)
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        _check_transition(booking, "cancel")
        booking_events = _booking_events(booking)
        before = _snapshot(booking, booking_events)
        booking_events_release(booking=booking, booking_events=booking_events, actor=actor)
        remaining = _end_events(booking_events, procedure)
        _withdraw_open_change_requests(booking, ChangeRequestDecision.WITHDRAWN, actor)
        booking.status = BookingStatus.CANCELED
        booking.save()
        _log(booking, actor, "cancel", before, _snapshot(booking, booking_events),
             note="events deleted" if procedure == EventProcedure.DELETE else "events canceled")
        notify_booker(booking, "booking_canceled", booking_events, spec=notification)
        _emit(booking, "booking.canceled")
    return BookingResult(booking=booking, events=remaining)


UPDATABLE_FIELDS = {"customerId": Customer, "contactId": Contact}


def booking_update(
    *, booking_id: UUID | str, actor: Actor, changes: dict[str, Any], internal_notes: str | None = None
) -> BookingResult:
    """Only the linked customer and contact may change once a booking exists (`""` or None clears), and
    the staff's internal notes (the admin's booking page; the API keeps them read-only)."""
    if not isinstance(changes, dict):
        raise ValidationFailed(errors=[FieldError("", "INVALID", "The changes must be an object.")])
    immutable = [k for k in changes if k not in UPDATABLE_FIELDS]
    if immutable:
        raise ImmutableField(errors=[FieldError(k, "IMMUTABLE_FIELD", f"{k} cannot be changed after creation.")
                                     for k in immutable])
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        _check_transition(booking, "update")
        booking_events = _booking_events(booking)
        before = _snapshot(booking, booking_events)
        if "customerId" in changes:
            booking.customer = _resolve(Customer, booking.organization, changes["customerId"], "customerId")
        if "contactId" in changes:
            booking.contact = _resolve(Contact, booking.organization, changes["contactId"], "contactId")
        note = ""
        if internal_notes is not None and internal_notes != booking.internal_notes:
            booking.internal_notes = internal_notes
            note = "internal notes edited"
        booking.save()
        _log(booking, actor, "update", before, _snapshot(booking, booking_events), note=note)
    return BookingResult(booking=booking)


# --- change requests -------------------------------------------------------------------------------


def change_request_submit(
    *,
    booking_id: UUID | str,
    actor: Actor,
    cancellation: bool = False,
    contact: dict[str, Any] | None = None,
    events: Sequence[dict[str, Any]] | None = None,
    request_note: str = "",
    now: datetime | None = None,
) -> BookingResult:
    """A booker (or staff on their behalf) asks for a change or a cancellation.

    Pending booking: applied directly (a cancellation cancels it), so its lastUpdatedAt moves and staff
    who opened it earlier must re-read. Approved booking: a BookingChangeRequest for staff to decide,
    replacing any open one.
    """
    if not isinstance(cancellation, bool):
        raise ValidationFailed(errors=[FieldError("cancellation", "INVALID", "cancellation is true or false.")])
    refuse_billing_changes(events)
    note = clean_note(request_note)
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        _check_transition(booking, "booker_cancel" if cancellation else "change_request_submit")
        module = booking.module
        if actor.kind == ActorKind.BOOKER:
            if cancellation and not module.allow_cancellation:
                raise PermissionDenied("This booking form does not let bookers cancel; contact the organizer.")
            if not cancellation and not module.allow_change_requests:
                raise PermissionDenied("This booking form does not take change requests; contact the organizer.")
        booking_events = _booking_events(booking)
        before = _snapshot(booking, booking_events)

        if booking.status == BookingStatus.PENDING and cancellation:
            _release_holds(booking_events)
            booking.status = BookingStatus.CANCELED
            booking.save()
            _log(booking, actor, "booker_cancel", before, _snapshot(booking, booking_events), note=note)
            notify_booker(booking, "booking_canceled", booking_events)
            notify_admin(booking, "admin_booker_canceled", booking_events)
            _emit(booking, "booking.canceled")
            return BookingResult(booking=booking, applied=True)

        if not cancellation and not contact and not events:
            raise ValidationFailed(errors=[FieldError("", "NO_CHANGES", "Say what should change.")])
        open_request = BookingChangeRequest.open.filter(booking=booking).first()
        if open_request is not None and not cancellation and not open_request.cancellation:
            # A second request adds to the first: the booker's earlier changes are not thrown away.
            if events is not None and not isinstance(events, list | tuple):
                raise ValidationFailed(errors=[FieldError("events", "INVALID", "The event changes must be a list.")])
            contact = {**open_request.contact_changes, **(contact or {})}
            events = list(open_request.event_changes) + list(events or [])
        clean = None if cancellation else _merge_and_validate(
            booking, booking_events, contact_changes=contact, event_changes=events,
            only_moved_rules=booking.status == BookingStatus.APPROVED, now=now)

        if booking.status == BookingStatus.PENDING:
            assert clean is not None
            if module.hold_pending_slots or any(be.event_id for be in booking_events):
                # Existing holds move with the request (even if the module stopped holding since).
                held = events_save(organization=booking.organization, specs=_specs(clean.events, booking_events),
                                   status=EventStatus.TENTATIVE)
            else:
                _hold_or_check(module, [], clean)
                held = []
            for be, ce in zip(booking_events, clean.events, strict=True):
                _update_booking_event(be, ce)
            if held:
                _link_events(booking_events, held)
            booking.contact_answers = clean.contact
            booking.save()
            booking_estimate(booking=booking, booking_events=booking_events, now=now)
            _log(booking, actor, "change_applied", before, _snapshot(booking, booking_events), note=note)
            notify_admin(booking, "admin_booking_changed", booking_events)
            return BookingResult(booking=booking, applied=True)

        # APPROVED: record the request for staff.
        contact_changes = _changed_contact(booking, clean) if clean else {}
        event_changes = _changed_events(booking_events, clean) if clean else []
        if event_changes:
            event_changes = _series_changes_compact(booking_events, events, event_changes, clean)
        if clean and not contact_changes and not event_changes:
            raise ValidationFailed(errors=[FieldError("", "NO_CHANGES", "The request asks for nothing new.")])
        _withdraw_open_change_requests(booking, ChangeRequestDecision.SUPERSEDED, actor)
        change_request = BookingChangeRequest.objects.create(
            booking=booking, cancellation=cancellation, contact_changes=contact_changes,
            event_changes=event_changes, request_note=note,
        )
        _log(booking, actor, "change_requested", {}, {"changeRequestId": str(change_request.pk),
                                                      "cancellation": cancellation}, note=note)
        notify_booker(booking, "change_request_received", booking_events, change_request=change_request)
        notify_admin(booking, "admin_new_change_request", booking_events, change_request=change_request, note=note)
        _emit(booking, "change_request.submitted", change_request)
    return BookingResult(booking=booking, change_request=change_request)


def _changed_contact(booking: Booking, clean: CleanSubmission) -> dict[str, Any]:
    current = booking.contact_answers
    return {k: v for k, v in clean.contact.items() if current.get(k) != v}


def _changed_events(booking_events: Sequence[BookingEvent], clean: CleanSubmission) -> list[dict[str, Any]]:
    """Only what differs from the booking now, in wire form, per booking event."""
    changes = []
    for be, ce in zip(booking_events, clean.events, strict=True):
        current = _answers_for_merge(be)
        wanted = {"title": ce.title, "start": ce.start.isoformat(), "end": ce.end.isoformat(),
                  "resourceIds": [str(r) for r in ce.resource_ids], "attendees": ce.attendees, **ce.answers}
        diff = {k: v for k, v in wanted.items() if current.get(k) != v}
        if sorted(current["resourceIds"]) == sorted(wanted["resourceIds"]):
            diff.pop("resourceIds", None)
        if diff:
            changes.append({"bookingEventId": str(be.pk), **diff})
    return changes


def _lock_change_request(change_request_id: UUID | str) -> tuple[BookingChangeRequest, Booking]:
    """Lock booking first, then the request: the same order as change_request_submit, so no deadlock."""
    booking_id = BookingChangeRequest.objects.filter(pk=as_uuid(change_request_id)).values_list(
        "booking_id", flat=True).first() if as_uuid(change_request_id) else None
    if booking_id is None:
        raise NotFound("Change request not found.")
    booking = _lock_booking(booking_id)
    change_request = BookingChangeRequest.objects.select_for_update(of=("self",)).get(pk=change_request_id)
    if change_request.decision:
        raise InvalidTransition(f"This change request was already decided ({change_request.decision.lower()}).")
    return change_request, booking


def _decide(change_request: BookingChangeRequest, decision: str, actor: Actor) -> None:
    change_request.decision = decision
    change_request.decided_at = timezone.now()
    change_request.decided_by = actor.db_user
    change_request.save()


def change_request_approve(
    *,
    change_request_id: UUID | str,
    actor: Actor,
    event_edits: Sequence[dict[str, Any]] | None = None,
    notification: NotificationSpec | None = None,
    event_procedure: int = EventProcedure.CANCEL,
    override_rules: bool = False,
    now: datetime | None = None,
) -> BookingResult:
    """Apply an approved booking's change request (conflict-checked), or for a cancellation cancel or
    delete its events per `event_procedure`. The request leaves the open list; the log keeps it."""
    with transaction.atomic():
        change_request, booking = _lock_change_request(change_request_id)
        action = "change_request_approve_cancellation" if change_request.cancellation else "change_request_approve"
        _check_transition(booking, action)
        booking_events = _booking_events(booking)
        before = _snapshot(booking, booking_events)
        if change_request.cancellation:
            procedure = _parse_event_procedure(event_procedure)
            booking_events_release(booking=booking, booking_events=booking_events, actor=actor)
            events = _end_events(booking_events, procedure)
            booking.status = BookingStatus.CANCELED
            note = ""
        else:
            refuse_billing_changes(event_edits)
            edits = _combine_edits(change_request.event_changes, event_edits, booking_events)
            clean = _merge_and_validate(booking, booking_events, contact_changes=change_request.contact_changes,
                                        event_changes=edits, check_rules=not override_rules,
                                        only_moved_rules=True, now=now)
            events = events_save(organization=booking.organization, specs=_specs(clean.events, booking_events),
                                 status=EventStatus.CONFIRMED)
            for be, ce in zip(booking_events, clean.events, strict=True):
                _update_booking_event(be, ce)
            _link_events(booking_events, events)
            booking.contact_answers = clean.contact
            note = _rules_override_note(clean.events, booking.organization, now) if override_rules else ""
        booking.save()
        _decide(change_request, ChangeRequestDecision.APPROVED, actor)
        _log(booking, actor, "change_request_approve", before, _snapshot(booking, booking_events),
             note=note or change_request.request_note)
        notify_booker(booking, "change_request_approved", booking_events, spec=notification,
                      change_request=change_request)
        _emit(booking, "change_request.approved", change_request)
        if change_request.cancellation:
            _emit(booking, "booking.canceled")
    return BookingResult(booking=booking, events=events, change_request=change_request)


def _combine_edits(
    requested: Sequence[dict[str, Any]], staff: Sequence[dict[str, Any]] | None, booking_events: Sequence[BookingEvent]
) -> list[dict[str, Any]]:
    """The booker's requested event changes with staff edits laid over them, per booking event."""
    combined: dict[str, dict[str, Any]] = {}
    only = str(booking_events[0].pk) if len(booking_events) == 1 else None
    for change in list(requested or []) + list(staff or []):
        if not isinstance(change, dict):
            raise ValidationFailed(errors=[FieldError("events", "INVALID", "Each event change must be an object.")])
        key = str(change.get("bookingEventId") or only or "")
        combined.setdefault(key, {"bookingEventId": key or None}).update(
            {k: v for k, v in change.items() if k != "bookingEventId"})
    return list(combined.values())


def change_request_deny(
    *,
    change_request_id: UUID | str,
    actor: Actor,
    notification: NotificationSpec | None = None,
) -> BookingResult:
    with transaction.atomic():
        change_request, booking = _lock_change_request(change_request_id)
        _check_transition(booking, "change_request_deny")
        booking_events = _booking_events(booking)
        _decide(change_request, ChangeRequestDecision.DENIED, actor)
        _log(booking, actor, "change_request_deny", {"changeRequestId": str(change_request.pk)}, {},
             note=change_request.request_note)
        notify_booker(booking, "change_request_denied", booking_events, spec=notification,
                      change_request=change_request)
        _emit(booking, "change_request.denied", change_request)
    return BookingResult(booking=booking, change_request=change_request)


def booking_cancel_by_booker(*, booking_id: UUID | str, actor: Actor, request_note: str = "") -> BookingResult:
    """The booker's "cancel": a pending booking is canceled at once; an approved one gets a cancellation
    change request for staff to decide."""
    return change_request_submit(booking_id=booking_id, actor=actor, cancellation=True, request_note=request_note)


# --- staff change booked events on the calendar (the events API, the Event admin) -------------------
# events.services announces such changes (events.signals); bookings.apps connects these two.


def _actor_of(value: Any) -> Actor:
    if isinstance(value, Actor):
        return value
    if getattr(value, "is_authenticated", False):
        return Actor.staff(value)
    return Actor.system()


def booking_events_lock(*, event_ids: Sequence[UUID]) -> list[Booking]:
    """Lock the bookings these events came from before the events and their resources are locked: the
    order every booking service takes its locks in, so the two never wait on each other in a cycle."""
    with transaction.atomic():
        ids = set(BookingEvent.objects.filter(event_id__in=list(event_ids)).values_list("booking_id", flat=True))
        if not ids:
            return []
        return list(Booking.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))


def booking_events_follow(*, events: Sequence[Event], actor: Any = None, deleted: bool = False,
                          price_override: Any = None) -> list[Booking]:
    """Staff changed calendar events directly (or are deleting them): the booking events they came from
    follow them (title, start, end and resources; a deleted event leaves its request unlinked, as it
    always has), the booking's lastUpdatedAt moves (a decision page opened before is stale), and each
    booking gets one log row. Nobody is emailed: it is staff's own change (bookers use change requests).
    `actor`: an Actor, or the staff user; anything else is logged as the system.

    Prices (bookings.billing): events that end (deleted, or now canceled) give back the credit they used
    and revert their NOT_CHARGED charges if they had not started; `price_override` (the events API's
    overridePrice) re-fixes the price of each event with that amount."""
    by_event = {e.pk: e for e in events}
    with transaction.atomic():
        pairs = set(BookingEvent.objects.filter(event_id__in=list(by_event)).values_list("booking_id", "event_id"))
        booking_ids = {booking_id for booking_id, _ in pairs}
        if price_override is not None and len({event_id for _, event_id in pairs}) < len(by_event):
            raise ValidationFailed(errors=[FieldError("overridePrice", "NOT_PRICED",
                                                      "Only an event of an approved booking has a price to override.")])
        if not booking_ids:
            return []
        resource_ids: dict[UUID, list[UUID]] = {}
        for event_id, rid in (Reservation.objects.filter(event_id__in=list(by_event)).order_by("created_at", "pk")
                              .values_list("event_id", "resource_id")):
            resource_ids.setdefault(event_id, []).append(rid)
        who = _actor_of(actor)
        bookings = []
        for booking_id in sorted(booking_ids, key=str):
            booking = _lock_booking(booking_id)
            booking_events = _booking_events(booking)
            before = _snapshot(booking, booking_events)
            count = 0
            ended = set()
            for be in booking_events:
                event = by_event.get(be.event_id)
                if event is None:
                    continue
                count += 1
                if deleted or event.status == EventStatus.CANCELED:
                    ended.add(be.pk)
                if deleted:
                    be.event = None
                    be.save(update_fields=["event", "updated_at"])
                    continue
                be.title, be.start, be.end = event.title, event.start, event.end
                be.save(update_fields=["title", "start", "end", "updated_at"])
                wanted = resource_ids.get(event.pk)
                if wanted and sorted(map(str, wanted)) != sorted(str(r.pk) for r in be.resources.all()):
                    be.resources.set(wanted)
            ending = [be for be in booking_events if be.pk in ended]
            if ending:
                booking_events_release(booking=booking, booking_events=ending, actor=who)
            if price_override is not None:
                for be in booking_events:
                    if be.event_id in by_event:
                        event_price_override(booking=booking, booking_event=be, amount=price_override,
                                                     actor=who)
            booking.save()
            what = "deleted" if deleted else "changed"
            _log(booking, who, f"events_{what}", before, _snapshot(booking, _booking_events(booking)),
                 note=f"{count} calendar event{'s' if count != 1 else ''} {what} by staff")
            bookings.append(booking)
        return bookings


# --- configuration ---------------------------------------------------------------------------------
# Booking modules (with their form fields), portals, customers and contacts. The API's serializers only
# check shapes; these functions check what needs the database (the same organization, unique slugs and
# emails, field ids of this module) and name problems with the wire's field names. Values arrive with
# model attribute names, as the serializers' `source=` gives them.

MODULE_ATTRIBUTES = (
    "name", "slug", "about_title", "about_description", "calendar_days_shown", "calendar_show_requested",
    "hold_pending_slots", "allow_change_requests", "allow_cancellation", "terms", "max_occurrences",
    "allow_repeat_requests", "auto_approve",
)
FORM_FIELD_ATTRIBUTES = ("label", "type", "required", "help_text", "options", "min_value", "max_value", "order")
FORM_SECTIONS = {
    "contact_fields": (FormSection.CONTACT, "bookingForm.contactFields"),
    "event_fields": (FormSection.EVENT, "bookingForm.eventFields"),
}
CHOICE_TYPES = {FieldType.SELECT, FieldType.MULTISELECT}
LENGTH_TYPES = {FieldType.TEXT, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.PHONE, FieldType.URL}
PORTAL_ATTRIBUTES = ("name", "slug", "description", "status")
PEOPLE_ATTRIBUTES = ("name", "email", "phone")


def _locked(model, pk: Any, noun: str):
    try:
        return model.objects.select_for_update().get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise NotFound(f"{noun} not found.") from exc


def _require_organization(organization_id: Any) -> None:
    if not Organization.objects.filter(pk=organization_id).exists():
        raise NotFound("Organization not found.")


def _save_unique(obj, field_name: str, message: str) -> None:
    """Save; a unique constraint lost to a concurrent writer is NOT_UNIQUE, not an integrity error."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise ValidationFailed(errors=[FieldError(field_name, "NOT_UNIQUE", message)]) from exc


def _ids_in(queryset, ids: Sequence[Any], field_name: str, noun: str, errors: list[FieldError]) -> list[UUID]:
    """The ids (in order, without repeats) if every one is in `queryset`; else NOT_FOUND for each stranger."""
    wanted: list[UUID] = []
    for raw in ids:
        try:
            value = raw if isinstance(raw, UUID) else UUID(str(raw))
        except ValueError:
            errors.append(FieldError(field_name, "INVALID", f"{raw} is not an id."))
            continue
        if value not in wanted:
            wanted.append(value)
    found = set(queryset.filter(pk__in=wanted).values_list("pk", flat=True))
    for value in wanted:
        if value not in found:
            errors.append(FieldError(field_name, "NOT_FOUND", f"No {noun} {value} in this organization.",
                                     {"id": str(value)}))
    return [value for value in wanted if value in found]


@dataclass
class _FormPlan:
    create: list[FormField] = field(default_factory=list)
    update: list[FormField] = field(default_factory=list)
    archive: list[FormField] = field(default_factory=list)


def _check_form_field(ff: FormField, where: str, errors: list[FieldError]) -> None:
    if ff.type in CHOICE_TYPES:
        ff.options = list(dict.fromkeys(str(o).strip() for o in ff.options or [] if str(o).strip()))
        if not ff.options:
            errors.append(FieldError(f"{where}.options", "REQUIRED", "A select field needs at least one option."))
    else:
        ff.options = []
    if ff.type == FieldType.NUMBER or ff.type in LENGTH_TYPES:
        if ff.type in LENGTH_TYPES:
            for attr, wire in (("min_value", "min"), ("max_value", "max")):
                if getattr(ff, attr) is not None and getattr(ff, attr) < 0:
                    errors.append(FieldError(f"{where}.{wire}", "MIN_VALUE", "A length cannot be negative."))
        if ff.min_value is not None and ff.max_value is not None and ff.min_value > ff.max_value:
            errors.append(FieldError(f"{where}.max", "INVALID", "max must not be smaller than min."))
    else:
        ff.min_value = ff.max_value = None  # nothing to limit for dates, times, selects and checkboxes


def _plan_form_fields(
    module: BookingModule, section: str, items: Sequence[Mapping[str, Any]], path: str, errors: list[FieldError]
) -> _FormPlan:
    """Fields without an id are new; with an id (of this module and section) updated; active fields
    left out are archived. A listed archived field comes back."""
    existing = {} if module._state.adding else {ff.pk: ff for ff in module.fields.filter(section=section)}
    plan = _FormPlan()
    seen: set[UUID] = set()
    for index, item in enumerate(items):
        where = f"{path}[{index}]"
        field_id = item.get("id")
        if field_id is None:
            ff = FormField(module=module, section=section)
            if not item.get("label"):
                errors.append(FieldError(f"{where}.label", "REQUIRED", "A new field needs a label."))
            plan.create.append(ff)
        elif field_id in seen:
            errors.append(FieldError(f"{where}.id", "NOT_UNIQUE", "The same field is listed twice."))
            continue
        elif field_id not in existing:
            errors.append(FieldError(f"{where}.id", "NOT_FOUND", f"No field {field_id} in this form section."))
            continue
        else:
            ff = existing[field_id]
            seen.add(field_id)
            plan.update.append(ff)
        for attr in FORM_FIELD_ATTRIBUTES:
            if attr in item:
                setattr(ff, attr, item[attr])
        if "order" not in item:
            ff.order = index
        ff.archived = False
        _check_form_field(ff, where, errors)
    plan.archive = [ff for pk, ff in existing.items() if pk not in seen and not ff.archived]
    return plan


def _apply_form_plan(module: BookingModule, plan: _FormPlan) -> None:
    """Three statements at most, however many fields: insert, update, archive. Nothing is deleted, so
    answers keyed by an archived field's id keep their meaning."""
    now = timezone.now()
    for ff in plan.create:
        ff.module_id = module.pk
    if plan.create:
        FormField.objects.bulk_create(plan.create)
    if plan.update:
        for ff in plan.update:
            ff.updated_at = now
        FormField.objects.bulk_update(plan.update, [*FORM_FIELD_ATTRIBUTES, "archived", "updated_at"])
    if plan.archive:
        FormField.objects.filter(pk__in=[ff.pk for ff in plan.archive]).update(archived=True, updated_at=now)


def _free_module_slug(organization_id: Any, name: str) -> str:
    base = slugify(name)[:70] or "module"
    taken = set(BookingModule.objects.filter(organization_id=organization_id, slug__startswith=base)
                .values_list("slug", flat=True))
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


def _set_module_resources(module: BookingModule, resource_ids: list[UUID]) -> None:
    """Keep the rows (and per-resource settings) of resources still offered; add and remove the rest."""
    current = set(ModuleResource.objects.filter(module=module).values_list("resource_id", flat=True))
    gone = current - set(resource_ids)
    if gone:
        ModuleResource.objects.filter(module=module, resource_id__in=gone).delete()
    ModuleResource.objects.bulk_create([ModuleResource(module=module, resource_id=rid)
                                        for rid in resource_ids if rid not in current])


def _module_write(module: BookingModule, values: Mapping[str, Any]) -> BookingModule:
    creating = module._state.adding
    org_id = module.organization_id
    errors: list[FieldError] = []
    for attr in MODULE_ATTRIBUTES:
        if attr in values and (attr != "slug" or values[attr]):
            setattr(module, attr, values[attr])
    if creating and not values.get("slug"):
        module.slug = _free_module_slug(org_id, module.name)
    elif BookingModule.objects.filter(organization_id=org_id, slug=module.slug).exclude(pk=module.pk).exists():
        errors.append(FieldError("slug", "NOT_UNIQUE", "Another booking module of this organization has this slug."))
    if "admin_user_id" in values:
        user_id = values["admin_user_id"]
        if user_id is not None and not Membership.objects.filter(organization_id=org_id, user_id=user_id).exists():
            errors.append(FieldError("adminUserId", "NOT_FOUND",
                                     "The admin user must be a member of the organization."))
        module.admin_user_id = user_id
    portal_ids = resource_ids = None
    if values.get("portals") is not None:
        portal_ids = _ids_in(Portal.objects.filter(organization_id=org_id), values["portals"], "portalIds",
                             "portal", errors)
    if values.get("resources") is not None:
        resource_ids = _ids_in(Resource.objects.filter(venue__organization_id=org_id), values["resources"],
                               "resourceIds", "resource", errors)
    plans = [_plan_form_fields(module, section, values[key], path, errors)
             for key, (section, path) in FORM_SECTIONS.items() if values.get(key) is not None]
    if errors:
        raise ValidationFailed(errors=errors)
    _save_unique(module, "slug", "Another booking module of this organization has this slug.")
    if portal_ids is not None:
        module.portals.set(portal_ids)
    if resource_ids is not None:
        _set_module_resources(module, resource_ids)
    for plan in plans:
        _apply_form_plan(module, plan)
    return module


def module_create(*, organization_id: UUID, values: Mapping[str, Any]) -> BookingModule:
    """A booking module with its links and form. `values`: the MODULE_ATTRIBUTES, `admin_user_id`,
    `portals` and `resources` (ids of this organization), `contact_fields` and `event_fields` (lists of
    FORM_FIELD_ATTRIBUTES; the server assigns ids)."""
    with transaction.atomic():
        _require_organization(organization_id)
        return _module_write(BookingModule(organization_id=organization_id), values)


def module_update(*, module_id: UUID, changes: Mapping[str, Any]) -> BookingModule:
    """Change what is given. A form section that is given is the whole section: fields with an id are
    updated, without one created, and active fields left out archived (never deleted)."""
    with transaction.atomic():
        module = _locked(BookingModule, module_id, "Booking module")
        return _module_write(module, changes)


def module_delete(*, module_id: UUID) -> None:
    """Refused (ProtectedError, 409 IN_USE in the API) while bookings use the module."""
    with transaction.atomic():
        _locked(BookingModule, module_id, "Booking module").delete()


def _portal_write(portal: Portal, values: Mapping[str, Any]) -> Portal:
    for attr in PORTAL_ATTRIBUTES:
        if attr in values and (attr != "slug" or values[attr]):
            setattr(portal, attr, values[attr])
    if "password" in values:
        portal.set_password(values["password"])  # "" or None: the portal is open again
    if values.get("slug"):
        if Portal.objects.filter(slug=portal.slug).exclude(pk=portal.pk).exists():
            raise ValidationFailed(errors=[FieldError("slug", "NOT_UNIQUE", "Another portal has this slug.")])
    elif portal._state.adding:
        while Portal.objects.filter(slug=portal.slug).exists():  # 36^6 slugs: a second draw is rare
            portal.slug = random_portal_slug()
    module_ids = _portal_module_ids(portal, values)
    _save_unique(portal, "slug", "Another portal has this slug.")
    if module_ids is not None:
        portal.modules.set(module_ids)
    return portal


def _portal_module_ids(portal: Portal, values: Mapping[str, Any]) -> list[UUID] | None:
    """`modules` (the admin links a portal's modules from the portal): ids of the portal's organization."""
    if values.get("modules") is None:
        return None
    errors: list[FieldError] = []
    ids = _ids_in(BookingModule.objects.filter(organization_id=portal.organization_id), values["modules"],
                  "moduleIds", "booking module", errors)
    if errors:
        raise ValidationFailed(errors=errors)
    return ids


def portal_create(*, organization_id: UUID, values: Mapping[str, Any]) -> Portal:
    """`values`: name, slug (random 6 characters when empty), description, status, password, modules
    (ids of booking modules shown on the portal; left out: unchanged)."""
    with transaction.atomic():
        _require_organization(organization_id)
        return _portal_write(Portal(organization_id=organization_id), values)


def portal_update(*, portal_id: UUID, changes: Mapping[str, Any]) -> Portal:
    with transaction.atomic():
        return _portal_write(_locked(Portal, portal_id, "Portal"), changes)


def portal_delete(*, portal_id: UUID) -> None:
    """Its bookings keep existing without a portal; modules simply stop being on it."""
    with transaction.atomic():
        _locked(Portal, portal_id, "Portal").delete()


def customer_create(*, organization_id: UUID, values: Mapping[str, Any]) -> Customer:
    with transaction.atomic():
        _require_organization(organization_id)
        customer = Customer(organization_id=organization_id)
        for attr in PEOPLE_ATTRIBUTES:
            if attr in values:
                setattr(customer, attr, values[attr] or "")
        customer.save()
        return customer


def customer_update(*, customer_id: UUID, changes: Mapping[str, Any]) -> Customer:
    with transaction.atomic():
        customer = _locked(Customer, customer_id, "Customer")
        for attr in PEOPLE_ATTRIBUTES:
            if attr in changes:
                setattr(customer, attr, changes[attr] or "")
        customer.save()
        return customer


def customer_delete(*, customer_id: UUID) -> None:
    """Bookings and contacts that named the customer keep existing without it."""
    with transaction.atomic():
        _locked(Customer, customer_id, "Customer").delete()


def _contact_write(contact: Contact, values: Mapping[str, Any]) -> Contact:
    for attr in PEOPLE_ATTRIBUTES:
        if attr in values:
            setattr(contact, attr, (values[attr] or "").strip())
    if "customer_id" in values:
        customer_id = values["customer_id"]
        if customer_id is not None and not Customer.objects.filter(
                organization_id=contact.organization_id, pk=customer_id).exists():
            raise ValidationFailed(errors=[FieldError("customerId", "NOT_FOUND",
                                                      "No customer with this id in the organization.")])
        contact.customer_id = customer_id
    message = "Another contact of this organization has this email address."
    if contact.email and Contact.objects.filter(organization_id=contact.organization_id,
                                                email__iexact=contact.email).exclude(pk=contact.pk).exists():
        raise ValidationFailed(errors=[FieldError("email", "NOT_UNIQUE", message)])
    _save_unique(contact, "email", message)
    return contact


def contact_create(*, organization_id: UUID, values: Mapping[str, Any]) -> Contact:
    """`values`: name, email (unique in the organization, whatever its case), phone, customer_id."""
    with transaction.atomic():
        _require_organization(organization_id)
        return _contact_write(Contact(organization_id=organization_id), values)


def contact_update(*, contact_id: UUID, changes: Mapping[str, Any]) -> Contact:
    with transaction.atomic():
        return _contact_write(_locked(Contact, contact_id, "Contact"), changes)


def contact_delete(*, contact_id: UUID) -> None:
    """Bookings that named the contact keep existing without it."""
    with transaction.atomic():
        _locked(Contact, contact_id, "Contact").delete()
