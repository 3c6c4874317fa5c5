"""The public booking form and the booker's change form, built at request time from the module's built-in
and custom fields (DESIGN §3).

These classes only describe inputs, read what was posted and put errors back next to their inputs: the
answers are checked by bookings.validation (through the same services the API calls), whose error paths
(`contact.email`, `event.start`, `events[1].resourceIds`, custom fields by id) map onto the inputs'
names (`contact-email`, `events-0-start`, `events-1-resourceIds`, `contact-<field id>`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.utils.dateparse import parse_datetime
from django.utils.html import linebreaks

from bookings.models import Booking, BookingModule, FieldType, FormField, FormSection, Portal
from bookings.services import Actor, BookingResult, booking_submit, change_request_submit
from bookings.validation import validate_submission
from resources.exceptions import Conflict, FieldError, InvalidTransition, PermissionDenied, ValidationFailed
from resources.models import Resource

from .selectors import answer_as_input, booking_events, event_timezone, offered_resources, venue_timezone

MAX_FORM_EVENTS = 20
MAX_NOTE = 5000
HONEYPOT = "contact_ref"  # an input people never see; bots fill in whatever they find

INPUT_OF_TYPE = {
    FieldType.TEXT: "text",
    FieldType.TEXTAREA: "textarea",
    FieldType.EMAIL: "email",
    FieldType.PHONE: "tel",
    FieldType.NUMBER: "number",
    FieldType.DATE: "date",
    FieldType.TIME: "time",
    FieldType.DATETIME: "datetime-local",
    FieldType.SELECT: "select",
    FieldType.MULTISELECT: "multiselect",
    FieldType.CHECKBOX: "checkbox",
    FieldType.URL: "url",
}
GROUP_KINDS = {"multiselect", "resources"}  # several checkboxes in a fieldset
EVENT_PATH = re.compile(r"^(?:event|events\[(\d+)\])(?:\.(.+))?$")


@dataclass
class Field:
    """One question of the form and what the booker answered."""

    name: str  # the input's name
    key: str  # the answer's key in the validator's payload
    label: str
    kind: str  # text, textarea, email, tel, number, date, time, datetime-local, url, select, multiselect,
    #            checkbox, resources
    required: bool = False
    help_text: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    value: Any = ""  # str; bool for a checkbox; list of str for a group
    errors: list[str] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)  # extra HTML attributes (min, max, autocomplete, ...)
    autofocus: bool = False

    @property
    def id(self) -> str:
        return f"id_{self.name}"

    @property
    def is_group(self) -> bool:
        return self.kind in GROUP_KINDS

    @property
    def anchor(self) -> str:
        """Where the error summary's link lands: the input, or a group's first checkbox."""
        return f"{self.id}_0" if self.is_group and self.options else self.id

    @property
    def help_id(self) -> str:
        return f"{self.id}-help"

    @property
    def error_id(self) -> str:
        return f"{self.id}-error"

    @property
    def describedby(self) -> str:
        return " ".join(([self.error_id] if self.errors else []) + ([self.help_id] if self.help_text else []))

    @property
    def choices(self) -> list[dict[str, Any]]:
        chosen = set(self.value) if isinstance(self.value, list) else {self.value}
        return [{"id": f"{self.id}_{i}", "value": v, "label": label, "checked": v in chosen}
                for i, (v, label) in enumerate(self.options)]

    def read(self, data: QueryDict) -> Any:
        if self.is_group:
            return [v for v in data.getlist(self.name) if isinstance(v, str)]
        if self.kind == "checkbox":
            return data.get(self.name, "") not in ("", "off", "false")
        return data.get(self.name, "")

    def normalized(self, value: Any) -> Any:
        if isinstance(value, list):
            return sorted(set(value))
        return value.strip() if isinstance(value, str) else value


@dataclass
class EventBlock:
    """One requested date: its built-in and custom event questions."""

    index: int
    fields: list[Field]
    booking_event_id: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def id(self) -> str:
        return f"event-{self.number}"

    def get(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)


def _custom_field(ff: FormField, name: str) -> Field:
    kind = INPUT_OF_TYPE.get(ff.type, "text")
    attrs: dict[str, Any] = {}
    low, high = ff.min_value, ff.max_value
    if kind == "number":
        attrs["step"] = "any"
        attrs["inputmode"] = "decimal"
        if low is not None:
            attrs["min"] = f"{low.normalize():f}"
        if high is not None:
            attrs["max"] = f"{high.normalize():f}"
    elif kind in ("text", "textarea", "email", "tel", "url"):
        if low is not None:
            attrs["minlength"] = int(low)
        if high is not None:
            attrs["maxlength"] = int(high)
    options = [(str(o), str(o)) for o in ff.options or []] if kind in ("select", "multiselect") else []
    value: Any = [] if kind == "multiselect" else (False if kind == "checkbox" else "")
    return Field(name=name, key=str(ff.pk), label=ff.label, kind=kind, required=ff.required, help_text=ff.help_text,
                 options=options, value=value, attrs=attrs)


def note_as_html(text: str) -> str:
    """The booker's note is typed as plain text: escaped, its paragraphs kept (then sanitized by the service)."""
    text = (text or "").strip()
    return linebreaks(text, autoescape=True) if text else ""


def _local_input(value: str) -> str:
    """A `start`/`end` link parameter as a datetime-local input value, or "" if it is not a local time."""
    try:
        moment = parse_datetime(value or "")
    except ValueError:
        return ""
    if moment is None or moment.tzinfo is not None or not 1970 <= moment.year <= 2200:
        return ""
    return moment.strftime("%Y-%m-%dT%H:%M")


class BookingForm:
    """The request form of a module: contact questions, one or more dates, a note, the terms."""

    note_label = "A note for the organizers (optional)"

    def __init__(self, module: BookingModule, *, data: QueryDict | None = None, initial: QueryDict | None = None):
        self.module = module
        self.resources: list[Resource] = offered_resources(module)
        self.custom: list[FormField] = list(getattr(module, "active_fields", None)
                                            or module.fields.filter(archived=False).order_by("order", "created_at"))
        self.tz = venue_timezone(self.resources, module.organization.tz)
        self.non_field_errors: list[str] = []
        self.summary: list[tuple[str, str]] = []  # (message, anchor) for the error summary
        self.contact = self._contact_fields()
        self.note = Field(name="requestNote", key="requestNote", label=self.note_label, kind="textarea",
                          attrs={"maxlength": MAX_NOTE})
        self.terms = self._terms_field()
        self.events: list[EventBlock] = []
        if data is not None:
            self.bind(data)
        else:
            self.events = [self._event_block(0)]
            self._prefill(initial)

    # --- building ------------------------------------------------------------------------------

    def _contact_fields(self) -> list[Field]:
        fields = [
            Field(name="contact-name", key="name", label="Your name", kind="text", required=True,
                  attrs={"autocomplete": "name", "maxlength": 200}),
            Field(name="contact-email", key="email", label="Email address", kind="email", required=True,
                  help_text="We send your private link to follow, change or cancel the request here.",
                  attrs={"autocomplete": "email", "maxlength": 254}),
            Field(name="contact-phone", key="phone", label="Phone number", kind="tel",
                  attrs={"autocomplete": "tel", "maxlength": 50}),
        ]
        fields += [_custom_field(ff, f"contact-{ff.pk}") for ff in self.custom if ff.section == FormSection.CONTACT]
        return fields

    def _terms_field(self) -> Field | None:
        if not self.module.terms.strip():
            return None
        return Field(name="terms", key="terms", label="I have read and accept the terms and conditions",
                     kind="checkbox", required=True, value=False)

    def resource_options(self) -> list[tuple[str, str]]:
        return [(str(r.pk), f"{r.name} (up to {r.capacity} {'person' if r.capacity == 1 else 'people'})")
                for r in self.resources]

    def _event_block(self, index: int) -> EventBlock:
        prefix = f"events-{index}-"
        zone = self.tz.key.replace("_", " ")
        fields = [
            Field(name=f"{prefix}title", key="title", label="Event title", kind="text", required=True,
                  help_text="A short name, for example “Choir rehearsal”. Only the organizers see it.",
                  attrs={"maxlength": 300}),
            Field(name=f"{prefix}resourceIds", key="resourceIds", label="What would you like to book?",
                  kind="resources", required=True, options=self.resource_options(),
                  value=[str(self.resources[0].pk)] if len(self.resources) == 1 else []),
            Field(name=f"{prefix}start", key="start", label="Start", kind="datetime-local", required=True,
                  help_text=f"Date and time, {zone} time."),
            Field(name=f"{prefix}end", key="end", label="End", kind="datetime-local", required=True,
                  help_text=f"Date and time, {zone} time."),
            Field(name=f"{prefix}attendees", key="attendees", label="Number of people", kind="number",
                  attrs={"min": 1, "step": 1, "inputmode": "numeric"}),
        ]
        fields += [_custom_field(ff, f"{prefix}{ff.pk}") for ff in self.custom if ff.section == FormSection.EVENT]
        return EventBlock(index=index, fields=fields)

    def _prefill(self, initial: QueryDict | None) -> None:
        """A free slot of the calendar links here with ?resource=&start=&end= (local wall-clock times)."""
        if not initial:
            return
        block = self.events[0]
        offered = {str(r.pk) for r in self.resources}
        if initial.get("resource") in offered:
            block.get("resourceIds").value = [initial["resource"]]
        for key in ("start", "end"):
            block.get(key).value = _local_input(initial.get(key, ""))

    # --- reading -------------------------------------------------------------------------------

    @property
    def fields(self) -> Iterator[Field]:
        yield from self.contact
        for block in self.events:
            yield from block.fields
        yield self.note
        if self.terms:
            yield self.terms

    def event_count(self, data: QueryDict) -> int:
        try:
            count = int(data.get("event_count", "1"))
        except (TypeError, ValueError):
            count = 1
        return min(max(count, 1), MAX_FORM_EVENTS)

    def bind(self, data: QueryDict) -> None:
        self.events = [self._event_block(i) for i in range(self.event_count(data))]
        for f in self.fields:
            f.value = f.read(data)

    def add_event(self) -> None:
        """Another date, with the previous one's answers except its times (the same event, another day)."""
        if len(self.events) >= MAX_FORM_EVENTS:
            self.non_field_errors.append(f"One request can hold at most {MAX_FORM_EVENTS} dates.")
            return
        previous = self.events[-1]
        block = self._event_block(len(self.events))
        for f in block.fields:
            if f.key not in ("start", "end"):
                f.value = previous.get(f.key).value
        block.get("start").autofocus = True
        self.events.append(block)

    def remove_event(self, index: int) -> None:
        if len(self.events) <= 1 or not 0 <= index < len(self.events):
            return
        kept = [b for b in self.events if b.index != index]
        self.events = []
        for new_index, old in enumerate(kept):
            block = self._event_block(new_index)
            for f in block.fields:
                f.value = old.get(f.key).value
            self.events.append(block)

    def honeypot_filled(self, data: QueryDict) -> bool:
        return bool(data.get(HONEYPOT, "").strip())

    def payload(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        contact = {f.key: f.value for f in self.contact}
        events = [{f.key: f.value for f in block.fields} for block in self.events]
        return contact, events

    # --- errors --------------------------------------------------------------------------------

    @property
    def has_errors(self) -> bool:
        return bool(self.summary)

    def _resource_name(self, resource_id: Any) -> str:
        names = {str(r.pk): r.name for r in self.resources}
        return names.get(str(resource_id), "This space")

    def message(self, error: FieldError) -> str:
        """The validator's message, worded for a person filling in this form. A conflict never names the
        other booking (its title is someone else's)."""
        key = error.field.rsplit(".", 1)[-1]
        if error.code == "BOOKING_CONFLICT":
            return (f"{self._resource_name(error.meta.get('resourceId'))} is already booked at that time. "
                    "Choose another time or another space.")
        if error.code == "CAPACITY_EXCEEDED":
            return (f"{self._resource_name(error.meta.get('resourceId'))} is fully booked at that time. "
                    "Choose another time or another space.")
        if error.code == "INVALID" and key in ("start", "end"):
            return f"Enter the {key} as a date and a time."
        if error.code == "REQUIRED" and key == "resourceIds":
            return "Choose at least one space."
        if error.code == "REQUIRED" and key in ("start", "end"):
            return f"Enter the {key} date and time."
        if error.code == "REQUIRED" and key == "title":
            return "Enter a title for the event."
        if error.code == "RESOURCE_NOT_OFFERED":
            return "Choose one of the spaces listed."
        if error.field == "requestNote" and error.code == "MAX_LENGTH":
            return f"The note must be at most {MAX_NOTE} characters."
        return error.message

    def _locate(self, path: str) -> tuple[Field | None, EventBlock | None]:
        if path.startswith("contact."):
            key = path.split(".", 1)[1]
            return next((f for f in self.contact if f.key == key), None), None
        match = EVENT_PATH.match(path)
        if match:
            index = int(match.group(1) or 0)
            block = self.events[index] if index < len(self.events) else None
            key = match.group(2)
            return (block.get(key) if block and key else None), block
        if path == "requestNote":
            return self.note, None
        if path == "terms":
            return self.terms, None
        return None, None

    def add_error(self, error: FieldError) -> None:
        message = self.message(error)
        field_, block = self._locate(error.field)
        if field_ is not None and message in field_.errors:
            return  # the same rule failing for two resources of one date
        prefix = f"Date {block.number}: " if block is not None and len(self.events) > 1 else ""
        if field_ is not None:
            field_.errors.append(message)
            self.summary.append((prefix + message, field_.anchor))
        elif block is not None:
            block.errors.append(message)
            self.summary.append((prefix + message, block.id))
        else:
            self.non_field_errors.append(message)
            self.summary.append((message, "form-errors"))

    def add_errors(self, exc: ValidationFailed | Conflict) -> None:
        for error in exc.errors or [FieldError("", exc.code, exc.message)]:
            self.add_error(error)

    def sort_summary(self) -> None:
        """The summary in the order of the form, as a person reads it top to bottom."""
        anchors = [f.anchor for f in self.contact]
        for block in self.events:
            anchors += [block.id] + [f.anchor for f in block.fields]
        anchors += [f.anchor for f in (self.note, self.terms) if f is not None]
        position = {anchor: i for i, anchor in reversed(list(enumerate(anchors)))}
        self.summary.sort(key=lambda item: position.get(item[1], -1))

    # --- sending -------------------------------------------------------------------------------

    def _note_html(self) -> str | None:
        if len(self.note.value) > MAX_NOTE:
            self.add_error(FieldError("requestNote", "MAX_LENGTH", ""))
            return None
        return note_as_html(self.note.value)

    def submit(self, portal: Portal) -> BookingResult | None:
        """The booker's request through the same validator and submit service as the API; None with the
        errors placed on the form when it is refused."""
        contact, events = self.payload()
        single = len(events) == 1
        note = self._note_html()
        try:
            if self.terms is not None and not self.terms.value:
                self.add_error(FieldError("terms", "REQUIRED", "Accept the terms and conditions to send your request."))
            if self.summary:  # still list every other problem at once
                validate_submission(module=self.module, contact=contact, events=events, single_event=single)
                return None
            return booking_submit(module=self.module, portal=portal, contact=contact, events=events,
                                  single_event=single, request_note=note or "")
        except (ValidationFailed, Conflict) as exc:
            self.add_errors(exc)
            return None
        finally:
            self.sort_summary()


class ChangeForm(BookingForm):
    """The booker's "request a change": the booking's current answers, one block per requested time.
    Only what the booker changed is sent (so an untouched past date is not checked against the rules)."""

    note_label = "Why the change? (optional)"

    def __init__(self, booking: Booking, *, data: QueryDict | None = None):
        self.booking = booking
        self.booking_events = booking_events(booking)
        module = booking.module
        self._held = {str(r.pk): r for be in self.booking_events for r in be.resources.all()}
        super().__init__(module, data=None)
        self.terms = None
        self.events = [self._current_block(i, be) for i, be in enumerate(self.booking_events)]
        self._fill_contact()
        self.initial = {f.name: f.normalized(f.value) for f in self.fields}
        if data is not None:
            self.bind(data)

    def resource_options(self) -> list[tuple[str, str]]:
        resources = {str(r.pk): r for r in self.resources}
        for rid, r in getattr(self, "_held", {}).items():
            resources.setdefault(rid, r)
        return [(rid, f"{r.name} (up to {r.capacity} {'person' if r.capacity == 1 else 'people'})")
                for rid, r in resources.items()]

    def _fill_contact(self) -> None:
        answers = self.booking.contact_answers or {}
        types = {str(ff.pk): ff.type for ff in self.custom}
        for f in self.contact:
            value = answers.get(f.key)
            f.value = answer_as_input(types[f.key], value) if f.key in types else ("" if value is None else str(value))

    def _current_block(self, index: int, be) -> EventBlock:
        block = self._event_block(index)
        block.booking_event_id = str(be.pk)
        tz = event_timezone(be, self.booking)
        types = {str(ff.pk): ff.type for ff in self.custom}
        values = {
            "title": be.title,
            "resourceIds": [str(r.pk) for r in be.resources.all()],
            "start": be.start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
            "end": be.end.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
            "attendees": "" if be.attendees is None else str(be.attendees),
        }
        zone = tz.key.replace("_", " ")
        for f in block.fields:
            if f.key in values:
                f.value = values[f.key]
            elif f.key in types:
                f.value = answer_as_input(types[f.key], be.answers.get(f.key))
            if f.key in ("start", "end"):
                f.help_text = f"Date and time, {zone} time."
        return block

    def bind(self, data: QueryDict) -> None:
        for f in self.fields:
            f.value = f.read(data)

    def changes(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        def changed(f: Field) -> bool:
            return f.normalized(f.value) != self.initial.get(f.name)

        contact = {f.key: f.value for f in self.contact if changed(f)}
        events = []
        for block in self.events:
            wanted = {f.key: f.value for f in block.fields if changed(f)}
            if wanted:
                events.append({"bookingEventId": block.booking_event_id, **wanted})
        return contact, events

    def submit(self, booking: Booking) -> BookingResult | None:  # type: ignore[override]
        contact, events = self.changes()
        note = self._note_html()
        if note is None:
            return None
        if not contact and not events:
            self.add_error(FieldError("", "NO_CHANGES", "Change at least one answer before sending the request."))
            return None
        try:
            return change_request_submit(booking_id=booking.pk, actor=Actor.booker(booking.booker_email),
                                         contact=contact or None, events=events or None, request_note=note)
        except (ValidationFailed, Conflict) as exc:
            self.add_errors(exc)
        except (PermissionDenied, InvalidTransition) as exc:
            self.add_error(FieldError("", exc.code, exc.message))
        self.sort_summary()
        return None
