"""Single events, as the events API writes them (docs/architecture.md#http-api-conventions): create, move or
retitle, confirm or cancel, delete; each one through events_save, with its webhook
(docs/architecture.md#webhooks).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError, FieldError, InvalidTransition, ValidationFailed
from resources.models import Organization, Resource
from webhooks.services import webhook_emit

from ..models import Event, EventStatus
from ..rules import check_rules
from ..selectors import closures_for, events_payload, resources_for_rules
from .saving import events_delete, events_save
from .scheduling import EventSpec
from .status import EVENT_TRANSITIONS, events_set_status

logger = logging.getLogger(__name__)


def event_resources(*, organization: Organization, resource_ids: Sequence[UUID]) -> list[Resource]:
    """The resources, in the order given (duplicates dropped); NOT_FOUND for any not of this organization."""
    ids = list(dict.fromkeys(resource_ids))
    found = resources_for_rules(ids)
    missing = [rid for rid in ids if rid not in found or found[rid].venue.organization_id != organization.pk]
    if missing:
        raise ValidationFailed(
            errors=[
                FieldError(
                    "resourceIds",
                    "NOT_FOUND",
                    f"Resource {rid} does not exist in this organization.",
                    {"resourceId": str(rid)},
                )
                for rid in missing
            ]
        )
    return [found[rid] for rid in ids]


def aware(moment: datetime, tz: ZoneInfo) -> datetime:
    """Naive times are wall-clock times in the event's timezone."""
    return moment.replace(tzinfo=tz) if timezone.is_naive(moment) else moment


def _check_times(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValidationFailed(errors=[FieldError("end", "END_BEFORE_START", "The end must be after the start.")])


def _check_event_rules(
    *,
    organization: Organization,
    resources: Sequence[Resource],
    start: datetime,
    end: datetime,
    now: datetime | None,
) -> None:
    now = now or timezone.now()
    closures = closures_for(organization=organization, start=start, end=end)
    errors = [
        FieldError(failure.field, failure.code, failure.message, {"resourceId": failure.resource_id})
        for resource in resources
        for failure in check_rules(resource=resource, start=start, end=end, now=now, closures=closures)
    ]
    if errors:
        raise ValidationFailed(errors=errors)


def emit(event: Event, event_type: str) -> None:
    """Integrators' webhooks (docs/architecture.md#webhooks), in this transaction: the event as the API
    shows it at this point (for a deletion, before it goes), so a rollback sends nothing."""
    webhook_emit(
        organization=event.organization_id,
        event_type=event_type,
        payload=lambda: {"event": events_payload(Event.objects.filter(pk=event.pk))[0]},
    )


@contextmanager
def _errors_at_top_level() -> Iterator[None]:
    """events_save names its errors `event.resourceIds`; the events API's body is the event itself."""
    try:
        yield
    except DomainError as exc:
        exc.errors = [replace(e, field=e.field.removeprefix("event.")) for e in exc.errors]
        raise


@transaction.atomic
def event_create(
    *,
    organization: Organization,
    title: str,
    start: datetime,
    end: datetime,
    resource_ids: Sequence[UUID],
    description: str = "",
    status: int = EventStatus.CONFIRMED,
    override_rules: bool = False,
    now: datetime | None = None,
) -> Event:
    """A CONFIRMED event or a TENTATIVE hold on resources of the organization: booking rules checked
    (unless `override_rules`), conflicts always. Naive times are in the first resource's venue's timezone."""
    if status not in (EventStatus.CONFIRMED, EventStatus.TENTATIVE):
        raise ValidationFailed(
            errors=[FieldError("status", "INVALID_CHOICE", "A new event is 0 (CONFIRMED) or 1 (TENTATIVE).")]
        )
    resources = event_resources(organization=organization, resource_ids=resource_ids)
    tz = resources[0].venue.tz if resources else organization.tz
    start, end = aware(start, tz), aware(end, tz)
    _check_times(start, end)
    if override_rules:
        logger.info("Booking rules overridden creating an event in %s at %s", organization.pk, start)
    else:
        _check_event_rules(organization=organization, resources=resources, start=start, end=end, now=now)
    spec = EventSpec(title=title, start=start, end=end, resource_ids=[r.pk for r in resources], description=description)
    with _errors_at_top_level():
        [event] = events_save(organization=organization, specs=[spec], status=status)
    emit(event, "event.created")
    return event


@transaction.atomic
def event_update(
    *,
    event: Event,
    title: str | None = None,
    description: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    resource_ids: Sequence[UUID] | None = None,
    status: int | None = None,
    override_rules: bool = False,
    now: datetime | None = None,
) -> Event:
    """Retitle, move (conflicts checked; booking rules too unless `override_rules`), confirm a TENTATIVE
    event (status 0) or cancel (status 2, which frees its resources). None leaves a value as it is."""
    event = Event.objects.select_for_update().select_related("organization").get(pk=event.pk)
    organization = event.organization
    new_status = event.status if status is None else status
    if new_status != event.status and new_status not in EVENT_TRANSITIONS[event.status]:
        raise InvalidTransition(
            f"An event that is {event.get_status_display().lower()} cannot become "
            f"{EventStatus(new_status).label.lower()}.",
            errors=[FieldError("status", "INVALID_TRANSITION", "That status change is not possible.")],
        )
    current_ids = list(event.reservations.order_by("created_at").values_list("resource_id", flat=True))
    resources = event_resources(
        organization=organization, resource_ids=current_ids if resource_ids is None else resource_ids
    )
    tz = resources[0].venue.tz if resources else organization.tz
    new_start = event.start if start is None else aware(start, tz)
    new_end = event.end if end is None else aware(end, tz)
    new_ids = [r.pk for r in resources]
    moved = new_start != event.start or new_end != event.end or new_ids != current_ids
    if title is not None:
        event.title = title
    if description is not None:
        event.description = description
    if moved:
        _check_times(new_start, new_end)
    if moved and new_ids:
        if new_status == EventStatus.CANCELED:
            pass  # a canceled event holds nothing: no rules, no conflicts
        elif override_rules:
            logger.info("Booking rules overridden moving event %s to %s", event.pk, new_start)
        else:
            _check_event_rules(organization=organization, resources=resources, start=new_start, end=new_end, now=now)
        spec = EventSpec(
            title=event.title,
            start=new_start,
            end=new_end,
            resource_ids=new_ids,
            description=event.description,
            event=event,
        )
        with _errors_at_top_level():
            events_save(organization=organization, specs=[spec], status=new_status)
        emit(event, "event.updated")
        return event
    event.start, event.end = new_start, new_end  # an event without resources has nothing to check
    event.save()
    if new_status != event.status:
        events_set_status(events=[event], status=new_status)
    emit(event, "event.updated")
    return event


@transaction.atomic
def event_delete(*, event: Event) -> None:
    """Delete the event and its reservations (a booking that created it keeps its request, unlinked)."""
    emit(event, "event.deleted")
    events_delete(events=[event])
