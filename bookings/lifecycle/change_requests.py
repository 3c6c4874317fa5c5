"""Change requests (docs/architecture.md#change-requests): a booker (or staff on their behalf) asks for a
change or a cancellation; on a pending booking it is applied at once, on an approved one it is recorded
for staff, who approve or deny it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from bookings.pricing.estimate import booking_estimate
from bookings.pricing.fixing import booking_events_release
from bookings.validation.billing import refuse_billing_changes
from bookings.validation.fields import clean_note
from bookings.validation.submission import CleanSubmission
from core.actor import Actor, ActorKind
from core.errors import FieldError, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from core.ids import as_uuid
from events.models import EventStatus
from events.services.saving import events_save
from notifications.services import NotificationSpec

from ..models import (
    Booking,
    BookingChangeRequest,
    BookingEvent,
    BookingLogAction,
    BookingModule,
    BookingStatus,
    ChangeRequestDecision,
)
from ..notify import admin_email, booker_email, notify, notify_admin, notify_booker
from .audit import booking_emit, log_write, rules_override_note, snapshot
from .changes import answers_for_merge, merge_and_validate, series_changes_compact
from .requested_times import (
    end_events,
    event_specs,
    hold_or_check,
    link_events,
    load_booking_events,
    release_holds,
    update_booking_event,
)
from .transitions import (
    BookingResult,
    EventProcedure,
    check_transition,
    lock_booking,
    parse_event_procedure,
    transition_apply,
)


def withdraw_open_change_requests(booking: Booking, decision: str, actor: Actor) -> None:
    BookingChangeRequest.open.filter(booking=booking).update(
        decision=decision, decided_at=timezone.now(), decided_by=actor.db_user
    )


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
        booking = lock_booking(booking_id)
        check_transition(booking, "booker_cancel" if cancellation else "change_request_submit")
        _check_booker_may(booking.module, actor, cancellation)
        booking_events = load_booking_events(booking)
        before = snapshot(booking, booking_events)

        if booking.status == BookingStatus.PENDING and cancellation:
            return _cancel_pending(booking, booking_events, actor, before, note)

        if not cancellation and not contact and not events:
            raise ValidationFailed(errors=[FieldError("", "NO_CHANGES", "Say what should change.")])
        contact, events = _added_to_open_request(booking, contact, events, cancellation)
        clean = (
            None
            if cancellation
            else merge_and_validate(
                booking,
                booking_events,
                contact_changes=contact,
                event_changes=events,
                only_moved_rules=booking.status == BookingStatus.APPROVED,
                now=now,
            )
        )

        if booking.status == BookingStatus.PENDING:
            assert clean is not None
            return _apply_to_pending(booking, booking_events, clean, actor, before, note, now=now)

        # APPROVED: record the request for staff.
        change_request = _record_request(booking, booking_events, clean, events, actor, cancellation, note)
    return BookingResult(booking=booking, change_request=change_request)


def _check_booker_may(module: BookingModule, actor: Actor, cancellation: bool) -> None:
    """Bookers ask only for what the module lets them ask for; staff may always act on their behalf."""
    if actor.kind != ActorKind.BOOKER:
        return
    if cancellation and not module.allow_cancellation:
        raise PermissionDenied("This booking form does not let bookers cancel; contact the organizer.")
    if not cancellation and not module.allow_change_requests:
        raise PermissionDenied("This booking form does not take change requests; contact the organizer.")


def _cancel_pending(
    booking: Booking, booking_events: list[BookingEvent], actor: Actor, before: dict[str, Any], note: str
) -> BookingResult:
    """A pending booking the booker cancels: canceled at once, its holds released."""
    release_holds(booking_events)
    transition_apply(booking, "booker_cancel", actor)
    log_write(booking, actor, BookingLogAction.BOOKER_CANCEL, before, snapshot(booking, booking_events), note=note)
    notify(
        booker_email(booking, "booking_canceled", booking_events),
        admin_email(booking, "admin_booker_canceled", booking_events),
    )
    booking_emit(booking, "booking.canceled")
    return BookingResult(booking=booking, applied=True)


def _added_to_open_request(
    booking: Booking, contact: dict[str, Any] | None, events: Sequence[dict[str, Any]] | None, cancellation: bool
) -> tuple[dict[str, Any] | None, Sequence[dict[str, Any]] | None]:
    """A second change request adds to the open one: the booker's earlier changes are not thrown away."""
    open_request = BookingChangeRequest.open.filter(booking=booking).first()
    if open_request is None or cancellation or open_request.cancellation:
        return contact, events
    if events is not None and not isinstance(events, list | tuple):
        raise ValidationFailed(errors=[FieldError("events", "INVALID", "The event changes must be a list.")])
    return {**open_request.contact_changes, **(contact or {})}, list(open_request.event_changes) + list(events or [])


def _apply_to_pending(
    booking: Booking,
    booking_events: list[BookingEvent],
    clean: CleanSubmission,
    actor: Actor,
    before: dict[str, Any],
    note: str,
    *,
    now: datetime | None,
) -> BookingResult:
    """A pending booking's change is applied at once: its holds move (or the new times are only checked
    for conflicts), the estimate is computed again and the module's admin is told."""
    if booking.module.hold_pending_slots or any(be.event_id for be in booking_events):
        # Existing holds move with the request (even if the module stopped holding since).
        held = events_save(
            organization=booking.organization,
            specs=event_specs(clean.events, booking_events),
            status=EventStatus.TENTATIVE,
        )
    else:
        hold_or_check(booking.module, [], clean)
        held = []
    for be, ce in zip(booking_events, clean.events, strict=True):
        update_booking_event(be, ce)
    if held:
        link_events(booking_events, held)
    booking.contact_answers = clean.contact
    transition_apply(booking, "change_request_submit", actor)
    booking_estimate(booking=booking, booking_events=booking_events, now=now)
    log_write(booking, actor, BookingLogAction.CHANGE_APPLIED, before, snapshot(booking, booking_events), note=note)
    notify_admin(booking, "admin_booking_changed", booking_events)
    return BookingResult(booking=booking, applied=True)


def _record_request(
    booking: Booking,
    booking_events: list[BookingEvent],
    clean: CleanSubmission | None,
    events: Sequence[dict[str, Any]] | None,
    actor: Actor,
    cancellation: bool,
    note: str,
) -> BookingChangeRequest:
    """An approved booking's change or cancellation request, for staff to decide: only what differs from
    the booking now (a series change kept as it was asked), replacing any open request."""
    contact_changes = _changed_contact(booking, clean) if clean else {}
    event_changes = _changed_events(booking_events, clean) if clean else []
    if event_changes and clean is not None:  # there are event changes only with a clean submission
        event_changes = series_changes_compact(booking_events, events, event_changes, clean)
    if clean and not contact_changes and not event_changes:
        raise ValidationFailed(errors=[FieldError("", "NO_CHANGES", "The request asks for nothing new.")])
    withdraw_open_change_requests(booking, ChangeRequestDecision.SUPERSEDED, actor)
    change_request = BookingChangeRequest.objects.create(
        booking=booking,
        cancellation=cancellation,
        contact_changes=contact_changes,
        event_changes=event_changes,
        request_note=note,
    )
    log_write(
        booking,
        actor,
        BookingLogAction.CHANGE_REQUESTED,
        {},
        {"changeRequestId": str(change_request.pk), "cancellation": cancellation},
        note=note,
    )
    notify(
        booker_email(booking, "change_request_received", booking_events, change_request=change_request),
        admin_email(booking, "admin_new_change_request", booking_events, change_request=change_request, note=note),
    )
    booking_emit(booking, "change_request.submitted", change_request)
    return change_request


def _changed_contact(booking: Booking, clean: CleanSubmission) -> dict[str, Any]:
    current = booking.contact_answers
    return {k: v for k, v in clean.contact.items() if current.get(k) != v}


def _changed_events(booking_events: Sequence[BookingEvent], clean: CleanSubmission) -> list[dict[str, Any]]:
    """Only what differs from the booking now, in wire form, per booking event."""
    changes = []
    for be, ce in zip(booking_events, clean.events, strict=True):
        current = answers_for_merge(be)
        wanted = {
            "title": ce.title,
            "start": ce.start.isoformat(),
            "end": ce.end.isoformat(),
            "resourceIds": [str(r) for r in ce.resource_ids],
            "attendees": ce.attendees,
            **ce.answers,
        }
        diff = {k: v for k, v in wanted.items() if current.get(k) != v}
        if sorted(current["resourceIds"]) == sorted(wanted["resourceIds"]):
            diff.pop("resourceIds", None)
        if diff:
            changes.append({"bookingEventId": str(be.pk), **diff})
    return changes


def _lock_change_request(change_request_id: UUID | str) -> tuple[BookingChangeRequest, Booking]:
    """Lock booking first, then the request: the same order as change_request_submit, so no deadlock."""
    pk = as_uuid(change_request_id)
    booking_id = BookingChangeRequest.objects.filter(pk=pk).values_list("booking_id", flat=True).first() if pk else None
    if booking_id is None:
        raise NotFound("Change request not found.")
    booking = lock_booking(booking_id)
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
        check_transition(booking, action)
        booking_events = load_booking_events(booking)
        before = snapshot(booking, booking_events)
        if change_request.cancellation:
            procedure = parse_event_procedure(event_procedure)
            booking_events_release(booking=booking, booking_events=booking_events, actor=actor)
            events = end_events(booking_events, procedure)
            note = ""
        else:
            refuse_billing_changes(event_edits)
            edits = _combine_edits(change_request.event_changes, event_edits, booking_events)
            clean = merge_and_validate(
                booking,
                booking_events,
                contact_changes=change_request.contact_changes,
                event_changes=edits,
                check_rules=not override_rules,
                only_moved_rules=True,
                now=now,
            )
            events = events_save(
                organization=booking.organization,
                specs=event_specs(clean.events, booking_events),
                status=EventStatus.CONFIRMED,
            )
            for be, ce in zip(booking_events, clean.events, strict=True):
                update_booking_event(be, ce)
            link_events(booking_events, events)
            booking.contact_answers = clean.contact
            note = rules_override_note(clean.events, booking.organization, now) if override_rules else ""
        transition_apply(booking, action, actor)
        _decide(change_request, ChangeRequestDecision.APPROVED, actor)
        log_write(
            booking,
            actor,
            BookingLogAction.CHANGE_REQUEST_APPROVE,
            before,
            snapshot(booking, booking_events),
            note=note or change_request.request_note,
        )
        notify_booker(
            booking, "change_request_approved", booking_events, spec=notification, change_request=change_request
        )
        booking_emit(booking, "change_request.approved", change_request)
        if change_request.cancellation:
            booking_emit(booking, "booking.canceled")
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
            {k: v for k, v in change.items() if k != "bookingEventId"}
        )
    return list(combined.values())


def change_request_deny(
    *,
    change_request_id: UUID | str,
    actor: Actor,
    notification: NotificationSpec | None = None,
) -> BookingResult:
    with transaction.atomic():
        change_request, booking = _lock_change_request(change_request_id)
        check_transition(booking, "change_request_deny")
        booking_events = load_booking_events(booking)
        _decide(change_request, ChangeRequestDecision.DENIED, actor)
        log_write(
            booking,
            actor,
            BookingLogAction.CHANGE_REQUEST_DENY,
            {"changeRequestId": str(change_request.pk)},
            {},
            note=change_request.request_note,
        )
        notify_booker(
            booking, "change_request_denied", booking_events, spec=notification, change_request=change_request
        )
        booking_emit(booking, "change_request.denied", change_request)
    return BookingResult(booking=booking, change_request=change_request)


def booking_cancel_by_booker(*, booking_id: UUID | str, actor: Actor, request_note: str = "") -> BookingResult:
    """The booker's "cancel": a pending booking is canceled at once; an approved one gets a cancellation
    change request for staff to decide."""
    return change_request_submit(booking_id=booking_id, actor=actor, cancellation=True, request_note=request_note)
