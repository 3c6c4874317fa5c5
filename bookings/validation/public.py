"""What a booker may see of the errors, and checking a booking request without making it
(`POST /api/v1/bookings/validate`, the public form's "Check availability").

public_errors words a conflict without the other booking: the resource is named, never the other
booking's title or event id (docs/architecture.md#public-site).

booking_preflight runs what a submit or a staff create runs — the validator (form answers, repeats
expanded, every booking rule of every occurrence) and the conflict check — and reports every problem at
once, where a real request stops at the first kind (400 rules, then 409 conflicts). It writes nothing:
no booking, no hold, no series, no log, no email. Conflicts are read without a lock: the answer is the
calendar at this moment, and a submit can still lose the slot to a faster one.

For each requested time that fails only on *when* it is (taken, outside bookable hours, closed, too
little notice, too far ahead, in the past), it suggests up to MAX_SLOTS free times of the same length on
the same resources: from the requested start it tries every STEP forward and backward, nearest first
(forward first at equal distance), up to SEARCH_DAYS each way, with the same checks as a booking
(events.rules.check_rules and events.services.scheduling.conflicts_among, the request's other times
included). At most MAX_SUGGESTED failing times get suggestions. Whatever the number of occurrences and candidates, the
reservations are read once and the closures at most twice.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

from django.utils import timezone

from core.errors import FieldError, NotFound, ValidationFailed
from core.time import iso, local_times
from events.models import Event
from events.rules import check_rules
from events.selectors import closures_for, reservations_overlapping
from events.services.scheduling import EventSpec, conflicts_among, units_of
from resources.models import Closure, Resource

from ..models import BookingModule, Portal, PortalStatus
from .events import CleanEvent, occurrence_refs
from .fields import clean_note, clean_title
from .repeat import collapse_occurrence_errors
from .submission import assess_submission, set_aside_failing_occurrences

# --- what a booker may see of the errors ---------------------------------------------------------------


CONFLICT_CODES = frozenset({"BOOKING_CONFLICT", "CAPACITY_EXCEEDED"})
PRIVATE_META = ("conflictingEventIds", "conflictingTitles", "titles")


def public_errors(errors: Sequence[FieldError]) -> list[FieldError]:
    """The errors as a public caller (a booker, the public API) may see them: a conflict names the resource
    and never the other booking (`"Room is already booked at that time."`), and no error carries
    `conflictingEventIds`. Staff keep the detail (the admin shows what is in the way).

    A plain conflict's message is rebuilt. An occurrence's merged error (bookings.validation.repeat.
    collapse_occurrence_errors) keeps its date, and is rebuilt as "<date>: <Resource> is already booked at
    that time." when its text names a booking; to keep an occurrence's other problems in its message, clean
    the errors before merging them (as booking_preflight does for the public)."""
    ids = {str(e.meta.get("resourceId")) for e in errors if is_conflict(e)}
    names = (
        {
            str(pk): name
            for pk, name in Resource.objects.filter(pk__in=[i for i in ids if _is_uuid(i)]).values_list("pk", "name")
        }
        if ids
        else {}
    )
    out = []
    for error in errors:
        if not is_conflict(error):
            out.append(error)
            continue
        meta = {k: v for k, v in error.meta.items() if k not in PRIVATE_META}
        resource = names.get(str(meta.get("resourceId")), "This resource")
        message = error.message
        if "occurrence" in meta:
            label, _, rest = message.partition(": ")
            if " is already booked by " in rest:
                message = f"{label}: {resource} is already booked at that time."
        elif error.code == "CAPACITY_EXCEEDED":
            message = f"{resource} is fully booked at that time."
        elif error.code == "BOOKING_CONFLICT":
            message = f"{resource} is already booked at that time."
        out.append(FieldError(error.field, error.code, message, meta))
    return out


def is_conflict(error: FieldError) -> bool:
    """Whether the error is about other bookings in the way (BOOKING_CONFLICT, or CAPACITY_EXCEEDED by
    overlapping bookings). CAPACITY_EXCEEDED at `visitors` is the request's own limit (more visitors than the
    resources hold): its message names the visitors and stays as it is, not "fully booked"."""
    if error.field == "visitors":
        return False
    return bool((set(error.meta.get("codes") or ()) | {error.code}) & CONFLICT_CODES)


def _is_uuid(value: Any) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return True


# --- the dry run ------------------------------------------------------------------------------------------

# The codes a different time of the same length can cure.
SLOT_CODES = frozenset(
    {
        "BOOKING_CONFLICT",
        "CAPACITY_EXCEEDED",
        "OUTSIDE_BOOKABLE_HOURS",
        "RESOURCE_CLOSED",
        "START_TIME_TOO_LATE",
        "START_TIME_TOO_EARLY",
        "IN_THE_PAST",
    }
)
STEP = timedelta(minutes=30)
SEARCH_DAYS = 14
MAX_SLOTS = 3
MAX_SUGGESTED = 10


@dataclass
class Preflight:
    """The verdict: `valid` when the request would be accepted as it is (with skipConflicts: with the
    `skipped` occurrences left out)."""

    valid: bool
    errors: list[FieldError] = field(default_factory=list)
    skipped: list[FieldError] = field(default_factory=list)
    times: list[dict[str, Any]] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "errors": [e.as_dict() for e in self.errors],
            "skipped": [e.as_dict() for e in self.skipped],
            "times": self.times,
            "suggestions": self.suggestions,
        }


class _Busy(NamedTuple):
    """An occupied period as conflicts_among reads a Reservation (the request's own times have no event)."""

    resource_id: UUID
    start: datetime
    end: datetime
    event: Event | None
    event_id: UUID | None


def check_published(module: BookingModule, portal: Portal) -> None:
    """What booking_submit requires of the public: the module on this LIVE portal of its organization."""
    if (
        portal.organization_id != module.organization_id
        or portal.status != PortalStatus.LIVE
        or not module.portals.filter(pk=portal.pk).exists()
    ):
        raise NotFound("This booking form is not published.")


def _codes_by_time(clean_events: Sequence[CleanEvent], errors: Sequence[FieldError]) -> dict[str, list[str]]:
    """The codes of the errors filed at (or under) each requested time's path."""
    paths = {ce.field for ce in clean_events}
    codes: dict[str, list[str]] = {}
    for error in errors:
        path = (
            error.field
            if error.field in paths
            else next(
                (error.field[:i] for i, char in enumerate(error.field) if char == "." and error.field[:i] in paths),
                None,
            )
        )
        if path is not None:
            codes.setdefault(path, []).extend(error.meta.get("codes") or [error.code])
    return codes


def _side_problems(title: Any, request_note: Any) -> list[FieldError]:
    problems = []
    for clean, value in ((clean_title, title), (clean_note, request_note)):
        try:
            clean(value)
        except ValidationFailed as exc:
            problems.extend(exc.errors)
    return problems


def booking_preflight(
    *,
    module: BookingModule,
    contact: Any,
    events: Any,
    single_event: bool = False,
    check_contact: bool = True,
    check_answers: bool = True,
    check_rules: bool = True,
    skip_conflicts: bool = False,
    title: Any = None,
    request_note: Any = None,
    suggest: bool = True,
    public: bool = False,
    now: datetime | None = None,
) -> Preflight:
    """Every problem the request would meet, the times it would book, and suggestions for the failing
    ones. `check_contact` False leaves the contact answers out and `check_answers` False the events' titles and
    custom answers (a form checking its times first);
    `check_rules` False is staff's overrideRules; `skip_conflicts` staff's skipConflicts. `public` (a booker
    asking) words conflicts without the other bookings' titles and event ids (public_errors)."""
    now = now or timezone.now()
    clean, problems = assess_submission(
        module=module,
        contact=contact,
        events=events,
        single_event=single_event,
        check_rules=check_rules,
        check_contact=check_contact,
        check_answers=check_answers,
        now=now,
    )
    problems += _side_problems(title, request_note)
    requested = list(clean.events)
    resources = {r.pk: r for ce in requested for r in ce.resources}
    reservations: list[Any] = []
    if requested:
        margin = timedelta(days=SEARCH_DAYS)
        buffer = timedelta(minutes=max(r.buffer_minutes for r in resources.values()))
        reservations = list(
            reservations_overlapping(  # the one read of the table
                resource_ids=resources.keys(),
                start=min(ce.start for ce in requested) - margin,
                end=max(ce.end for ce in requested) + margin + buffer,
            )
        )
    specs = [
        EventSpec(
            title=ce.title, start=ce.start, end=ce.end, resource_ids=ce.resource_ids, field=ce.field, unit_id=ce.unit_id
        )
        for ce in requested
    ]
    # Desks and seats are judged as the submit will judge them: a named unit taken, or no unit left.
    units = units_of(resources.keys()) if requested else {}
    conflicts = conflicts_among(specs=specs, resources=resources, reservations=reservations, units=units)
    problems += public_errors(conflicts) if public else conflicts
    errors = collapse_occurrence_errors(problems, occurrence_refs(requested))
    if public:
        errors = public_errors(errors)
    if skip_conflicts:
        errors = set_aside_failing_occurrences(clean, errors)
    codes = _codes_by_time(requested, [*errors, *clean.skipped])
    times = [
        {
            "field": ce.field,
            "start": iso(ce.start),
            "end": iso(ce.end),
            "resourceIds": [str(r) for r in ce.resource_ids],
            "occurrence": ce.repeat.index if ce.repeat else None,
            "valid": ce.field not in codes,
            **local_times(ce.start, ce.end, ce.tz),
        }
        for ce in requested
    ]
    suggestions = []
    if suggest:
        curable = [ce for ce in requested if ce.field in codes and set(codes[ce.field]) <= SLOT_CODES]
        if curable:
            suggestions = _suggestions(
                module,
                curable[:MAX_SUGGESTED],
                [s for s in specs if s.field not in codes],
                resources,
                reservations,
                now,
                check_rules=check_rules,
            )
    return Preflight(valid=not errors, errors=errors, skipped=clean.skipped, times=times, suggestions=suggestions)


class _Calendar:
    """What is taken, per resource, sorted by start: the reservations read once and the request's other
    (acceptable) times. `near` hands conflicts_among only the periods that can touch a candidate."""

    def __init__(self, reservations: Sequence[Any], others: Sequence[EventSpec], resources: dict[UUID, Resource]):
        busy: dict[UUID, list[_Busy]] = {}
        for res in reservations:
            busy.setdefault(res.resource_id, []).append(
                _Busy(res.resource_id, res.start, res.end, res.event, res.event_id)
            )
        for spec in others:
            for rid in spec.resource_ids:
                end = spec.end + timedelta(minutes=resources[rid].buffer_minutes)
                busy.setdefault(rid, []).append(_Busy(rid, spec.start, end, None, None))
        self.busy = {rid: sorted(items, key=lambda b: b.start) for rid, items in busy.items()}
        self.starts = {rid: [b.start for b in items] for rid, items in self.busy.items()}
        self.longest = {
            rid: max((b.end - b.start for b in items), default=timedelta(0)) for rid, items in self.busy.items()
        }

    def near(self, resource_id: UUID, start: datetime, end: datetime) -> list[_Busy]:
        items = self.busy.get(resource_id)
        if not items:
            return []
        starts = self.starts[resource_id]
        low = bisect_left(starts, start - self.longest[resource_id])
        high = bisect_left(starts, end)
        return [b for b in items[low:high] if b.end > start]


def _suggestions(
    module: BookingModule,
    failing: Sequence[CleanEvent],
    others: Sequence[EventSpec],
    resources: dict[UUID, Resource],
    reservations: Sequence[Any],
    now: datetime,
    *,
    check_rules: bool = True,
) -> list[dict[str, Any]]:
    margin = timedelta(days=SEARCH_DAYS)
    closures = (
        closures_for(
            organization=module.organization_id,
            start=min(ce.start for ce in failing) - margin,
            end=max(ce.end for ce in failing) + margin,
        )
        if check_rules
        else None
    )
    calendar = _Calendar(reservations, others, resources)
    return [
        {
            "field": ce.field,
            "start": iso(ce.start),
            "end": iso(ce.end),
            "resourceIds": [str(r) for r in ce.resource_ids],
            "slots": _free_slots(ce, calendar, resources, closures, now),
        }
        for ce in failing
    ]


def _free_slots(
    ce: CleanEvent,
    calendar: _Calendar,
    resources: dict[UUID, Resource],
    closures: list[Closure] | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """`closures` None: staff override the rules, only conflicts count."""
    length = ce.end - ce.start
    steps = int(timedelta(days=SEARCH_DAYS) / STEP)
    chosen = [resources[rid] for rid in ce.resource_ids]
    earliest = (
        max(now + timedelta(minutes=r.min_notice_minutes) for r in chosen)
        if closures is not None
        else datetime.min.replace(tzinfo=now.tzinfo)
    )
    slots: list[dict[str, Any]] = []
    for k in range(1, steps + 1):
        for sign in (1, -1):
            start = ce.start + sign * k * STEP
            if start < earliest:
                continue  # too soon for some resource: check_rules would say so, at more cost
            end = start + length
            if _free(start, end, ce, chosen, calendar, closures, now):
                slots.append({"start": iso(start), "end": iso(end), **local_times(start, end, ce.tz)})
                if len(slots) == MAX_SLOTS:
                    return slots
    return slots


def _free(
    start: datetime,
    end: datetime,
    ce: CleanEvent,
    chosen: Sequence[Resource],
    calendar: _Calendar,
    closures: list[Closure] | None,
    now: datetime,
) -> bool:
    for resource in chosen:
        occupied_end = end + timedelta(minutes=resource.buffer_minutes)
        spec = EventSpec(title=ce.title, start=start, end=end, resource_ids=[resource.pk], field=ce.field)
        if conflicts_among(
            specs=[spec],
            resources={resource.pk: resource},
            # _Busy has what conflicts_among reads of a Reservation (no Protocol there)
            reservations=calendar.near(resource.pk, start, occupied_end),  # type: ignore[arg-type]
        ):
            return False
    return closures is None or not any(
        check_rules(resource=resource, start=start, end=end, now=now, closures=closures) for resource in chosen
    )
