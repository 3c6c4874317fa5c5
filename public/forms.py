"""The public booking form and the booker's change form, built at request time from the module's built-in
and custom fields (docs/architecture.md#form-fields).

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

from bookings.billing import BookingBilling, has_price
from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.submit import booking_submit
from bookings.lifecycle.transitions import BookingResult
from bookings.models import Booking, BookingModule, FieldType, FormField, FormSection, Portal
from bookings.preflight import SLOT_CODES, booking_preflight
from bookings.repeat import WEEKDAY_KEYS, Cycle
from bookings.selectors import booking_estimate_payload, pricing_resources
from bookings.validation import check_repeat_allowed, public_errors, validate_submission
from core.actor import Actor
from core.errors import (
    Conflict,
    DomainError,
    FieldError,
    InvalidDiscountCode,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from resources.models import Resource

from .selectors import answer_as_input, booking_events, event_timezone, offered_resources, venue_timezone

MAX_FORM_EVENTS = 20
MAX_NOTE = 5000
MAX_DISCOUNT_CODE = 40  # DiscountCode.code's max_length
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
GROUP_KINDS = {"multiselect", "resources", "weekdays"}  # several checkboxes in a fieldset
EVENT_PATH = re.compile(r"^(?:event|events\[(\d+)\])(?:\.(.+))?$")
VISITOR_PATH = re.compile(r"^visitors\[(\d+)\]\.(name|email)$")
VISITOR_ROWS = 3  # blank visitor rows on the form (no JavaScript needed to add one)
# The "Repeats" choices, as bookings.repeat's cycles (the wire values of `repeats`).
REPEAT_CHOICES = [
    (str(Cycle.DAILY.value), "Daily"),
    (str(Cycle.WEEKLY.value), "Weekly"),
    (str(Cycle.MONTHLY.value), "Monthly, on the same date"),
    (str(Cycle.YEARLY.value), "Yearly, on the same date"),
    (str(Cycle.FIRST_OF_MONTH.value), "First weekday of the month (such as the first Monday)"),
    (str(Cycle.SECOND_OF_MONTH.value), "Second weekday of the month"),
    (str(Cycle.THIRD_OF_MONTH.value), "Third weekday of the month"),
    (str(Cycle.FOURTH_OF_MONTH.value), "Fourth weekday of the month"),
    (str(Cycle.LAST_OF_MONTH.value), "Last weekday of the month (such as the last Friday)"),
]
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
REPEAT_PREFIX = "repeat-"  # the repeat inputs' keys on a block: repeat-repeats, repeat-every, ...


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
    empty_label: str = "Choose…"  # a select's first, empty option

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
    repeat: list[Field] = field(default_factory=list)  # the optional "Repeat" fieldset
    repeat_errors: list[str] = field(default_factory=list)  # the rule's and its occurrences' problems

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def id(self) -> str:
        return f"event-{self.number}"

    @property
    def repeat_id(self) -> str:
        return f"{self.id}-repeat"

    def get(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.key == key), None)

    def get_repeat(self, key: str) -> Field | None:
        return next((f for f in self.repeat if f.key == key), None)

    def repeat_payload(self) -> dict[str, Any] | None:
        """The `repeat` the validator takes, or None when the booker chose "Does not repeat"."""
        if not self.repeat or not str(self.get_repeat("repeats").value).strip():
            return None
        days = set(self.get_repeat("days").value)
        return {"repeats": self.get_repeat("repeats").value.strip(),
                "repeatEvery": self.get_repeat("repeatEvery").value.strip(),
                "repeatUntil": self.get_repeat("repeatUntil").value.strip(),
                **{key: key in days for key in WEEKDAY_KEYS}}


@dataclass
class TimeCheck:
    """One requested time (or occurrence) that cannot be booked: why, and free times of the same length."""

    block: EventBlock | None
    label: str  # "Date 1", or the occurrence's date
    reasons: list[str]
    slots: list[dict[str, str]] = field(default_factory=list)  # {"value", "label"}; value "<block>|<start>|<end>"
    occurrence: bool = False


@dataclass
class Availability:
    """The answer to "Check availability" (or the suggestions after a refused request)."""

    checked: bool  # True: the booker asked; False: shown after a refused request
    problems: list[TimeCheck] = field(default_factory=list)
    count: int = 0  # the times checked (repeats expanded)
    price: dict[str, Any] | None = None  # the estimate of free times (bookings.billing.price_total, public)

    @property
    def ok(self) -> bool:
        return not self.problems


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


def _slot_label(slot: dict[str, str]) -> str:
    """A free time on its local wall clock: "Tue 5 Jan 2027, 10:30–11:30"."""
    start, end = parse_datetime(slot["startLocal"]), parse_datetime(slot["endLocal"])
    if start.date() == end.date():
        return f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M}–{end:%H:%M}"
    return f"{start:%a} {start.day} {start:%b %Y} {start:%H:%M} – {end:%a} {end.day} {end:%b %Y} {end:%H:%M}"


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
        self.allow_repeat = bool(module.allow_repeat_requests)
        self.non_field_errors: list[str] = []
        self.summary: list[tuple[str, str]] = []  # (message, anchor) for the error summary
        self.availability: Availability | None = None
        self.notice = ""  # what the last button did (a suggested time filled in)
        self.contact = self._contact_fields()
        self.note = Field(name="requestNote", key="requestNote", label=self.note_label, kind="textarea",
                          attrs={"maxlength": MAX_NOTE})
        self.terms = self._terms_field()
        self.discount = self._discount_field()
        self.visitors = self._visitor_rows()
        self.visitor_errors: list[str] = []
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

    def _visitor_rows(self) -> list[tuple[Field, Field]]:
        """VISITOR_ROWS blank (name, email) pairs: works without JavaScript; empty rows are ignored."""
        return [(Field(name=f"visitor-{i}-name", key="name", label=f"Visitor {i + 1}: name", kind="text",
                       attrs={"maxlength": 200, "autocomplete": "off"}),
                 Field(name=f"visitor-{i}-email", key="email", label=f"Visitor {i + 1}: email", kind="email",
                       attrs={"maxlength": 254, "autocomplete": "off"}))
                for i in range(VISITOR_ROWS)]

    def _discount_field(self) -> Field | None:
        """The optional discount code, only when something offered here has a price (a rate or a product):
        on a free module the code could take nothing off, and the input would only puzzle people."""
        terms = pricing_resources([r.pk for r in self.resources]).values()
        if not has_price({"rates": t.rates, "products": t.products} for t in terms):
            return None
        return Field(name="discountCode", key="discountCode", label="Discount code", kind="text",
                     help_text="If the organizers gave you one. It comes off the estimated price.",
                     attrs={"maxlength": MAX_DISCOUNT_CODE, "autocomplete": "off", "spellcheck": "false"})

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
        return EventBlock(index=index, fields=fields, repeat=self._repeat_fields(prefix))

    def _repeat_fields(self, prefix: str) -> list[Field]:
        """The optional "Repeat" questions of a date. Always read (a module that does not take repeats
        refuses one with NOT_ALLOWED), shown only when the module takes them."""
        return [
            Field(name=f"{prefix}repeats", key="repeats", label="Repeats", kind="select", options=REPEAT_CHOICES,
                  empty_label="Does not repeat",
                  help_text="Ask for the same time on several dates. The organizers review every date."),
            Field(name=f"{prefix}repeatEvery", key="repeatEvery", label="Every", kind="number",
                  help_text="1: every day, week, month or year; 2: every other one, and so on. Empty means 1.",
                  attrs={"min": 1, "max": 99, "step": 1, "inputmode": "numeric"}),
            Field(name=f"{prefix}repeatUntil", key="repeatUntil", label="Until", kind="date",
                  help_text="The last date, included. Needed when the booking repeats."),
            Field(name=f"{prefix}repeatDays", key="days", label="On these weekdays", kind="weekdays",
                  options=list(zip(WEEKDAY_KEYS, WEEKDAY_NAMES, strict=True)), value=[],
                  help_text="Daily: only these days (none ticked: every day). Weekly, or first … last of the "
                            "month: these weekdays (none ticked: the start's weekday). Not for monthly or "
                            "yearly on the same date."),
        ]

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
            yield from block.repeat
        for pair in self.visitors:
            yield from pair
        if self.discount:
            yield self.discount
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
        # The repeat is not copied: another date is usually a one-off.
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
            for f in block.repeat:
                f.value = old.get_repeat(f.key).value
            self.events.append(block)

    def honeypot_filled(self, data: QueryDict) -> bool:
        return bool(data.get(HONEYPOT, "").strip())

    def visitors_payload(self) -> list[dict[str, Any]]:
        """The rows with anything typed in, in order (a half-filled row is sent, to be refused clearly)."""
        return [{"name": name.value, "email": email.value} for name, email in self.visitors
                if str(name.value).strip() or str(email.value).strip()]

    def discount_code(self) -> str | None:
        return (str(self.discount.value).strip() or None) if self.discount else None

    def billing_choices(self) -> BookingBilling | None:
        """The booking's pricing choices as the API takes them: the public form only has the code."""
        code = self.discount_code()
        return BookingBilling.from_wire({"discountCode": code}) if code else None

    def payload(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        contact = {f.key: f.value for f in self.contact}
        events = []
        for block in self.events:
            event = {f.key: f.value for f in block.fields}
            repeat = block.repeat_payload()
            if repeat is not None:
                event["repeat"] = repeat
            events.append(event)
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
        if error.meta.get("occurrence") is not None:
            return error.message  # "<date>: why" (public_errors already took out other bookings' titles)
        if ".repeat" in error.field or error.field.endswith("repeat"):
            return self._repeat_message(error, key)
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

    @staticmethod
    def _repeat_message(error: FieldError, key: str) -> str:
        if error.code == "NOT_ALLOWED":
            return "This form does not take repeating bookings. Add each date with “Add another date”."
        if key == "repeats":
            return "Choose how the booking repeats."
        if key == "repeatEvery":
            return "Enter “Every” as a whole number from 1 to 99."
        if key == "repeatUntil" and error.code == "REQUIRED":
            return "Enter the last date of the repeat (“Until”)."
        if key == "repeatUntil" and error.code == "TOO_MANY_OCCURRENCES":
            return (f"A repeating booking can have at most {error.meta.get('maxOccurrences')} dates. "
                    "Choose an earlier “Until” date.")
        if key == "repeatUntil" and "before" in error.message:
            return "“Until” must not be before the start date."
        if key == "repeatUntil":
            return "Enter “Until” as a date."
        if key in WEEKDAY_KEYS:
            return "Weekdays do not apply to a monthly or yearly repeat on the same date. Untick them."
        if error.code == "NO_OCCURRENCES":
            return "This repeat gives no date up to “Until”. Check the weekdays and the dates."
        return error.message

    def _locate(self, path: str) -> tuple[Field | None, EventBlock | None, bool]:
        """The input an error belongs to, its date's block, and whether it is the block's repeat's."""
        if path.startswith("contact."):
            key = path.split(".", 1)[1]
            return next((f for f in self.contact if f.key == key), None), None, False
        match = EVENT_PATH.match(path)
        if match:
            index = int(match.group(1) or 0)
            block = self.events[index] if index < len(self.events) else None
            key = match.group(2) or ""
            if key.startswith("occurrences[") or key == "repeat":
                return None, block, True
            if key.startswith("repeat."):
                sub = key.split(".", 1)[1]
                sub = "days" if sub in WEEKDAY_KEYS else sub
                return (block.get_repeat(sub) if block else None), block, True
            return (block.get(key.split(".", 1)[0]) if block and key else None), block, False
        match = VISITOR_PATH.match(path)
        if match:
            sent = [pair for pair in self.visitors if str(pair[0].value).strip() or str(pair[1].value).strip()]
            index = int(match.group(1))
            if index < len(sent):
                return (sent[index][0] if match.group(2) == "name" else sent[index][1]), None, False
            return None, None, False
        if path == "visitors":
            return None, None, False
        if path == "discountCode":
            return self.discount, None, False
        if path == "requestNote":
            return self.note, None, False
        if path == "terms":
            return self.terms, None, False
        return None, None, False

    def add_error(self, error: FieldError) -> None:
        message = self.message(error)
        field_, block, repeat = self._locate(error.field)
        if field_ is not None and message in field_.errors:
            return  # the same rule failing for two resources of one date
        prefix = f"Date {block.number}: " if block is not None and len(self.events) > 1 else ""
        if repeat and not self.allow_repeat and block is not None and field_ is None:
            block.errors.append(message)  # no repeat fieldset to put it next to
            self.summary.append((prefix + message, block.id))
        elif field_ is not None:
            field_.errors.append(message)
            self.summary.append((prefix + message, field_.anchor))
        elif block is not None and repeat:
            block.repeat_errors.append(message)
            self.summary.append((prefix + message, block.repeat_id))
        elif block is not None:
            block.errors.append(message)
            self.summary.append((prefix + message, block.id))
        elif error.field == "visitors":
            self.visitor_errors.append(message)
            self.summary.append((message, "visitors"))
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
            anchors += [block.id] + [f.anchor for f in block.fields] + [block.repeat_id]
            anchors += [f.anchor for f in block.repeat]
        anchors += ["visitors"] + [f.anchor for pair in self.visitors for f in pair]
        anchors += [f.anchor for f in (self.discount, self.note, self.terms) if f is not None]
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
                                  single_event=single, request_note=note or "", visitors=self.visitors_payload(),
                                  billing_choices=self.billing_choices())
        except (ValidationFailed, Conflict, InvalidDiscountCode) as exc:
            exc.errors = public_errors(exc.errors)  # never another booking's title or event ids
            self.add_errors(exc)
            if any((set(e.meta.get("codes") or ()) | {e.code}) & SLOT_CODES for e in exc.errors):
                suggested = self._availability(events, single, checked=False)
                suggested.problems = [p for p in suggested.problems if p.slots]
                self.availability = suggested if suggested.problems else None
            return None
        finally:
            self.sort_summary()

    # --- "Check availability" -------------------------------------------------------------------

    def check(self) -> Availability | None:
        """What a request with these times would meet (bookings.preflight, as `POST /bookings/validate`),
        without booking anything. Only the times are assessed: the other answers may still be empty.
        The reasons go next to the times (and into the summary); free times come as buttons."""
        _, events = self.payload()
        single = len(events) == 1
        try:
            check_repeat_allowed(module=self.module, events=events, single_event=single)
        except ValidationFailed as exc:
            self.add_errors(exc)
            self.sort_summary()
            return None
        self.availability = self._availability(events, single, checked=True, place_errors=True)
        code_errors: list[FieldError] = []
        if self.availability.ok:
            try:  # what the free times would cost; a time no rate covers is said by the submit
                estimate = booking_estimate_payload(module=self.module, events=events, single_event=single,
                                                    discount_code=self.discount_code())
                if has_price(estimate["events"]):
                    self.availability.price = estimate["priceTotal"]
            except InvalidDiscountCode as exc:
                # No estimate rather than one without the code the booker typed (it would look discounted).
                code_errors = exc.errors
            except DomainError:
                self.availability.price = None
        self.summary = []  # the availability panel is this page's summary (the reasons also sit by their inputs)
        for error in code_errors:  # not about the times: the panel does not say it, so the summary does
            self.add_error(error)
        return self.availability

    def _availability(self, events: list[dict[str, Any]], single: bool, *, checked: bool,
                      place_errors: bool = False) -> Availability:
        result = booking_preflight(module=self.module, contact=None, events=events, single_event=single,
                                   check_contact=False, check_answers=False, public=True)
        if place_errors:
            for error in result.errors:
                self.add_error(error)
        slots_for = {s["field"]: s["slots"] for s in result.suggestions}
        problems: list[TimeCheck] = []
        for error in result.errors:
            _, block, _ = self._locate(error.field)
            occurrence = error.meta.get("occurrence") is not None
            path = error.field if occurrence else error.field.split(".")[0]
            message = self.message(error)
            reasons = [message.partition(": ")[2] if occurrence else message]
            existing = next((p for p in problems if p.label == self._check_label(block, error)), None)
            if existing is not None:
                existing.reasons += [r for r in reasons if r not in existing.reasons]
                continue
            slots = [{"value": f"{block.index if block else 0}|{s['startLocal'][:16]}|{s['endLocal'][:16]}",
                      "label": _slot_label(s)} for s in slots_for.get(path, [])]
            problems.append(TimeCheck(block=block, label=self._check_label(block, error), reasons=reasons,
                                      slots=slots, occurrence=occurrence))
        return Availability(checked=checked, problems=problems, count=len(result.times))

    def _check_label(self, block: EventBlock | None, error: FieldError) -> str:
        if error.meta.get("occurrence") is not None:
            label = error.message.partition(": ")[0]
            return f"{label} (date {block.number} repeated)" if block is not None and len(self.events) > 1 else label
        return f"Date {block.number}" if block is not None and len(self.events) > 1 else "Your time"

    def use_slot(self, value: str) -> bool:
        """A suggested free time's button: its date's start and end become that time."""
        index, _, rest = value.partition("|")
        start, _, end = rest.partition("|")
        if not index.isdigit() or int(index) >= len(self.events):
            return False
        start, end = _local_input(start), _local_input(end)
        if not start or not end:
            return False
        block = self.events[int(index)]
        block.get("start").value, block.get("end").value = start, end
        block.get("start").autofocus = True
        when = _slot_label({"startLocal": start, "endLocal": end})
        self.notice = (f"{'Date ' + str(block.number) if len(self.events) > 1 else 'Your time'} is now {when}. "
                       "Check availability again or send your request.")
        return True


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
        self.allow_repeat = False  # a repeat is set when the booking is made
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

    def _repeat_fields(self, prefix: str) -> list[Field]:
        return []  # a repeat is set when the booking is made, never changed

    def _discount_field(self) -> Field | None:
        return None  # a change request carries no pricing choices (change_request_submit takes none)

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
            exc.errors = public_errors(exc.errors)  # never another booking's title or event ids
            self.add_errors(exc)
        except (PermissionDenied, InvalidTransition) as exc:
            self.add_error(FieldError("", exc.code, exc.message))
        self.sort_summary()
        return None
