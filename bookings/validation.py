"""The one validator for booking answers (DESIGN §3 fields, §5 rules).

The submit and create services call it, the API and the public form reach it through them, and a form
can call it directly to show errors next to their fields. It parses raw answers (strings, numbers,
lists, as they come from JSON or a form), checks them against the module's built-in and custom fields
and the resources' booking rules, and returns clean values or raises ValidationFailed listing every
problem with its field path (`contact.email`, `event.start`, `events[1].resourceIds`) and code.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID, uuid4

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime, parse_time

from core.errors import FieldError, ValidationFailed
from core.html import plain_text, sanitize_html
from events.rules import check_rules
from events.selectors import closures_for
from resources.models import Resource, ResourceUnit

from .billing import EVENT_BILLING_KEYS, EventBilling, clean_event_billing
from .models import BookingModule, FieldType, FormField
from .repeat import (
    Occurrence,
    OccurrenceRef,
    collapse_occurrence_errors,
    expand_repeat,
    failed_occurrences,
    parse_repeat,
)

MAX_EVENTS = 150
# Requested times in one request once repeats are expanded (each series is also capped by its module).
MAX_TIMES = 500
CONTACT_BUILTINS = {"name", "email", "phone"}
EVENT_BUILTINS = {"title", "start", "end", "resourceIds", "attendees", "bookingEventId", "repeat", "unitId",
                  *EVENT_BILLING_KEYS}
# Visitors of one booking (issue 9); each also counts against the smallest capacity of its resources.
MAX_VISITORS = 100
PHONE_RE = re.compile(r"^\+?[0-9()\-.\s]{5,30}$")
MAX_TEXT = 5000


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
    repeat: Occurrence | None = None  # an occurrence of a repeated request (bookings.repeat)
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


@dataclass
class CleanSubmission:
    contact: dict[str, Any]
    events: list[CleanEvent]
    # Occurrences left out (skip_failing), one error each; never part of `events`.
    skipped: list[FieldError] = field(default_factory=list)


def occurrence_refs(clean_events: Sequence[CleanEvent]) -> list[OccurrenceRef]:
    """Where the errors of each occurrence among `clean_events` are filed, for collapse_occurrence_errors."""
    return [OccurrenceRef(ce.field, ce.repeat.index, ce.start, ce.end, ce.tz) for ce in clean_events if ce.repeat]


def event_field_prefix(index: int, single: bool) -> str:
    return "event" if single else f"events[{index}]"


class _Errors:
    """The errors of one validation run, and what the run loads once (the module's custom fields)."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []
        self.fields: list[FormField] | None = None
        self.existing = False  # validating an existing booking's answers (see validate_submission)
        self.answers = True  # False: only the times are assessed (titles and custom answers are not checked)
        self.units: dict[str, ResourceUnit] | None = None  # active units of the offered resources, by id

    def add(self, path: str, code: str, message: str, **meta: Any) -> None:
        self.items.append(FieldError(path, code, message, meta))


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())


CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Everything str.splitlines() breaks on that CONTROL_RE lets through.
LINE_BREAK_RE = re.compile(r"[\r\n\x85\u2028\u2029]")
MAX_NUMBER_DIGITS = 15
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


def _clean_text(value: Any, path: str, label: str, errors: _Errors, limit: int = MAX_TEXT,
                multiline: bool = False, one_line: bool = False, required: bool = False) -> str | None:
    """Plain text, or None with the problem added to `errors`.

    `one_line` refuses a line break instead of folding it into a space: for what can reach an email
    header (a booking's or an event's title is in the subject, the booker's name is the display name
    of their address). The sender learns at once that the value cannot be used; folding it silently
    would store something other than what they sent. Leading and trailing whitespace is only trimmed."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        errors.add(path, "INVALID", f"{label} must be text.")
        return None
    if len(str(value)) > limit * 4:  # don't spend time cleaning megabytes
        errors.add(path, "MAX_LENGTH", f"{label} must be at most {limit} characters.")
        return None
    # Plain-text answers keep no markup: whatever shows them later (emails, admin, other clients)
    # can never be handed a script. Basic HTML is only for requestNote and descriptions (nh3).
    text = plain_text(str(value))
    if CONTROL_RE.search(text):
        errors.add(path, "INVALID", f"{label} contains control characters.")
        return None
    if one_line and LINE_BREAK_RE.search(text.strip()):
        errors.add(path, "INVALID", f"{label} must be one line.")
        return None
    # Other one-line answers are shown on one line: any line break folds into a space.
    text = text.strip() if multiline else " ".join(text.split())
    if len(text) > limit:
        errors.add(path, "MAX_LENGTH", f"{label} must be at most {limit} characters.")
        return None
    if required and not text:  # e.g. "<b></b>": nothing is left once the markup is gone
        errors.add(path, "REQUIRED", f"{label} is required (markup is not kept).")
        return None
    return text


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "on", "1", "yes"}:
        return True
    if isinstance(value, str) and value.lower() in {"false", "off", "0", "no", ""}:
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _clean_custom(ff: FormField, value: Any, path: str, errors: _Errors) -> Any:
    """Clean one custom answer; None means "no answer". Stored values are JSON-friendly."""
    label = ff.label
    if ff.type == FieldType.CHECKBOX:
        checked = _parse_bool(value if value is not None else False)
        if checked is None:
            errors.add(path, "INVALID", f"{label} must be checked or not.")
            return None
        if ff.required and not checked:
            errors.add(path, "REQUIRED", f"{label} must be checked.")
        return checked
    if _is_blank(value):
        if ff.required:
            errors.add(path, "REQUIRED", f"{label} is required.")
        return None
    low = ff.min_value
    high = ff.max_value
    if ff.type in (FieldType.TEXT, FieldType.TEXTAREA, FieldType.PHONE, FieldType.EMAIL, FieldType.URL):
        text = _clean_text(value, path, label, errors, multiline=ff.type == FieldType.TEXTAREA, required=ff.required)
        if text is None:
            return None
        if low is not None and len(text) < low:
            errors.add(path, "MIN_LENGTH", f"{label} must be at least {int(low)} characters.")
        if high is not None and len(text) > high:
            errors.add(path, "MAX_LENGTH", f"{label} must be at most {int(high)} characters.")
        if ff.type == FieldType.EMAIL:
            return _clean_email(text, path, label, errors)
        if ff.type == FieldType.PHONE and not PHONE_RE.match(text):
            errors.add(path, "INVALID", f"{label} must be a phone number.")
        if ff.type == FieldType.URL:
            try:
                URLValidator(schemes=["http", "https"])(text)
            except ValidationError:
                errors.add(path, "INVALID", f"{label} must be a web address starting with http:// or https://.")
        return text
    if ff.type == FieldType.NUMBER:
        if isinstance(value, bool) or len(str(value)) > 40:
            errors.add(path, "INVALID", f"{label} must be a number.")
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            errors.add(path, "INVALID", f"{label} must be a number.")
            return None
        # Bounded before any conversion: int(Decimal("1e999999")) alone would take minutes.
        if not number.is_finite() or number.adjusted() >= MAX_NUMBER_DIGITS or len(number.as_tuple().digits) > 30:
            errors.add(path, "INVALID", f"{label} must be a number.")
            return None
        if low is not None and number < low:
            errors.add(path, "MIN_VALUE", f"{label} must be at least {low.normalize():f}.")
        if high is not None and number > high:
            errors.add(path, "MAX_VALUE", f"{label} must be at most {high.normalize():f}.")
        return int(number) if number == number.to_integral_value() else float(number)
    if ff.type in (FieldType.DATE, FieldType.TIME, FieldType.DATETIME):
        parsed = None
        if isinstance(value, str):
            try:
                parser = {FieldType.DATE: parse_date, FieldType.TIME: parse_time, FieldType.DATETIME: parse_datetime}
                parsed = parser[ff.type](value.strip())
            except ValueError:
                parsed = None
        if parsed is not None and ff.type != FieldType.TIME and not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
            parsed = None
        if parsed is None:
            kind = {"date": "a date (YYYY-MM-DD)", "time": "a time (HH:MM)", "datetime": "a date and time"}[ff.type]
            errors.add(path, "INVALID", f"{label} must be {kind}.")
            return None
        return parsed.isoformat()
    if ff.type == FieldType.SELECT:
        if not isinstance(value, str) or value not in ff.options:
            errors.add(path, "INVALID_CHOICE", f"{label}: choose one of {', '.join(map(str, ff.options))}.")
            return None
        return value
    if ff.type == FieldType.MULTISELECT:
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if not isinstance(v, str) or v not in ff.options]
        if bad:
            errors.add(path, "INVALID_CHOICE", f"{label}: choose from {', '.join(map(str, ff.options))}.")
            return None
        return list(dict.fromkeys(values))
    errors.add(path, "INVALID", f"{label} has an unknown type.")  # pragma: no cover - guarded by choices
    return None


def _clean_email(text: str, path: str, label: str, errors: _Errors) -> str | None:
    try:
        EmailValidator()(text)
    except ValidationError:
        errors.add(path, "INVALID", f"{label} must be an email address.")
        return None
    return text.lower()


def _custom_fields(module: BookingModule, section: str, errors: _Errors) -> tuple[dict[str, FormField], set[str]]:
    """Active fields by id, and the ids of archived ones (answers to those are dropped quietly: a form
    opened before the field was archived should still go through)."""
    if errors.fields is None:  # one query per validation, however many events
        errors.fields = list(module.fields.all())
    active, archived = {}, set()
    for ff in errors.fields:
        if ff.section != section:
            continue
        if ff.archived:
            archived.add(str(ff.pk))
        else:
            active[str(ff.pk)] = ff
    return active, archived


def _clean_custom_answers(
    module: BookingModule, section: str, raw: dict[str, Any], builtins: set[str], prefix: str, errors: _Errors
) -> dict[str, Any]:
    if not errors.answers and section == "event":
        return {}
    active, archived = _custom_fields(module, section, errors)
    for key in raw:
        if key not in builtins and key not in active and key not in archived:
            errors.add(f"{prefix}.{key}", "UNKNOWN_FIELD", f"{key} is not a field of this form.")
    answers = {}
    if errors.existing:
        # A booking made before a field was archived keeps its answer (its label is still known).
        answers.update({fid: raw[fid] for fid in archived if fid in raw})
    for fid, ff in active.items():
        if errors.existing and fid not in raw:
            continue  # a field added after the booking was made is not asked of it retroactively
        value = _clean_custom(ff, raw.get(fid), f"{prefix}.{fid}", errors)
        if value is not None:
            answers[fid] = value
    return answers


def clean_contact(module: BookingModule, raw: Any, errors: _Errors) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.add("contact", "INVALID", "The contact answers must be an object.")
        return {}
    contact: dict[str, Any] = {}
    name = raw.get("name")
    if _is_blank(name):
        errors.add("contact.name", "REQUIRED", "Your name is required.")
    else:
        contact["name"] = _clean_text(name, "contact.name", "Name", errors, limit=200, one_line=True, required=True)
    email = raw.get("email")
    if _is_blank(email):
        errors.add("contact.email", "REQUIRED", "Your email address is required.")
    else:
        text = _clean_text(email, "contact.email", "Email", errors, limit=254, required=True)
        if text is not None:
            contact["email"] = _clean_email(text, "contact.email", "Email", errors)
    phone = raw.get("phone")
    if not _is_blank(phone):
        text = _clean_text(phone, "contact.phone", "Phone", errors, limit=50)
        if text is not None and not PHONE_RE.match(text):
            errors.add("contact.phone", "INVALID", "Phone must be a phone number.")
        contact["phone"] = text
    contact.update(_clean_custom_answers(module, "contact", raw, CONTACT_BUILTINS, "contact", errors))
    return contact


def as_uuid_str(value: Any) -> str:
    """Canonical form of an id (so upper-case or braced UUIDs match); anything else as given."""
    try:
        return str(UUID(str(value)))
    except ValueError:
        return str(value)[:100]


def clean_title(value: Any) -> str | None:
    """The booking's own title (optional; it defaults to the first event's)."""
    if value in (None, ""):
        return None
    errors = _Errors()
    text = _clean_text(value, "title", "Title", errors, limit=300, one_line=True)
    if errors.items:
        raise ValidationFailed(errors=errors.items)
    return text or None


def clean_note(value: Any) -> str:
    """requestNote: basic HTML, sanitized with nh3."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(errors=[FieldError("requestNote", "INVALID", "The note must be text.")])
    if len(value) > 20000:
        raise ValidationFailed(errors=[FieldError("requestNote", "MAX_LENGTH", "The note is too long.")])
    return sanitize_html(value)


def validate_contact(*, module: BookingModule, contact: Any) -> dict[str, Any]:
    errors = _Errors()
    cleaned = clean_contact(module, contact if contact is not None else {}, errors)
    if errors.items:
        raise ValidationFailed(errors=errors.items)
    return cleaned


def parse_moment(value: Any, tz: zoneinfo.ZoneInfo) -> datetime | None:
    """ISO 8601 with an offset is converted to UTC; a naive value is wall-clock time in `tz`."""
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


def _clean_event(
    module: BookingModule,
    raw: Any,
    prefix: str,
    offered: dict[str, Resource],
    errors: _Errors,
) -> CleanEvent | None:
    if not isinstance(raw, dict):
        errors.add(prefix, "INVALID", "Each event must be an object.")
        return None
    before = len(errors.items)
    title = raw.get("title")
    if _is_blank(title) and not errors.answers:
        title = ""
    elif _is_blank(title):
        errors.add(f"{prefix}.title", "REQUIRED", "A title is required.")
    else:
        title = _clean_text(title, f"{prefix}.title", "Title", errors, limit=300, one_line=True, required=True)

    resources: list[Resource] = []
    raw_ids = raw.get("resourceIds")
    if _is_blank(raw_ids):
        errors.add(f"{prefix}.resourceIds", "REQUIRED", "Choose at least one resource.")
    elif not isinstance(raw_ids, list):
        errors.add(f"{prefix}.resourceIds", "INVALID", "resourceIds must be a list of resource ids.")
    else:
        for rid in dict.fromkeys(str(as_uuid_str(r)) for r in raw_ids):
            if rid in offered:
                resources.append(offered[rid])
            else:
                errors.add(f"{prefix}.resourceIds", "RESOURCE_NOT_OFFERED",
                           f"Resource {rid} is not offered by this form.", resourceId=rid)

    unit = _clean_unit(raw.get("unitId"), f"{prefix}.unitId", resources, offered, errors)

    tz = resources[0].venue.tz if resources else module.organization.tz
    moments = {}
    for key in ("start", "end"):
        value = raw.get(key)
        if _is_blank(value):
            errors.add(f"{prefix}.{key}", "REQUIRED", f"The {key} time is required.")
        else:
            moments[key] = parse_moment(value, tz)
            if moments[key] is None:
                errors.add(f"{prefix}.{key}", "INVALID", f"The {key} must be a date and time (ISO 8601).")

    attendees = raw.get("attendees")
    if _is_blank(attendees):
        attendees = None
    else:
        try:
            if isinstance(attendees, bool):
                raise ValueError
            attendees = int(str(attendees))
            if attendees < 1:
                raise ValueError
        except ValueError:
            errors.add(f"{prefix}.attendees", "INVALID", "Attendees must be a whole number of at least 1.")
            attendees = None
        if attendees is not None and resources:
            capacity = sum(r.capacity for r in resources)
            if attendees > capacity:
                errors.add(f"{prefix}.attendees", "TOO_MANY_ATTENDEES",
                           f"At most {capacity} people fit in the chosen resources.")

    answers = _clean_custom_answers(module, "event", raw, EVENT_BUILTINS, prefix, errors)
    billing = clean_event_billing(raw, prefix, errors.add)
    if len(errors.items) > before or not moments.get("start") or not moments.get("end"):
        return None
    return CleanEvent(title=title, start=moments["start"], end=moments["end"], resources=resources,
                      attendees=attendees, answers=answers, field=prefix, billing=billing, unit=unit)


def _clean_unit(value: Any, path: str, resources: list[Resource], offered: dict[str, Resource],
                errors: _Errors) -> ResourceUnit | None:
    """`unitId`: an active unit of one of the event's resources (one query per validation for all units of
    the offered resources)."""
    if _is_blank(value):
        return None
    if errors.units is None:
        errors.units = {str(u.pk): u for u in ResourceUnit.objects.filter(
            resource_id__in=[r.pk for r in offered.values()], archived=False)}
    unit = errors.units.get(as_uuid_str(value)) if isinstance(value, str) else None
    if unit is None or unit.resource_id not in {r.pk for r in resources}:
        errors.add(path, "INVALID_UNIT", "That unit is not an available unit of the chosen resources.",
                   unitId=str(value)[:100])
        return None
    return unit


def clean_visitors(raw: Any, resources: Sequence[Resource]) -> list[dict[str, str]]:
    """`visitors: [{name, email}]`: the people the booker brings, invited by email once the booking is
    approved. Names are one line (they become an email's display name); emails are unique per booking. At
    most the smallest capacity among the booking's resources (the booker is not counted: they may book for
    others), else CAPACITY_EXCEEDED at `visitors`. Raises ValidationFailed with every problem."""
    if raw is None or raw == []:
        return []
    errors = _Errors()
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
        unknown = sorted(set(item) - {"name", "email"})
        if unknown:
            errors.add(f"{path}.{unknown[0]}", "UNKNOWN_FIELD", f"{unknown[0]} is not a visitor field.")
        name, email = item.get("name"), item.get("email")
        if _is_blank(name):
            errors.add(f"{path}.name", "REQUIRED", "The visitor's name is required.")
        else:
            name = _clean_text(name, f"{path}.name", "Name", errors, limit=200, one_line=True)
        if _is_blank(email):
            errors.add(f"{path}.email", "REQUIRED", "The visitor's email address is required.")
            email = None
        else:
            email = _clean_text(email, f"{path}.email", "Email", errors, limit=254, one_line=True)
            email = _clean_email(email, f"{path}.email", "Email", errors) if email is not None else None
        if email is not None and email in seen:
            errors.add(f"{path}.email", "DUPLICATE", "This visitor is already listed.")
        elif name and email:
            seen.add(email)
            out.append({"name": name, "email": email})
    capacity = min((r.capacity for r in resources), default=None)
    if not errors.items and capacity is not None and len(out) > capacity:
        errors.add("visitors", "CAPACITY_EXCEEDED", f"At most {capacity} visitors fit in the chosen resources.",
                   capacity=capacity)
    if errors.items:
        raise ValidationFailed(errors=errors.items)
    return out


def offered_resources(module: BookingModule) -> dict[str, Resource]:
    # Same organization only, even if a module was misconfigured to offer another's resource.
    return {
        str(r.pk): r
        for r in module.resources.filter(venue__organization_id=module.organization_id)
        .select_related("venue__organization").prefetch_related("bookable_hours")
    }


def check_event_rules(
    clean_events: list[CleanEvent], *, organization, now: datetime | None = None
) -> list[FieldError]:
    """The §5 rules for every clean event, as field errors (no conflicts: those need the lock)."""
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
            for failure in check_rules(resource=resource, start=event.start, end=event.end, now=now,
                                       closures=closures):
                out.append(failure.as_field_error(event.field))
    return out


def _expand_event(
    module: BookingModule, event: CleanEvent | None, raw_rule: Any, prefix: str, errors: _Errors
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
    times = expand_repeat(start_local=start_local, end_local=event.end.astimezone(tz).replace(tzinfo=None), tz=tz,
                          rule=rule, limit=cap + 1)
    if not times:
        errors.add(f"{prefix}.repeat", "NO_OCCURRENCES", "This repeat gives no date up to repeatUntil.")
        return []
    if len(times) > cap:
        errors.add(f"{prefix}.repeat.repeatUntil", "TOO_MANY_OCCURRENCES",
                   f"A repeated booking has at most {cap} occurrences; choose an earlier repeatUntil.",
                   maxOccurrences=cap)
        return []
    group, wire = uuid4(), rule.as_wire()
    return [replace(event, start=start, end=end, answers=dict(event.answers), field=f"{prefix}.occurrences[{k}]",
                    repeat=Occurrence(wire, group, k))
            for k, (start, end) in enumerate(times)]


def assess_submission(
    *,
    module: BookingModule,
    contact: Any,
    events: Any,
    single_event: bool = False,
    check_rules: bool = True,
    rules_for: set[str] | None = None,
    existing: dict[str, Resource] | None = None,
    repeats: Sequence[Occurrence | None] | None = None,
    check_contact: bool = True,
    check_answers: bool = True,
    now: datetime | None = None,
) -> tuple[CleanSubmission, list[FieldError]]:
    """validate_submission's work without its verdict: the clean answers (every requested time whose own
    answers are valid, repeats expanded, those that break a booking rule included) and every problem
    found, each occurrence's not yet merged into one. The validate endpoint reports them all at once.
    `check_answers` False assesses only the times (start, end, resources, attendees, repeat): the events'
    titles and custom answers are neither checked nor kept (a form checking availability first)."""
    errors = _Errors()
    errors.existing = existing is not None
    errors.answers = check_answers
    clean_contact_answers = clean_contact(module, contact if contact is not None else {}, errors) \
        if check_contact else {}
    offered = {**(existing or {}), **offered_resources(module)}
    clean_events: list[CleanEvent] = []
    if not isinstance(events, list) or not events:
        errors.add("event" if single_event else "events", "REQUIRED", "Request at least one time.")
    elif len(events) > MAX_EVENTS and existing is None:  # an existing booking may hold a long series
        errors.add("events", "MAX_LENGTH", f"At most {MAX_EVENTS} times in one request.")
    else:
        for index, raw in enumerate(events):
            prefix = event_field_prefix(index, single_event)
            cleaned = _clean_event(module, raw, prefix, offered, errors)
            if cleaned is not None:
                if isinstance(raw, dict) and raw.get("bookingEventId"):
                    cleaned.booking_event_id = raw["bookingEventId"]
                if repeats is not None and index < len(repeats):
                    cleaned.repeat = repeats[index]
            rule = raw.get("repeat") if isinstance(raw, dict) else None
            if rule is not None and existing is not None:
                errors.add(f"{prefix}.repeat", "IMMUTABLE_FIELD", "A repeat can only be set when the booking is made.")
            elif rule is not None:
                clean_events.extend(_expand_event(module, cleaned, rule, prefix, errors))
            elif cleaned is not None:
                clean_events.append(cleaned)
        if existing is None and len(clean_events) > MAX_TIMES:
            errors.add("event" if single_event else "events", "MAX_LENGTH",
                       f"At most {MAX_TIMES} times in one request (repeats included).")
            clean_events = []
    if check_rules:
        checked = clean_events if rules_for is None else [
            e for e in clean_events if e.booking_event_id is None or str(e.booking_event_id) in rules_for]
        errors.items.extend(check_event_rules(checked, organization=module.organization, now=now))
    return CleanSubmission(contact=clean_contact_answers, events=clean_events), errors.items


def set_aside_failing_occurrences(clean: CleanSubmission, errors: list[FieldError]) -> list[FieldError]:
    """Move the occurrences that `errors` (merged per occurrence) name out of `clean.events` into
    `clean.skipped`; return the errors that still refuse the request: those of anything but an occurrence,
    and those of a repeated request that would keep no occurrence at all (never a silent empty series)."""
    refs = occurrence_refs(clean.events)
    failing = failed_occurrences(errors, refs)
    if not failing:
        return errors
    groups_kept = {ce.repeat.group for ce in clean.events if ce.repeat and ce.field not in failing}
    dropped = {ce.field for ce in clean.events if ce.repeat and ce.field in failing and ce.repeat.group in groups_kept}
    clean.skipped.extend(e for e in errors if e.field in dropped)
    clean.events = [ce for ce in clean.events if ce.field not in dropped]
    return [e for e in errors if e.field not in dropped]


def validate_submission(
    *,
    module: BookingModule,
    contact: Any,
    events: Any,
    single_event: bool = False,
    check_rules: bool = True,
    rules_for: set[str] | None = None,
    existing: dict[str, Resource] | None = None,
    now: datetime | None = None,
    skip_failing: bool = False,
    repeats: Sequence[Occurrence | None] | None = None,
) -> CleanSubmission:
    """Validate a whole submission: contact answers, one or more events, and (unless staff override
    them) the booking rules of every requested resource. Raises ValidationFailed with every error.

    `existing` (the resources a booking already holds, by id) validates an existing booking's merged
    answers: the form may have changed since it was made, so fields added later are not required of
    it, answers to archived fields are kept, and its resources stay acceptable even if no longer
    offered. `rules_for` limits the rule check to those bookingEventIds (the ones a change moves).

    An event with `repeat` (bookings.repeat) becomes its occurrences, each checked against the rules
    (the advance limit too: an occurrence beyond it is that occurrence's error). The problems of one
    occurrence are merged into one error filed at `event.occurrences[k]` (`events[i].occurrences[k]`)
    with its date. With `skip_failing` (staff's skipConflicts), occurrences that break a rule are left
    out instead, into `skipped`, unless none of their series would remain. `repeats` tells an existing
    booking's events which occurrence each is (approval reports and skips them the same way, at `events[i]`).
    """
    clean, problems = assess_submission(
        module=module, contact=contact, events=events, single_event=single_event, check_rules=check_rules,
        rules_for=rules_for, existing=existing, repeats=repeats, now=now)
    errors = collapse_occurrence_errors(problems, occurrence_refs(clean.events))
    if skip_failing:
        errors = set_aside_failing_occurrences(clean, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    return clean


# --- what the public may send and see ----------------------------------------------------------------


def check_repeat_allowed(*, module: BookingModule, events: Any, single_event: bool = False) -> None:
    """A booker's request (public submit, public validate, the public form) may carry `repeat` only when
    the module allows it (`allow_repeat_requests`); staff always may. Raises ValidationFailed with
    NOT_ALLOWED at each `event.repeat` / `events[i].repeat` sent."""
    if module.allow_repeat_requests or not isinstance(events, list):
        return
    errors = [FieldError(f"{event_field_prefix(index, single_event)}.repeat", "NOT_ALLOWED",
                         "This booking form does not take repeating requests; ask for each date separately.")
              for index, raw in enumerate(events) if isinstance(raw, dict) and raw.get("repeat") is not None]
    if errors:
        raise ValidationFailed(errors=errors)


CONFLICT_CODES = frozenset({"BOOKING_CONFLICT", "CAPACITY_EXCEEDED"})
PRIVATE_META = ("conflictingEventIds", "conflictingTitles", "titles")


def public_errors(errors: Sequence[FieldError]) -> list[FieldError]:
    """The errors as a public caller (a booker, the public API) may see them: a conflict names the resource
    and never the other booking (`"Room is already booked at that time."`), and no error carries
    `conflictingEventIds`. Staff keep the detail (the admin shows what is in the way).

    A plain conflict's message is rebuilt. An occurrence's merged error (bookings.repeat.
    collapse_occurrence_errors) keeps its date, and is rebuilt as "<date>: <Resource> is already booked at
    that time." when its text names a booking; to keep an occurrence's other problems in its message, clean
    the errors before merging them (as booking_preflight does for the public)."""
    ids = {str(e.meta.get("resourceId")) for e in errors
           if (set(e.meta.get("codes") or ()) | {e.code}) & CONFLICT_CODES}
    names = {str(pk): name for pk, name in Resource.objects.filter(
        pk__in=[i for i in ids if _is_uuid(i)]).values_list("pk", "name")} if ids else {}
    out = []
    for error in errors:
        if not (set(error.meta.get("codes") or ()) | {error.code}) & CONFLICT_CODES:
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


def _is_uuid(value: Any) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return True
