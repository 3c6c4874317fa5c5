"""The booking lifecycle's transition table and the frame every lifecycle service runs in.

See docs/architecture.md#booking-lifecycle and docs/architecture.md#transition-table. A service locks the
booking row (lock_booking; docs/adr/0002-lock-order.md), checks its action against TRANSITIONS before doing
anything (check_transition), and at the end moves the booking with transition_apply: the one function
that writes a booking's status after it was made, and its decided fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.actor import Actor
from core.errors import FieldError, InvalidTransition, NotFound, StaleBooking, ValidationFailed
from core.ids import as_uuid
from events.models import Event
from resources.config_cache import config_assume

from ..models import Booking, BookingChangeRequest, BookingEvent, BookingModule, BookingStatus, BookingVisitor
from ..module_cache import module_cached

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
    # Staff deleted every event of an approved booking on the calendar (bookings.lifecycle.follow).
    "events_deleted": {S.APPROVED: S.CANCELED},
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
    "events_deleted": "canceled by deleting its events (only approved bookings are)",
}

# Not a move, so not in the table: staff's create makes the booking in the status they chose
# (booking_create), and when that status is a decision, transition_apply records who made it.
CREATE = "create"

# The actions that record who decided and when, when they lead to one of DECIDED_STATUSES.
DECIDING = frozenset({"approve", "deny", CREATE})
DECIDED_STATUSES = frozenset({S.APPROVED, S.DENIED})


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
    # What a submit wrote, for its response without reading it back (None: read the booking back).
    booking_events: list[BookingEvent] | None = None
    visitors: list[dict[str, str]] | None = None


def lock_booking(booking_id: UUID | str) -> Booking:
    pk = as_uuid(booking_id)
    booking = (
        (
            Booking.objects.select_for_update(of=("self",))
            .select_related("organization", "portal", "contact", "discount_code")
            # Whether it has visitors, in the same statement: most have none, and then none are read.
            .annotate(has_visitors=Exists(BookingVisitor.objects.filter(booking_id=OuterRef("pk"))))
            .filter(pk=pk)
            .first()
        )
        if pk
        else None
    )
    if booking is None:
        raise NotFound("Booking not found.")
    # Its module (form fields, offered resources, admin) from the configuration cache, at the version the
    # lock's statement read with the organization.
    config_assume(booking.organization_id, booking.organization.config_version)
    module = module_cached(organization_id=booking.organization_id, module_id=booking.module_id)
    booking.module = (
        module
        if module is not None
        else BookingModule.objects.select_related("organization", "admin_user").get(pk=booking.module_id)
    )
    return booking


def check_transition(booking: Booking, action: str) -> int:
    allowed = TRANSITIONS[action]
    if booking.status not in allowed:
        label = BookingStatus(booking.status).label.lower()
        article = "An" if label[0] in "aeiou" else "A"
        raise InvalidTransition(f"{article} {label} booking cannot be {ACTION_WORDS[action]}.")
    return allowed[booking.status]


def transition_apply(booking: Booking, action: str, actor: Actor) -> None:
    """Move the booking to TRANSITIONS' target for `action` from its current status (checked again: the
    caller checked it before doing its work) and save it. approve and deny (and a create in a decided
    status, CREATE) also set decided_by and decided_at. The only writer of a booking's status after the
    booking was made."""
    target = booking.status if action == CREATE else check_transition(booking, action)
    booking.status = target
    if action in DECIDING and target in DECIDED_STATUSES:
        booking.decided_by = actor.db_user
        booking.decided_at = timezone.now()
    booking.save()


def check_fresh(booking: Booking, client_last_updated_at: datetime | None) -> None:
    """Refuse to decide on a booking that changed after the deciding person read it.

    Exact equality with the lastUpdatedAt the client was given: a later or made-up value is as stale as
    an earlier one."""
    if client_last_updated_at is None:
        return
    if not isinstance(client_last_updated_at, datetime) or timezone.is_naive(client_last_updated_at):
        raise ValidationFailed(
            errors=[
                FieldError(
                    "clientBookingLastUpdatedAt", "INVALID", "Send the booking's lastUpdatedAt as you received it."
                )
            ]
        )
    if booking.updated_at != client_last_updated_at:
        raise StaleBooking(
            errors=[
                FieldError(
                    "clientBookingLastUpdatedAt",
                    "STALE_BOOKING",
                    f"The booking was changed at {booking.updated_at.isoformat()}; reload it and decide again.",
                    {"lastUpdatedAt": booking.updated_at.isoformat()},
                )
            ]
        )


def parse_event_procedure(value: Any) -> int:
    if not isinstance(value, bool) and value in (EventProcedure.CANCEL, EventProcedure.DELETE):
        return int(value)
    raise ValidationFailed(
        errors=[FieldError("eventProcedure", "INVALID", "eventProcedure is 0 (cancel) or 1 (delete).")]
    )
