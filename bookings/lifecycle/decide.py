"""Staff's decisions on a booking: approve and deny a pending one, cancel an approved one, and update what
may change once a booking exists (docs/architecture.md#booking-lifecycle)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from django.db import transaction

from bookings.pricing.fixing import booking_events_release, booking_price_fix, update_booking_billing
from core.actor import Actor
from core.errors import FieldError, ImmutableField, ValidationFailed
from core.ids import as_uuid
from events.models import EventStatus
from notifications.services import NotificationSpec
from resources.models import Organization

from ..models import BookingLogAction, ChangeRequestDecision, Contact, Customer
from ..notify import notify_booker, notify_visitors
from .audit import booking_emit, log_write, rules_override_note, skipped_note, snapshot
from .change_requests import withdraw_open_change_requests
from .changes import merge_and_validate
from .requested_times import (
    drop_set_aside,
    end_events,
    link_events,
    load_booking_events,
    occurrence_of,
    release_holds,
    save_events,
    update_booking_event,
)
from .transitions import (
    BookingResult,
    EventProcedure,
    check_fresh,
    check_transition,
    lock_booking,
    parse_event_procedure,
    transition_apply,
)

_UNSET: Any = object()


_Party = TypeVar("_Party", Customer, Contact)


def resolve(model: type[_Party], organization: Organization, value: Any, field_name: str) -> _Party | None:
    """A customer/contact id of this organization; "" or None clears it."""
    if value in ("", None):
        return None
    pk = as_uuid(value)
    found = model.objects.filter(organization=organization, pk=pk).first() if pk else None
    if found is None:
        raise ValidationFailed(
            errors=[FieldError(field_name, "NOT_FOUND", f"No {model._meta.verbose_name} with id {value}.")]
        )
    return found


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

    The price is fixed (bookings.pricing.fixing.booking_price_fix): `billing_changes` (wire keys discountCode,
    doNotUseBookingCredit, invoiceThisContact, purchaseOrder) changes what the request said about paying;
    `accept_available_credit` approves even when less credit is left than the estimate counted on.
    The booking's visitors are invited (unless `notification` says not to email). `access_token` puts the
    private link in the booker's email and `note` is added to the log (instant confirmation at submit).
    """
    with transaction.atomic():
        booking = lock_booking(booking_id)
        check_transition(booking, "approve")
        check_fresh(booking, client_last_updated_at)
        booking_events = load_booking_events(booking)
        before = snapshot(booking, booking_events)
        clean = merge_and_validate(
            booking,
            booking_events,
            event_changes=event_edits,
            check_rules=not override_rules,
            now=now,
            skip_failing=skip_conflicts,
            repeats=[occurrence_of(be) for be in booking_events],
        )
        booking_events = drop_set_aside(booking_events, clean)
        events, booking_events = save_events(
            booking.organization, clean, booking_events, status=EventStatus.CONFIRMED, skip=skip_conflicts, move=True
        )
        for be, ce in zip(booking_events, clean.events, strict=True):
            update_booking_event(be, ce)
        link_events(booking_events, events)
        if customer_id is not _UNSET:
            booking.customer = resolve(Customer, booking.organization, customer_id, "customerId")
        if contact_id is not _UNSET:
            booking.contact = resolve(Contact, booking.organization, contact_id, "contactId")
        update_booking_billing(booking, billing_changes)
        booking_price_fix(
            booking=booking,
            booking_events=booking_events,
            actor=actor,
            now=now,
            accept_available_credit=accept_available_credit,
        )
        transition_apply(booking, "approve", actor)
        rules_note = rules_override_note(clean.events, booking.organization, now) if override_rules else ""
        note = "; ".join(filter(None, [note, rules_note, skipped_note(clean.skipped)]))
        log_write(booking, actor, BookingLogAction.APPROVE, before, snapshot(booking, booking_events), note=note)
        notify_booker(booking, "booking_approved", booking_events, spec=notification, access_token=access_token)
        # For the invitations and the answer; lock_booking knows whether there are any.
        visitors = []
        if getattr(booking, "has_visitors", True):
            visitors = list(booking.visitors.order_by("created_at", "name"))
        notify_visitors(booking, booking_events, spec=notification, visitors=visitors)
        booking_emit(booking, "booking.approved")
    return BookingResult(
        booking=booking,
        events=events,
        skipped=clean.skipped,
        booking_events=booking_events,
        visitors=[{"name": v.name, "email": v.email} for v in visitors],
    )


def booking_deny(
    *,
    booking_id: UUID | str,
    actor: Actor,
    client_last_updated_at: datetime | None,
    notification: NotificationSpec | None = None,
) -> BookingResult:
    """PENDING → DENIED; held slots are released."""
    with transaction.atomic():
        booking = lock_booking(booking_id)
        check_transition(booking, "deny")
        check_fresh(booking, client_last_updated_at)
        booking_events = load_booking_events(booking)
        before = snapshot(booking, booking_events)
        release_holds(booking_events)
        transition_apply(booking, "deny", actor)
        log_write(booking, actor, BookingLogAction.DENY, before, snapshot(booking, booking_events))
        notify_booker(booking, "booking_denied", booking_events, spec=notification)
        booking_emit(booking, "booking.denied")
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
    procedure = parse_event_procedure(event_procedure)
    with transaction.atomic():
        booking = lock_booking(booking_id)
        check_transition(booking, "cancel")
        booking_events = load_booking_events(booking)
        before = snapshot(booking, booking_events)
        booking_events_release(booking=booking, booking_events=booking_events, actor=actor)
        remaining = end_events(booking_events, procedure)
        withdraw_open_change_requests(booking, ChangeRequestDecision.WITHDRAWN, actor)
        transition_apply(booking, "cancel", actor)
        log_write(
            booking,
            actor,
            BookingLogAction.CANCEL,
            before,
            snapshot(booking, booking_events),
            note="events deleted" if procedure == EventProcedure.DELETE else "events canceled",
        )
        notify_booker(booking, "booking_canceled", booking_events, spec=notification)
        booking_emit(booking, "booking.canceled")
    return BookingResult(booking=booking, events=remaining)


UPDATABLE_FIELDS = {"customerId": Customer, "contactId": Contact}


def booking_update(
    *, booking_id: UUID | str, actor: Actor, changes: dict[str, Any], internal_notes: str | None = None
) -> BookingResult:
    """Only the linked customer and contact may change once a booking exists (`""` or None clears), and
    staff's internal notes (`internal_notes`; None leaves them). The log row has the notes before and after."""
    if not isinstance(changes, dict):
        raise ValidationFailed(errors=[FieldError("", "INVALID", "The changes must be an object.")])
    if internal_notes is not None and not isinstance(internal_notes, str):
        raise ValidationFailed(errors=[FieldError("internalNotes", "INVALID", "internalNotes is text.")])
    immutable = [k for k in changes if k not in UPDATABLE_FIELDS]
    if immutable:
        raise ImmutableField(
            errors=[FieldError(k, "IMMUTABLE_FIELD", f"{k} cannot be changed after creation.") for k in immutable]
        )
    with transaction.atomic():
        booking = lock_booking(booking_id)
        check_transition(booking, "update")
        booking_events = load_booking_events(booking)
        before = snapshot(booking, booking_events)
        if "customerId" in changes:
            booking.customer = resolve(Customer, booking.organization, changes["customerId"], "customerId")
        if "contactId" in changes:
            booking.contact = resolve(Contact, booking.organization, changes["contactId"], "contactId")
        note = ""
        if internal_notes is not None and internal_notes != booking.internal_notes:
            booking.internal_notes = internal_notes
            note = "internal notes edited"
        transition_apply(booking, "update", actor)
        log_write(booking, actor, BookingLogAction.UPDATE, before, snapshot(booking, booking_events), note=note)
    return BookingResult(booking=booking)
