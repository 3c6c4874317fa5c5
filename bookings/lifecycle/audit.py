"""What the lifecycle leaves behind about a booking: the BookingLog rows with their before/after
snapshots, and the integrators' webhooks (docs/architecture.md#booking-lifecycle,
docs/architecture.md#webhooks). Both are written in the service's transaction: a rollback leaves neither."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bookings.validation.events import CleanEvent, check_event_rules
from core.actor import Actor
from core.errors import FieldError
from resources.models import Organization
from webhooks.services import webhook_emit

from ..models import Booking, BookingChangeRequest, BookingEvent, BookingLog, BookingLogAction
from ..selectors import booking_payload, change_requests_payload


def snapshot(booking: Booking, booking_events: Sequence[BookingEvent]) -> dict[str, Any]:
    return {
        "status": int(booking.status),
        "title": booking.title,
        "customerId": str(booking.customer_id) if booking.customer_id else None,
        "contactId": str(booking.contact_id) if booking.contact_id else None,
        "contact": dict(booking.contact_answers),
        # Staff-only, like the log itself (docs/architecture.md#booking-lifecycle); None when blank, so a new
        # booking without notes does not log them.
        "internalNotes": booking.internal_notes or None,
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


def log_write(
    booking: Booking,
    actor: Actor,
    action: BookingLogAction,
    before: dict[str, Any],
    after: dict[str, Any],
    note: str = "",
) -> BookingLog:
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


def rules_override_note(clean_events: list[CleanEvent], organization: Organization, now: datetime | None) -> str:
    """What staff overrode, for the log (empty when no rule was broken)."""
    broken = check_event_rules(clean_events, organization=organization, now=now)
    if not broken:
        return ""
    return "Rules overridden: " + "; ".join(f"{e.field} {e.code}" for e in broken)


def skipped_note(skipped: Sequence[FieldError]) -> str:
    """The log's account of the occurrences left out (their local date and time and why)."""
    if not skipped:
        return ""
    items = []
    for error in skipped:
        local = error.meta.get("startLocal")
        when = f"{datetime.fromisoformat(local):%a %d %b %Y %H:%M}" if local else error.field
        items.append(f"{when} {error.code}")
    return f"Skipped {len(skipped)} occurrence{'s' if len(skipped) != 1 else ''}: " + "; ".join(items)


def booking_emit(booking: Booking, event_type: str, change_request: BookingChangeRequest | None = None) -> None:
    """Integrators' webhooks (docs/architecture.md#webhooks), in this transaction: the booking (and the
    change request) as the staff API shows them at this point, so the payload is what commits, and a
    rollback sends nothing."""

    def payload() -> dict[str, Any]:
        data: dict[str, Any] = {"booking": booking_payload(booking, staff=True)}
        if change_request is not None:
            [data["changeRequest"]] = change_requests_payload(BookingChangeRequest.objects.filter(pk=change_request.pk))
        return data

    webhook_emit(organization=booking.organization_id, event_type=event_type, payload=payload)
