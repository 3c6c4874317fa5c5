"""A whole booking request: the contact answers, every requested time (repeats expanded) and the booking
rules of each (docs/architecture.md#form-fields, docs/architecture.md#booking-rules), assessed (every
problem, for the dry run) or validated (ValidationFailed with every problem, for the services).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.errors import FieldError, ValidationFailed
from resources.models import Resource

from ..models import BookingModule
from .events import (
    CleanEvent,
    check_event_rules,
    clean_event,
    event_field_prefix,
    expand_event,
    occurrence_refs,
    offered_resources,
)
from .fields import Errors, clean_contact
from .repeat import Occurrence, collapse_occurrence_errors, failed_occurrences

MAX_EVENTS = 150
# Requested times in one request once repeats are expanded (each series is also capped by its module).
MAX_TIMES = 500


@dataclass
class CleanSubmission:
    contact: dict[str, Any]
    events: list[CleanEvent]
    # Occurrences left out (skip_failing), one error each; never part of `events`.
    skipped: list[FieldError] = field(default_factory=list)


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
    errors = Errors()
    errors.existing = existing is not None
    errors.answers = check_answers
    clean_contact_answers = (
        clean_contact(module, contact if contact is not None else {}, errors) if check_contact else {}
    )
    offered = {**(existing or {}), **offered_resources(module)}
    clean_events: list[CleanEvent] = []
    if not isinstance(events, list) or not events:
        errors.add("event" if single_event else "events", "REQUIRED", "Request at least one time.")
    elif len(events) > MAX_EVENTS and existing is None:  # an existing booking may hold a long series
        errors.add("events", "MAX_LENGTH", f"At most {MAX_EVENTS} times in one request.")
    else:
        for index, raw in enumerate(events):
            prefix = event_field_prefix(index, single_event)
            cleaned = clean_event(module, raw, prefix, offered, errors)
            if cleaned is not None:
                if isinstance(raw, dict) and raw.get("bookingEventId"):
                    cleaned.booking_event_id = raw["bookingEventId"]
                if repeats is not None and index < len(repeats):
                    cleaned.repeat = repeats[index]
            rule = raw.get("repeat") if isinstance(raw, dict) else None
            if rule is not None and existing is not None:
                errors.add(f"{prefix}.repeat", "IMMUTABLE_FIELD", "A repeat can only be set when the booking is made.")
            elif rule is not None:
                clean_events.extend(expand_event(module, cleaned, rule, prefix, errors))
            elif cleaned is not None:
                clean_events.append(cleaned)
        if existing is None and len(clean_events) > MAX_TIMES:
            errors.add(
                "event" if single_event else "events",
                "MAX_LENGTH",
                f"At most {MAX_TIMES} times in one request (repeats included).",
            )
            clean_events = []
    if check_rules:
        checked = (
            clean_events
            if rules_for is None
            else [e for e in clean_events if e.booking_event_id is None or str(e.booking_event_id) in rules_for]
        )
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

    An event with `repeat` (bookings.validation.repeat) becomes its occurrences, each checked against the rules
    (the advance limit too: an occurrence beyond it is that occurrence's error). The problems of one
    occurrence are merged into one error filed at `event.occurrences[k]` (`events[i].occurrences[k]`)
    with its date. With `skip_failing` (staff's skipConflicts), occurrences that break a rule are left
    out instead, into `skipped`, unless none of their series would remain. `repeats` tells an existing
    booking's events which occurrence each is (approval reports and skips them the same way, at `events[i]`).
    """
    clean, problems = assess_submission(
        module=module,
        contact=contact,
        events=events,
        single_event=single_event,
        check_rules=check_rules,
        rules_for=rules_for,
        existing=existing,
        repeats=repeats,
        now=now,
    )
    errors = collapse_occurrence_errors(problems, occurrence_refs(clean.events))
    if skip_failing:
        errors = set_aside_failing_occurrences(clean, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    return clean


def check_repeat_allowed(*, module: BookingModule, events: Any, single_event: bool = False) -> None:
    """A booker's request (public submit, public validate, the public form) may carry `repeat` only when
    the module allows it (`allow_repeat_requests`); staff always may. Raises ValidationFailed with
    NOT_ALLOWED at each `event.repeat` / `events[i].repeat` sent."""
    if module.allow_repeat_requests or not isinstance(events, list):
        return
    errors = [
        FieldError(
            f"{event_field_prefix(index, single_event)}.repeat",
            "NOT_ALLOWED",
            "This booking form does not take repeating requests; ask for each date separately.",
        )
        for index, raw in enumerate(events)
        if isinstance(raw, dict) and raw.get("repeat") is not None
    ]
    if errors:
        raise ValidationFailed(errors=errors)
