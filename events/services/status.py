"""Event statuses (docs/architecture.md#event-statuses): the changes allowed, and confirming or canceling
events.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidTransition

from ..models import Event, EventStatus, Reservation

EVENT_TRANSITIONS: dict[int, set[int]] = {
    EventStatus.TENTATIVE: {EventStatus.CONFIRMED, EventStatus.CANCELED},
    EventStatus.CONFIRMED: {EventStatus.CANCELED},
    EventStatus.CANCELED: set(),
}


@transaction.atomic
def events_set_status(*, events: Sequence[Event], status: int) -> list[Event]:
    """Confirm or cancel events. Canceling frees their resources (reservations become inactive)."""
    for event in events:
        if status != event.status and status not in EVENT_TRANSITIONS[event.status]:
            raise InvalidTransition(
                f"An event that is {event.get_status_display().lower()} cannot become "
                f"{EventStatus(status).label.lower()}."
            )
    ids = [e.pk for e in events]
    if status == EventStatus.CANCELED:
        Reservation.objects.filter(event_id__in=ids).update(active=False)
    Event.objects.filter(pk__in=ids).update(status=status, updated_at=timezone.now())
    for event in events:
        event.status = status
    return list(events)
