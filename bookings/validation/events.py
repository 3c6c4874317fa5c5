"""One requested time (an event of a booking request): its title, resources (offered by the module), unit
(docs/architecture.md#units), start and end, attendees, custom answers and pricing choices; the visitors a
booker brings (docs/architecture.md#visitors); the booking rules of every requested time
(docs/architecture.md#booking-rules); and the occurrences of a repeated request (docs/architecture.md#series).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import FieldError, ValidationFailed
from events.rules import check_rules
from events.selectors import closures_for
from resources.models import Resource, ResourceUnit

from ..models import BookingModule
from ..module_cache import OFFERED_PREFETCH, prefetched
from .billing import EVENT_BILLING_KEYS, EventBilling, clean_event_billing
from .fields import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    Errors,
    clean_custom_answers,
    clean_email,
    clean_text,
    is_blank,
)
from .repeat import Occurrence, OccurrenceRef, expand_repeat, parse_repeat

EVENT_BUILTINS = {
    "title",
    "start",
    "end",
    "resourceIds",
    "attendees",
    "bookingEventId",
    "repeat",
    "unitId",
    *EVENT_BILLING_KEYS,
}
# Visitors of one booking (docs/architecture.md#visitors); each also counts against the smallest capacity
# of its resources.
MAX_VISITORS = 100


@dataclass
class CleanEvent:
    title: str
    start: datetime
    end: datetime
    resources: list[Resource]
    attendees: int | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    field: str = "event"
    booking_event_id: UUID | None = None
    repeat: Occurrence | None = None  # an occurrence of a repeated request (bookings.validation.repeat)
    billing: EventBilling = EventBilling()  # rateId, products, overridePrice (frozen: a safe default)
    unit: ResourceUnit | None = None  # the unit asked for (`unitId`), of one of `resources`

    @property
    def resource_ids(self) -> list[UUID]:
        return [r.pk for r in self.resources]

    @property
    def unit_id(self) -> UUID | None:
        return self.unit.pk if self.unit is not None else None

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return self.resources[0].venue.tz if self.resources else zoneinfo.ZoneInfo("UTC")


def occurrence_refs(clean_events: Sequence[CleanEvent]) -> list[OccurrenceRef]:
    """Where the errors of each occurrence among `clean_events` are filed, for collapse_occurrence_errors."""
    return [OccurrenceRef(ce.field, ce.repeat.index, ce.start, ce.end, ce.tz) for ce in clean_events if ce.repeat]


def event_field_prefix(index: int, single: bool) -> str:
    return "event" if single else f"events[{index}]"


def as_uuid_str(value: Any) -> str:
    """Canonical form of an id (so upper-case or braced UUIDs match); anything else as given."""
    try:
        return str(UUID(str(value)))
    except ValueError:
        return str(value)[:100]


def parse_moment(value: Any, tz: zoneinfo.ZoneInfo) -> datetime | None:
    """ISO 8601 with an offset is converted to UTC; a naive value is wall-clock time in `tz`."""
    parsed: datetime | None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            return None
        if parsed is None:
            return None
    else:
        return None
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return None  # also keeps buffers and offsets away from datetime's limits
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(zoneinfo.ZoneInfo("UTC"))


# --- one requested time -----------------------------------------------------------------------------------


def clean_event(
    module: BookingModule,
    raw: Any,
    prefix: str,
    offered: dict[str, Resource],
    errors: Errors,
) -> CleanEvent | None:
    """One requested time at `prefix` (`event`, `events[1]`), or None with its problems added to `errors`."""
    if not isinstance(raw, dict):
        errors.add(prefix, "INVALID", "Each event must be an object.")
        return None
    before = len(errors.items)
    title = _clean_event_title(raw.get("title"), prefix, errors)
    resources = _clean_resource_ids(raw.get("resourceIds"), prefix, offered, errors)
    unit = _clean_unit(raw.get("unitId"), f"{prefix}.unitId", resources, offered, errors)
    tz = resources[0].venue.tz if resources else module.organization.tz
    moments = _clean_moments(raw, prefix, tz, errors)
    attendees = _clean_attendees(raw.get("attendees"), prefix, resources, errors)
    answers = clean_custom_answers(module, "event", raw, EVENT_BUILTINS, prefix, errors)
    billing = clean_event_billing(raw, prefix, errors.add)
    if len(errors.items) > before or not moments.get("start") or not moments.get("end"):
        return None
    return CleanEvent(
        title=title,
        start=moments["start"],
        end=moments["end"],
        resources=resources,
        attendees=attendees,
        answers=answers,
        field=prefix,
        billing=billing,
        unit=unit,
    )


def _clean_event_title(title: Any, prefix: str, errors: Errors) -> Any:
    """Required, one line; left empty when only the times are assessed (`errors.answers` False)."""
    if is_blank(title) and not errors.answers:
        return ""
    if is_blank(title):
        errors.add(f"{prefix}.title", "REQUIRED", "A title is required.")
        return title
    return clean_text(title, f"{prefix}.title", "Title", errors, limit=300, one_line=True, required=True)


def _clean_resource_ids(raw_ids: Any, prefix: str, offered: dict[str, Resource], errors: Errors) -> list[Resource]:
    """At least one resource, each offered by the module, each once."""
    resources: list[Resource] = []
    if is_blank(raw_ids):
        errors.add(f"{prefix}.resourceIds", "REQUIRED", "Choose at least one resource.")
    elif not isinstance(raw_ids, list):
        errors.add(f"{prefix}.resourceIds", "INVALID", "resourceIds must be a list of resource ids.")
    else:
        for rid in dict.fromkeys(str(as_uuid_str(r)) for r in raw_ids):
            if rid in offered:
                resources.append(offered[rid])
            else:
                errors.add(
                    f"{prefix}.resourceIds",
                    "RESOURCE_NOT_OFFERED",
                    f"Resource {rid} is not offered by this form.",
                    resourceId=rid,
                )
    return resources


def _clean_moments(raw: dict[str, Any], prefix: str, tz: zoneinfo.ZoneInfo, errors: Errors) -> dict[str, Any]:
    """`start` and `end` in UTC (a value that is missing or not a date and time: not in the result)."""
    moments = {}
    for key in ("start", "end"):
        value = raw.get(key)
        if is_blank(value):
            errors.add(f"{prefix}.{key}", "REQUIRED", f"The {key} time is required.")
        else:
            moments[key] = parse_moment(value, tz)
            if moments[key] is None:
                errors.add(f"{prefix}.{key}", "INVALID", f"The {key} must be a date and time (ISO 8601).")
    return moments


def _clean_attendees(value: Any, prefix: str, resources: list[Resource], errors: Errors) -> int | None:
    """A whole number of at least 1, at most the chosen resources' capacity together."""
    if is_blank(value):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        attendees = int(str(value))
        if attendees < 1:
            raise ValueError
    except ValueError:
        errors.add(f"{prefix}.attendees", "INVALID", "Attendees must be a whole number of at least 1.")
        return None
    if resources:
        capacity = sum(r.capacity for r in resources)
        if attendees > capacity:
            errors.add(
                f"{prefix}.attendees", "TOO_MANY_ATTENDEES", f"At most {capacity} people fit in the chosen resources."
            )
    return attendees


def _clean_unit(
    value: Any, path: str, resources: list[Resource], offered: dict[str, Resource], errors: Errors
) -> ResourceUnit | None:
    """`unitId`: an active unit of one of the event's resources (one query per validation for all units of
    the offered resources)."""
    if is_blank(value):
        return None
    if errors.units is None:
        errors.units = {
            str(u.pk): u
            for u in ResourceUnit.objects.filter(resource_id__in=[r.pk for r in offered.values()], archived=False)
        }
    unit = errors.units.get(as_uuid_str(value)) if isinstance(value, str) else None
    if unit is None or unit.resource_id not in {r.pk for r in resources}:
        errors.add(
            path, "INVALID_UNIT", "That unit is not an available unit of the chosen resources.", unitId=str(value)[:100]
        )
        return None
    return unit


# --- visitors ---------------------------------------------------------------------------------------------


def clean_visitors(raw: Any, resources: Sequence[Resource]) -> list[dict[str, str]]:
    """`visitors: [{name, email}]`: the people the booker brings, invited by email once the booking is
    approved. Names are one line (they become an email's display name); emails are unique per booking. At
    most the smallest capacity among the booking's resources (the booker is not counted: they may book for
    others), else CAPACITY_EXCEEDED at `visitors`. Raises ValidationFailed with every problem."""
    if raw is None or raw == []:
        return []
    errors = Errors()
    if not isinstance(raw, list):
        raise ValidationFailed(errors=[FieldError("visitors", "INVALID", "visitors must be a list of {name, email}.")])
    if len(raw) > MAX_VISITORS:
        raise ValidationFailed(errors=[FieldError("visitors", "MAX_LENGTH", f"At most {MAX_VISITORS} visitors.")])
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path = f"visitors[{i}]"
        if not isinstance(item, dict):
            errors.add(path, "INVALID", "Each visitor is an object {name, email}.")
            continue
        name, email = _clean_visitor(item, path, errors)
        if email is not None and email in seen:
            errors.add(f"{path}.email", "DUPLICATE", "This visitor is already listed.")
        elif name and email:
            seen.add(email)
            out.append({"name": name, "email": email})
    capacity = min((r.capacity for r in resources), default=None)
    if not errors.items and capacity is not None and len(out) > capacity:
        errors.add(
            "visitors",
            "CAPACITY_EXCEEDED",
            f"Too many visitors: the chosen resources take at most {capacity}.",
            capacity=capacity,
        )
    if errors.items:
        raise ValidationFailed(errors=errors.items)
    return out


def _clean_visitor(item: dict[str, Any], path: str, errors: Errors) -> tuple[Any, str | None]:
    """One visitor's name and email (as given when blank: the problem is in `errors`)."""
    unknown = sorted(set(item) - {"name", "email"})
    if unknown:
        errors.add(f"{path}.{unknown[0]}", "UNKNOWN_FIELD", f"{unknown[0]} is not a visitor field.")
    name, email = item.get("name"), item.get("email")
    if is_blank(name):
        errors.add(f"{path}.name", "REQUIRED", "The visitor's name is required.")
    else:
        name = clean_text(name, f"{path}.name", "Name", errors, limit=200, one_line=True)
    if is_blank(email):
        errors.add(f"{path}.email", "REQUIRED", "The visitor's email address is required.")
        email = None
    else:
        email = clean_text(email, f"{path}.email", "Email", errors, limit=254, one_line=True)
        email = clean_email(email, f"{path}.email", "Email", errors) if email is not None else None
    return name, email


# --- resources, rules and repeats -------------------------------------------------------------------------


def offered_resources(module: BookingModule) -> dict[str, Resource]:
    # Same organization only, even if a module was misconfigured to offer another's resource. A module from
    # the configuration cache (bookings.module_cache) has them prefetched, filtered alike.
    rows = prefetched(module, "resources")
    if rows is None:
        rows = list(
            module.resources.filter(venue__organization_id=module.organization_id)
            .select_related("venue__organization")
            .prefetch_related(*OFFERED_PREFETCH)
        )
    return {str(r.pk): r for r in rows}


def check_event_rules(clean_events: list[CleanEvent], *, organization, now: datetime | None = None) -> list[FieldError]:
    """The booking rules (docs/architecture.md#booking-rules) for every clean event, as field errors (no
    conflicts: those need the lock)."""
    if not clean_events:
        return []
    now = now or timezone.now()
    closures = closures_for(
        organization=organization,
        start=min(e.start for e in clean_events),
        end=max(e.end for e in clean_events),
    )
    out = []
    for event in clean_events:
        for resource in event.resources:
            for failure in check_rules(resource=resource, start=event.start, end=event.end, now=now, closures=closures):
                out.append(failure.as_field_error(event.field))
    return out


def expand_event(
    module: BookingModule, event: CleanEvent | None, raw_rule: Any, prefix: str, errors: Errors
) -> list[CleanEvent]:
    """The occurrences of a requested event that repeats, each filed at `<prefix>.occurrences[k]` with the
    same title, resources and answers; none, with the problems added to `errors`, when the rule is not
    valid or gives more occurrences than the module allows (`max_occurrences`)."""
    rule, problems = parse_repeat(raw_rule, f"{prefix}.repeat")
    errors.items.extend(problems)
    if rule is None or event is None:
        return []
    tz = event.tz
    start_local = event.start.astimezone(tz).replace(tzinfo=None)
    if rule.until < start_local.date():
        errors.add(f"{prefix}.repeat.repeatUntil", "INVALID", "repeatUntil must not be before the start date.")
        return []
    cap = module.max_occurrences
    times = expand_repeat(
        start_local=start_local,
        end_local=event.end.astimezone(tz).replace(tzinfo=None),
        tz=tz,
        rule=rule,
        limit=cap + 1,
    )
    if not times:
        errors.add(f"{prefix}.repeat", "NO_OCCURRENCES", "This repeat gives no date up to repeatUntil.")
        return []
    if len(times) > cap:
        errors.add(
            f"{prefix}.repeat.repeatUntil",
            "TOO_MANY_OCCURRENCES",
            f"A repeated booking has at most {cap} occurrences; choose an earlier repeatUntil.",
            maxOccurrences=cap,
        )
        return []
    group, wire = uuid4(), rule.as_wire()
    return [
        replace(
            event,
            start=start,
            end=end,
            answers=dict(event.answers),
            field=f"{prefix}.occurrences[{k}]",
            repeat=Occurrence(wire, group, k),
        )
        for k, (start, end) in enumerate(times)
    ]
