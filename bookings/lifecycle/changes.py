"""Changes to an existing booking's answers (staff's edits at approval, a booker's change request): the
current answers with the changes laid over them, a series change spread over the occurrences it chooses
(events.series; docs/architecture.md#series), and the result validated as an existing booking
(docs/architecture.md#change-requests)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bookings.validation.events import parse_moment
from bookings.validation.repeat import Occurrence
from bookings.validation.submission import CleanSubmission, validate_submission
from core.errors import FieldError, ImmutableField, ValidationFailed
from events.models import EventSeries, EventStatus
from events.series import (
    WHICH_EVENTS,
    WhichEvents,
    local_delta,
    local_shift,
    series_tz,
    which_events_covers,
    which_events_parse,
)

from ..models import Booking, BookingEvent


def answers_for_merge(be: BookingEvent) -> dict[str, Any]:
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
    if be is None or be.unit is None or not isinstance(resource_ids, list):
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
    events = [answers_for_merge(be) for be in booking_events]
    by_id = {e["bookingEventId"]: e for e in events}
    by_be = {str(be.pk): be for be in booking_events}
    errors = []
    immutable = [
        FieldError(
            f"{'event' if len(event_changes or []) == 1 else f'events[{i}]'}.repeat",
            "IMMUTABLE_FIELD",
            "A repeat is set when the booking is made: no occurrence can be added or changed by it.",
        )
        for i, change in enumerate(event_changes or [])
        if isinstance(change, dict) and "repeat" in change
    ]
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
            errors.append(
                FieldError(
                    f"{path}.bookingEventId", "NOT_FOUND", "Name the bookingEventId of the requested time to change."
                )
            )
            continue
        if (
            "resourceIds" in change
            and "unitId" not in change
            and not _unit_stays(by_be.get(target["bookingEventId"]), change["resourceIds"])
        ):
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
    covered = [
        be
        for be in booking_events
        if be.pk != target.pk
        and be.event is not None
        and be.event.series_id == event.series_id
        and be.event.status != EventStatus.CANCELED
        and which_events_covers(which, start=be.event.start, target_start=event.start)
    ]
    first = next(iter(target.resources.all()), None)
    fallback = first.venue.tz if first else target.booking.organization.tz
    name = EventSeries.objects.filter(pk=event.series_id).values_list("timezone", flat=True).first()
    return covered, series_tz(name, fallback)


def _spread_series_change(
    booking_events: Sequence[BookingEvent],
    by_id: dict[str, dict[str, Any]],
    target_id: str,
    change: dict[str, Any],
    path: str,
    errors: list[FieldError],
) -> None:
    """A change with whichEventsToUpdate 2 (this and later) or 3 (all) applies to the other occurrences it
    chooses as the events API applies it: the same answers, and a time change as the same wall-clock
    shift in the series' timezone (events.series), from each occurrence's current time."""
    try:
        which = which_events_parse(
            change.get(WHICH_EVENTS), deleting=False, field=f"{path}.{WHICH_EVENTS}", charges=False
        )
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


def series_changes_compact(
    booking_events: Sequence[BookingEvent],
    requested: Sequence[Any] | None,
    changes: list[dict[str, Any]],
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
        wanted = {
            "title": ce.title,
            "start": ce.start.isoformat(),
            "end": ce.end.isoformat(),
            "resourceIds": [str(r) for r in ce.resource_ids],
            "attendees": ce.attendees,
            **ce.answers,
        }
        heads.append(
            {"bookingEventId": target_id, **{k: wanted[k] for k in change if k in wanted}, WHICH_EVENTS: int(which)}
        )
    if not heads:
        return changes
    covered |= {head["bookingEventId"] for head in heads}
    return heads + [c for c in changes if c["bookingEventId"] not in covered or c["bookingEventId"] in named]


def merge_and_validate(
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
        current = {str(be.pk): answers_for_merge(be) for be in booking_events}

        def moves(event: dict[str, Any]) -> bool:
            before = current[str(event["bookingEventId"])]
            return (
                event.get("start") != before["start"]
                or event.get("end") != before["end"]
                or sorted(map(str, event.get("resourceIds") or [])) != sorted(before["resourceIds"])
            )

        moved = {str(e["bookingEventId"]) for e in events if moves(e)}
    held = {str(r.pk): r for be in booking_events for r in be.resources.all()}
    return validate_submission(
        module=booking.module,
        contact=contact,
        events=events,
        single_event=len(events) == 1,
        check_rules=check_rules,
        rules_for=moved,
        existing=held,
        now=now,
        skip_failing=skip_failing,
        repeats=repeats,
    )
