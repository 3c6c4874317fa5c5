"""The booking lifecycle of DESIGN §4: the only code that changes a booking's status.

Every service runs in one transaction: it locks the booking row, checks the move against TRANSITIONS,
does the work (events through events.services, which lock the resources), writes one BookingLog row and
enqueues its emails as Notification rows. If anything fails, all of it rolls back: no event, no log
row, no email.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from events.models import Event, EventStatus
from events.services import EventSpec, conflicts_check, events_delete, events_save, events_set_status
from notifications.services import NotificationSpec
from resources.base import sanitize_html
from resources.exceptions import (
    BookingConflict,
    CapacityExceeded,
    FieldError,
    ImmutableField,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleBooking,
    ValidationFailed,
)
from resources.models import Resource

from .models import (
    ActorKind,
    Booking,
    BookingChangeRequest,
    BookingEvent,
    BookingLog,
    BookingModule,
    BookingStatus,
    ChangeRequestDecision,
    Contact,
    Customer,
    Portal,
    PortalStatus,
)
from .notify import notify_admin, notify_booker
from .validation import (
    CleanEvent,
    CleanSubmission,
    check_event_rules,
    validate_contact,
    validate_submission,
)

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


@dataclass(frozen=True)
class Actor:
    """Who did it, for the log: a staff user (in the admin or through an API token), a booker, the system."""

    kind: str
    user: Any = None
    label: str = ""

    @classmethod
    def staff(cls, user, *, via_token: bool = False) -> Actor:
        return cls(ActorKind.TOKEN if via_token else ActorKind.USER, user, user.get_username())

    @classmethod
    def booker(cls, email: str = "") -> Actor:
        return cls(ActorKind.BOOKER, None, email)

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, None, "system")

    @property
    def db_user(self):
        """The user to store in a foreign key (None for bookers, the system, unsaved users)."""
        return self.user if getattr(self.user, "pk", None) else None

    @property
    def is_staff(self) -> bool:
        return self.kind in (ActorKind.USER, ActorKind.TOKEN, ActorKind.SYSTEM)


@dataclass
class BookingResult:
    booking: Booking
    events: list[Event] = field(default_factory=list)
    access_token: str | None = None
    change_request: BookingChangeRequest | None = None
    applied: bool = False  # change request submit: applied directly to a pending booking


# --- helpers ---------------------------------------------------------------------------------------


def _new_access_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_access_token(token)


def hash_access_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _resource_prefetch() -> Prefetch:
    return Prefetch("resources", queryset=Resource.objects.select_related("venue__organization")
                    .prefetch_related("bookable_hours"))


def _lock_booking(booking_id: UUID | str) -> Booking:
    try:
        return (
            Booking.objects.select_for_update(of=("self",))
            .select_related("organization", "module__organization", "module__admin_user", "portal")
            .get(pk=booking_id)
        )
    except (Booking.DoesNotExist, ValueError) as exc:
        raise NotFound("Booking not found.") from exc


def _booking_events(booking: Booking) -> list[BookingEvent]:
    return list(booking.events.select_related("event").prefetch_related(_resource_prefetch()))


def _check_transition(booking: Booking, action: str) -> int:
    allowed = TRANSITIONS[action]
    if booking.status not in allowed:
        label = BookingStatus(booking.status).label.lower()
        raise InvalidTransition(f"A {label} booking cannot be {ACTION_WORDS[action]}.")
    return allowed[booking.status]


def _mark_decided(booking: Booking, actor: Actor, status: int) -> None:
    booking.status = status
    booking.decided_by = actor.db_user
    booking.decided_at = timezone.now()
    booking.save()


def _check_fresh(booking: Booking, client_last_updated_at: datetime | None) -> None:
    """Refuse to decide on a booking that changed after the deciding person read it."""
    if client_last_updated_at is not None and booking.updated_at > client_last_updated_at:
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
                     attendees=ce.attendees, answers=ce.answers)
        for order, ce in enumerate(clean_events)
    ])
    through = BookingEvent.resources.through
    through.objects.bulk_create([
        through(bookingevent_id=be.pk, resource_id=r.pk) for be, ce in zip(created, clean_events, strict=True)
        for r in ce.resources
    ])
    return created


def _update_booking_event(be: BookingEvent, ce: CleanEvent) -> None:
    be.title, be.start, be.end, be.attendees, be.answers = ce.title, ce.start, ce.end, ce.attendees, ce.answers
    be.save()
    be.resources.set(ce.resources)


def _specs(clean_events: Sequence[CleanEvent], booking_events: Sequence[BookingEvent] | None = None) -> list[EventSpec]:
    """Event specs for the clean events; a booking event's live (not canceled) Event is moved, not duplicated."""
    specs = []
    for i, ce in enumerate(clean_events):
        be = booking_events[i] if booking_events is not None else None
        existing = be.event if be is not None and be.event and be.event.status != EventStatus.CANCELED else None
        specs.append(EventSpec(title=ce.title, start=ce.start, end=ce.end, resource_ids=ce.resource_ids,
                               field=ce.field, event=existing))
    return specs


def _link_events(booking_events: Sequence[BookingEvent], events: Sequence[Event]) -> None:
    for be, ev in zip(booking_events, events, strict=True):
        if be.event_id != ev.pk:
            be.event = ev
            be.save(update_fields=["event", "updated_at"])


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
    try:
        return model.objects.get(organization=organization, pk=value)
    except (model.DoesNotExist, ValueError, TypeError) as exc:
        raise ValidationFailed(errors=[FieldError(field_name, "NOT_FOUND",
                                                  f"No {model._meta.verbose_name} with id {value}.")]) from exc


_UNSET: Any = object()


def _answers_for_merge(be: BookingEvent) -> dict[str, Any]:
    return {
        "bookingEventId": str(be.pk),
        "title": be.title,
        "start": be.start.isoformat(),
        "end": be.end.isoformat(),
        "resourceIds": [str(r.pk) for r in be.resources.all()],
        "attendees": be.attendees,
        **be.answers,
    }


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
    contact = {**booking.contact_answers, **(contact_changes or {})}
    events = [_answers_for_merge(be) for be in booking_events]
    by_id = {e["bookingEventId"]: e for e in events}
    errors = []
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
        target.update({k: v for k, v in change.items() if k != "bookingEventId"})
    if errors:
        raise ValidationFailed(errors=errors)
    return contact, events


def _merge_and_validate(
    booking: Booking,
    booking_events: Sequence[BookingEvent],
    *,
    contact_changes: dict[str, Any] | None = None,
    event_changes: Sequence[dict[str, Any]] | None = None,
    check_rules: bool = True,
    now: datetime | None = None,
) -> CleanSubmission:
    contact, events = _merge(booking, booking_events, contact_changes, event_changes)
    return validate_submission(module=booking.module, contact=contact, events=events,
                               single_event=len(events) == 1, check_rules=check_rules, now=now)


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
) -> tuple[Booking, str, list[BookingEvent]]:
    token, token_hash = _new_access_token()
    booking = Booking.objects.create(
        organization=module.organization,
        module=module,
        portal=portal,
        customer=customer,
        contact=contact or _contact_record(module.organization, clean.contact),
        status=status,
        submission=submission,
        title=(title or "").strip()[:300] or (clean.events[0].title if clean.events else "Booking"),
        contact_answers=clean.contact,
        request_note=sanitize_html(request_note),
        access_token_hash=token_hash,
    )
    return booking, token, _write_booking_events(booking, clean.events)


def _hold_or_check(module: BookingModule, booking_events: list[BookingEvent], clean: CleanSubmission) -> list[Event]:
    """A pending request holds its slots with TENTATIVE events when the module says so; otherwise it is
    only refused when the slot is already taken (two unheld requests may compete for one slot)."""
    if module.hold_pending_slots:
        held = events_save(organization=module.organization, specs=_specs(clean.events), status=EventStatus.TENTATIVE)
        _link_events(booking_events, held)
        return held
    resources = {r.pk: r for ce in clean.events for r in ce.resources}
    errors = conflicts_check(specs=_specs(clean.events), resources=resources)
    if errors:
        error_class = BookingConflict if any(e.code == "BOOKING_CONFLICT" for e in errors) else CapacityExceeded
        raise error_class(errors=errors)
    return []


def booking_submit(
    *,
    module: BookingModule,
    portal: Portal,
    contact: Any,
    events: Any,
    single_event: bool = False,
    title: str | None = None,
    request_note: str = "",
    actor: Actor | None = None,
    now: datetime | None = None,
) -> BookingResult:
    """A booker's request: validated against the module's form and the resources' rules, PENDING, and
    (when the module holds pending slots) holding its times with TENTATIVE events."""
    actor = actor or Actor.booker((contact or {}).get("email", "") if isinstance(contact, dict) else "")
    if portal.organization_id != module.organization_id or portal.status != PortalStatus.LIVE \
            or not module.portals.filter(pk=portal.pk).exists():
        raise NotFound("This booking form is not published.")
    with transaction.atomic():
        clean = validate_submission(module=module, contact=contact, events=events, single_event=single_event, now=now)
        booking, token, booking_events = _new_booking(
            module=module, portal=portal, status=BookingStatus.PENDING, submission=True, clean=clean,
            title=title, request_note=request_note, customer=None, contact=None,
        )
        held = _hold_or_check(module, booking_events, clean)
        _log(booking, actor, "submit", {}, _snapshot(booking, booking_events))
        notify_booker(booking, "booking_received", booking_events, access_token=token)
        notify_admin(booking, "admin_new_request", booking_events, note=booking.request_note)
    return BookingResult(booking=booking, events=held, access_token=token)


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
    now: datetime | None = None,
) -> BookingResult:
    """Staff create a booking in any status. APPROVED links an existing event (`event_id`) or creates
    CONFIRMED events; PENDING behaves like a submission; DENIED and CANCELED only record the request.
    An email goes out only when `notification` asks for one."""
    if status not in BookingStatus.values:
        raise ValidationFailed(errors=[FieldError("bookingStatus", "INVALID", "bookingStatus is 0, 1, 2 or 3.")])
    org = module.organization
    if portal is not None and portal.organization_id != org.pk:
        raise ValidationFailed(errors=[FieldError("portalId", "NOT_FOUND", "No such portal.")])
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
                                        check_rules=check, now=now)
        booking, token, booking_events = _new_booking(
            module=module, portal=portal, status=status, submission=False, clean=clean, title=title,
            request_note=request_note, customer=customer, contact=contact_obj,
        )
        result_events: list[Event] = []
        if linked is not None:
            if linked.status == EventStatus.TENTATIVE:
                events_set_status(events=[linked], status=EventStatus.CONFIRMED)
            _link_events(booking_events, [linked])
            result_events = [linked]
        elif status == BookingStatus.PENDING:
            result_events = _hold_or_check(module, booking_events, clean)
        elif status == BookingStatus.APPROVED:
            result_events = events_save(organization=org, specs=_specs(clean.events), status=EventStatus.CONFIRMED)
            _link_events(booking_events, result_events)
        if status in (BookingStatus.APPROVED, BookingStatus.DENIED):
            _mark_decided(booking, actor, status)
        note = _rules_override_note(clean.events, org, now) if override_rules and not linked else ""
        _log(booking, actor, "create", {}, _snapshot(booking, booking_events), note=note)
        if notification is not None:
            kind = {S.PENDING: "booking_received", S.APPROVED: "booking_approved", S.DENIED: "booking_denied",
                    S.CANCELED: "booking_canceled"}[BookingStatus(status)]
            notify_booker(booking, kind, booking_events, spec=notification,
                          access_token=token if status in (S.PENDING, S.APPROVED) else None)
    return BookingResult(booking=booking, events=result_events, access_token=token)


def _linked_event(organization, event_id: Any) -> Event:
    try:
        event = Event.objects.select_for_update(of=("self",)).get(organization=organization, pk=event_id)
    except (Event.DoesNotExist, ValueError, TypeError) as exc:
        raise ValidationFailed(errors=[FieldError("eventId", "NOT_FOUND", "No such event.")]) from exc
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
    now: datetime | None = None,
) -> BookingResult:
    """PENDING → APPROVED: CONFIRMED events from the requested times with staff edits applied (holds
    are confirmed in place). 409 BOOKING_CONFLICT naming the events if a resource is taken.

    `client_last_updated_at` is the booking's lastUpdatedAt as the deciding person saw it; None skips
    the check and is only for callers that read the booking in the same request.
    """
    with transaction.atomic():
        booking = _lock_booking(booking_id)
        _check_transition(booking, "approve")
        _check_fresh(booking, client_last_updated_at)
        booking_events = _booking_events(booking)
        before = _snapshot(booking, booking_events)
        clean = _merge_and_validate(booking, booking_events, event_changes=event_edits,
                                    check_rules=not override_rules, now=now)
        events = events_save(organization=booking.organization, specs=_specs(clean.events, booking_events),
                             status=EventStatus.CONFIRMED)
        for be, ce in zip(booking_events, clean.events, strict=True):
            _update_booking_event(be, ce)
        _link_events(booking_events, events)
        if customer_id is not _UNSET:
            booking.customer = _resolve(Customer, booking.organization, customer_id, "customerId")
        if contact_id is not _UNSET:
            booking.contact = _resolve(Contact, booking.organization, contact_id, "contactId")
        _mark_decided(booking, actor, BookingStatus.APPROVED)
        note = _rules_override_note(clean.events, booking.organization, now) if override_rules else ""
        _log(booking, actor, "approve", before, _snapshot(booking, booking_events), note=note)
        notify_booker(booking, "booking_approved", booking_events, spec=notification)
    return BookingResult(booking=booking, events=events)


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
        remaining = _end_events(booking_events, procedure)
        _withdraw_open_change_requests(booking, ChangeRequestDecision.WITHDRAWN, actor)
        booking.status = BookingStatus.CANCELED
        booking.save()
        _log(booking, actor, "cancel", before, _snapshot(booking, booking_events),
             note="events deleted" if procedure == EventProcedure.DELETE else "events canceled")
        notify_booker(booking, "booking_canceled", booking_events, spec=notification)
    return BookingResult(booking=booking, events=remaining)


UPDATABLE_FIELDS = {"customerId": Customer, "contactId": Contact}


def booking_update(*, booking_id: UUID | str, actor: Actor, changes: dict[str, Any]) -> BookingResult:
    """Only the linked customer and contact may change once a booking exists (`""` or None clears)."""
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
        booking.save()
        _log(booking, actor, "update", before, _snapshot(booking, booking_events))
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
        note = sanitize_html(request_note)

        if booking.status == BookingStatus.PENDING and cancellation:
            _release_holds(booking_events)
            booking.status = BookingStatus.CANCELED
            booking.save()
            _log(booking, actor, "booker_cancel", before, _snapshot(booking, booking_events), note=note)
            notify_booker(booking, "booking_canceled", booking_events)
            notify_admin(booking, "admin_booker_canceled", booking_events)
            return BookingResult(booking=booking, applied=True)

        if not cancellation and not contact and not events:
            raise ValidationFailed(errors=[FieldError("", "NO_CHANGES", "Say what should change.")])
        clean = None if cancellation else _merge_and_validate(
            booking, booking_events, contact_changes=contact, event_changes=events, now=now)

        if booking.status == BookingStatus.PENDING:
            assert clean is not None
            if module.hold_pending_slots:
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
            _log(booking, actor, "change_applied", before, _snapshot(booking, booking_events), note=note)
            notify_admin(booking, "admin_booking_changed", booking_events)
            return BookingResult(booking=booking, applied=True)

        # APPROVED: record the request for staff.
        contact_changes = _changed_contact(booking, clean) if clean else {}
        event_changes = _changed_events(booking_events, clean) if clean else []
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
    try:
        booking_id = BookingChangeRequest.objects.values_list("booking_id", flat=True).get(pk=change_request_id)
    except (BookingChangeRequest.DoesNotExist, ValueError) as exc:
        raise NotFound("Change request not found.") from exc
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
            events = _end_events(booking_events, _parse_event_procedure(event_procedure))
            booking.status = BookingStatus.CANCELED
            note = ""
        else:
            edits = _combine_edits(change_request.event_changes, event_edits, booking_events)
            clean = _merge_and_validate(booking, booking_events, contact_changes=change_request.contact_changes,
                                        event_changes=edits, check_rules=not override_rules, now=now)
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
    return BookingResult(booking=booking, change_request=change_request)


def booking_cancel_by_booker(*, booking_id: UUID | str, actor: Actor, request_note: str = "") -> BookingResult:
    """The booker's "cancel": a pending booking is canceled at once; an approved one gets a cancellation
    change request for staff to decide."""
    return change_request_submit(booking_id=booking_id, actor=actor, cancellation=True, request_note=request_note)
