"""Occurrences of a series (docs/architecture.md#series; the scopes and the wall-clock shift are events.series'):
change or delete the occurrences a scope chooses, all or nothing. The registered OccurrenceHook
(events.hooks) locks what the app built on events keeps first and follows the change after
(docs/adr/0002-lock-order.md).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from core.errors import FieldError, InvalidTransition, NotFound, ValidationFailed
from core.html import sanitize_html
from notifications.services import NotificationSpec
from resources.models import Organization, Resource

from ..hooks import occurrence_hook
from ..models import Event, EventStatus, Reservation
from ..rules import check_rules
from ..selectors import closures_for, resources_for_rules
from ..series import (
    WHICH_EVENTS,
    WhichEvents,
    local_delta,
    local_shift,
    series_tz,
    which_events_covers,
    which_events_parse,
)
from .saving import events_delete
from .scheduling import EventSpec, conflicts_check, raise_conflicts, resources_lock, write_reservations
from .single import aware, emit, event_resources, event_update
from .status import EVENT_TRANSITIONS

logger = logging.getLogger(__name__)


@dataclass
class _Occurrence:
    event: Event
    start: datetime
    end: datetime
    resource_ids: list[UUID]
    status: int
    moved: bool


def _when(moment: datetime, tz: ZoneInfo) -> str:
    return f"The occurrence of {moment.astimezone(tz):%a %d %b %Y %H:%M}"


def _occurrence_ids(event: Event, which: WhichEvents, *, deleting: bool) -> list[UUID]:
    """The chosen occurrences, the addressed one first. A change leaves the series' other canceled
    occurrences as they are; a deletion takes them too."""
    if event.series_id is None or which == WhichEvents.THIS:
        return [event.pk]
    others = Event.objects.filter(series_id=event.series_id).exclude(pk=event.pk)
    if not deleting:
        others = others.exclude(status=EventStatus.CANCELED)
    return [event.pk] + [
        pk
        for pk, start in others.order_by("start", "pk").values_list("pk", "start")
        if which_events_covers(which, start=start, target_start=event.start)
    ]


def _leave_out_charged(event: Event, which: WhichEvents, ids: list[UUID]) -> list[UUID]:
    """4 and 7 choose the occurrences that are not charged; whoever keeps charges (the bookings app) says
    which are (events.hooks.OccurrenceHook.charged_event_ids). The addressed one must not be charged: staff pointed
    at it, and leaving it out silently would surprise them."""
    if which not in (WhichEvents.NOT_CHARGED, WhichEvents.DELETE_NOT_CHARGED):
        return ids
    charged = set(occurrence_hook().charged_event_ids(event_ids=ids))
    if event.pk in charged:
        raise ValidationFailed(
            errors=[
                FieldError(
                    WHICH_EVENTS,
                    "EVENT_CHARGED",
                    f"This occurrence is charged: {int(which)} chooses the occurrences that are "
                    "not charged. Address one of those, or revert its charge first.",
                )
            ]
        )
    return [pk for pk in ids if pk not in charged]


@transaction.atomic
def occurrences_update(
    *,
    event: Event,
    which: int = WhichEvents.THIS,
    title: str | None = None,
    description: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    resource_ids: Sequence[UUID] | None = None,
    status: int | None = None,
    override_rules: bool = False,
    now: datetime | None = None,
    actor: Any = None,
    price_override: Any = None,
) -> list[Event]:
    """event_update for the occurrences of the event's series that `which` chooses (1 this one, 2 this and
    the later ones, 3 all, 4 those not charged, 8 all and their charges reverted; an event outside a series
    is always just itself), all or nothing.

    Title, description, resources and status apply to each chosen occurrence. A time change moves the
    addressed occurrence to the given start/end and every other chosen one by the same wall-clock shift
    in the series' timezone (DST-safe: 09:00 → 10:30 is 10:30 local in winter and summer). Booking rules
    are checked for each moved occurrence (unless `override_rules`), then conflicts for all of them as one
    unit under one lock of every resource involved: one taken slot changes nothing, and the errors name
    the occurrences (`eventId`) that could not move. `actor` (who does it) is handed to the
    registered hook (events.hooks), and so is `price_override` (staff's
    overridePrice: the bookings app re-fixes the price of the chosen events). Returns the changed events in
    start order."""
    which = which_events_parse(which, deleting=False)
    ids = _occurrence_ids(event, which, deleting=False)
    occurrence_hook().lock(event_ids=ids, actor=actor)
    ids = _leave_out_charged(event, which, ids)
    if len(ids) == 1:
        changed = [
            event_update(
                event=event,
                title=title,
                description=description,
                start=start,
                end=end,
                resource_ids=resource_ids,
                status=status,
                override_rules=override_rules,
                now=now,
            )
        ]
    else:
        changed = _occurrences_write(
            target_id=event.pk,
            ids=ids,
            title=title,
            description=description,
            start=start,
            end=end,
            resource_ids=resource_ids,
            status=status,
            override_rules=override_rules,
            now=now,
        )
    occurrence_hook().follow(events=changed, deleted=False, actor=actor, price_override=price_override)
    if which == WhichEvents.REVERT_ALL_CHARGES:
        every = (
            list(Event.objects.filter(series_id=event.series_id).values_list("pk", flat=True))
            if event.series_id
            else [event.pk]
        )
        occurrence_hook().charges_revert(event_ids=every, actor=actor)
    return changed


def _occurrences_write(
    *,
    target_id: UUID,
    ids: Sequence[UUID],
    title: str | None,
    description: str | None,
    start: datetime | None,
    end: datetime | None,
    resource_ids: Sequence[UUID] | None,
    status: int | None,
    override_rules: bool,
    now: datetime | None,
) -> list[Event]:
    events = list(
        Event.objects.select_for_update(of=("self",))
        .select_related("organization", "series")
        .filter(pk__in=ids)
        .order_by("start", "pk")
    )
    target = next((e for e in events if e.pk == target_id), None)
    if target is None:
        raise NotFound("Event not found.")
    organization = target.organization
    current, held_units = _current_reservations(events)
    chosen = (
        None
        if resource_ids is None
        else [r.pk for r in event_resources(organization=organization, resource_ids=resource_ids)]
    )
    wanted = {e.pk: list(current[e.pk] if chosen is None else chosen) for e in events}
    found = resources_for_rules({rid for rids in wanted.values() for rid in rids})
    first = found.get(wanted[target.pk][0]) if wanted[target.pk] else None
    input_tz = first.venue.tz if first else organization.tz  # naive times: as event_update reads them
    tz = series_tz(target.series.timezone if target.series else None, input_tz)
    plan = _plan(
        events,
        target,
        wanted,
        current,
        status=status,
        tz=tz,
        new_start=None if start is None else aware(start, input_tz),
        new_end=None if end is None else aware(end, input_tz),
    )
    _check_occurrence_rules(
        plan,
        organization=organization,
        found=found,
        tz=tz,
        override_rules=override_rules,
        now=now,
        series_id=target.series_id,
    )

    # One lock of every resource involved (old and new), one conflict check of every occurrence together
    # (against the table and each other), then the writes: all or nothing.
    resources = resources_lock({rid for rids in current.values() for rid in rids} | set(found), organization)
    specs = [
        EventSpec(
            title=p.event.title,
            start=p.start,
            end=p.end,
            resource_ids=p.resource_ids,
            field=f"occurrences[{i}]",
            event=p.event,
            prefer_units=held_units.get(p.event.pk, {}),
        )
        for i, p in enumerate(plan)
        if p.resource_ids and p.status != EventStatus.CANCELED
    ]
    _check_occurrence_conflicts(plan, specs, resources, tz)
    _write_occurrences(events, plan, specs, resources, title=title, description=description)
    for e in events:
        emit(e, "event.updated")
    return events


def _current_reservations(events: list[Event]) -> tuple[dict[UUID, list[UUID]], dict[UUID, dict[UUID, UUID]]]:
    """Each occurrence's resources (in the order they were reserved) and the units it holds, by resource id."""
    current: dict[UUID, list[UUID]] = {e.pk: [] for e in events}
    held_units: dict[UUID, dict[UUID, UUID]] = {}
    for event_id, rid, unit_id in (
        Reservation.objects.filter(event__in=events)
        .order_by("created_at", "pk")
        .values_list("event_id", "resource_id", "unit_id")
    ):
        current[event_id].append(rid)
        if unit_id is not None:
            held_units.setdefault(event_id, {})[rid] = unit_id
    return current, held_units


def _plan(
    events: list[Event],
    target: Event,
    wanted: dict[UUID, list[UUID]],
    current: dict[UUID, list[UUID]],
    *,
    status: int | None,
    tz: ZoneInfo,
    new_start: datetime | None,
    new_end: datetime | None,
) -> list[_Occurrence]:
    """Where each occurrence goes: the target to the new times, the others by the same wall-clock shift in
    `tz`; INVALID_TRANSITION for a status change that is not possible, END_BEFORE_START for each one that
    would end before it starts."""
    start_delta = timedelta(0) if new_start is None else local_delta(target.start, new_start, tz)
    end_delta = timedelta(0) if new_end is None else local_delta(target.end, new_end, tz)
    plan: list[_Occurrence] = []
    errors: list[FieldError] = []
    for e in events:
        if e.pk == target.pk:
            s, en = new_start or e.start, new_end or e.end
        else:
            s, en = local_shift(e.start, start_delta, tz), local_shift(e.end, end_delta, tz)
        new_status = e.status if status is None else status
        if new_status != e.status and new_status not in EVENT_TRANSITIONS[e.status]:
            raise InvalidTransition(
                f"{_when(e.start, tz)} is {e.get_status_display().lower()}: it cannot become "
                f"{EventStatus(new_status).label.lower()}.",
                errors=[
                    FieldError(
                        "status", "INVALID_TRANSITION", "That status change is not possible.", {"eventId": str(e.pk)}
                    )
                ],
            )
        if en <= s:
            errors.append(
                FieldError(
                    "end",
                    "END_BEFORE_START",
                    f"{_when(e.start, tz)}: the end must be after the start.",
                    {"eventId": str(e.pk)},
                )
            )
        rids = wanted[e.pk]
        plan.append(_Occurrence(e, s, en, rids, new_status, moved=(s, en, rids) != (e.start, e.end, current[e.pk])))
    if errors:
        raise ValidationFailed(errors=errors)
    return plan


def _check_occurrence_rules(
    plan: list[_Occurrence],
    *,
    organization: Organization,
    found: dict[UUID, Resource],
    tz: ZoneInfo,
    override_rules: bool,
    now: datetime | None,
    series_id: UUID | None,
) -> None:
    """Booking rules for each occurrence that moves and holds resources (unless `override_rules`), the
    errors naming the occurrence (`eventId`)."""
    checked = [p for p in plan if p.moved and p.resource_ids and p.status != EventStatus.CANCELED]
    if checked and override_rules:
        logger.info("Booking rules overridden moving %d occurrences of series %s", len(checked), series_id)
    elif checked:
        rules_now = now or timezone.now()
        closures = closures_for(
            organization=organization, start=min(p.start for p in checked), end=max(p.end for p in checked)
        )
        errors = [
            FieldError(
                failure.field,
                failure.code,
                f"{_when(p.event.start, tz)}: {failure.message}",
                {"resourceId": failure.resource_id, "eventId": str(p.event.pk)},
            )
            for p in checked
            for rid in p.resource_ids
            for failure in check_rules(resource=found[rid], start=p.start, end=p.end, now=rules_now, closures=closures)
        ]
        if errors:
            raise ValidationFailed(errors=errors)


def _check_occurrence_conflicts(
    plan: list[_Occurrence],
    specs: list[EventSpec],
    resources: dict[UUID, Resource],
    tz: ZoneInfo,
) -> None:
    """The conflicts of every occurrence together (the resources locked), each error naming its occurrence
    (`eventId`)."""
    conflicts = conflicts_check(specs=specs, resources=resources, exclude_event_ids=[p.event.pk for p in plan])
    if conflicts:
        named = []
        for error in conflicts:
            p = plan[int(error.field.split("[", 1)[1].split("]", 1)[0])]
            named.append(
                FieldError(
                    "resourceIds",
                    error.code,
                    f"{_when(p.event.start, tz)}: {error.message}",
                    {**error.meta, "eventId": str(p.event.pk)},
                )
            )
        raise_conflicts(named)


def _write_occurrences(
    events: list[Event],
    plan: list[_Occurrence],
    specs: list[EventSpec],
    resources: dict[UUID, Resource],
    *,
    title: str | None,
    description: str | None,
) -> None:
    """Replace the occurrences' reservations and update their rows (one bulk update)."""
    Reservation.objects.filter(event__in=events).delete()
    stamp = timezone.now()
    for p in plan:
        e = p.event
        if title is not None:
            e.title = title
        if description is not None:
            e.description = sanitize_html(description)
        e.start, e.end, e.status, e.updated_at = p.start, p.end, p.status, stamp
    Event.objects.bulk_update(events, ["title", "description", "start", "end", "status", "updated_at"])
    chosen_units = {spec.event.pk: spec.units for spec in specs if spec.event is not None}
    write_reservations([(p.event, p.resource_ids, chosen_units.get(p.event.pk, {})) for p in plan], resources)


@transaction.atomic
def occurrences_delete(
    *,
    event: Event,
    which: int = WhichEvents.THIS,
    actor: Any = None,
    notification: NotificationSpec | None = None,
) -> list[UUID]:
    """Delete the occurrences of the event's series that `which` chooses (1 this one, 5 all, 6 this and
    the later ones, 7 those not charged; 3 and 2 mean the same as 5 and 6), canceled ones included, with
    their reservations.
    The series keeps its remaining occurrences; none is ever added to it. The hook's `follow` is told
    before the rows go, with `notification` (the app built on events decides what to do: the bookings app
    keeps a booking's requests, unlinked, and cancels a booking left without a live event, emailing the
    booker unless `notification` says not to). Returns the deleted ids."""
    which = which_events_parse(which, deleting=True)
    ids = _occurrence_ids(event, which, deleting=True)
    occurrence_hook().lock(event_ids=ids, actor=actor)
    ids = _leave_out_charged(event, which, ids)
    events = list(Event.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("start", "pk"))
    if not any(e.pk == event.pk for e in events):
        raise NotFound("Event not found.")
    occurrence_hook().follow(events=events, deleted=True, actor=actor, notification=notification)
    for e in events:
        emit(e, "event.deleted")
    events_delete(events=events)
    return [e.pk for e in events]
