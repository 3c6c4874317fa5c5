"""The validator's errors on the public forms: worded for a person filling in the form, placed next to
their inputs (or their date, or the form), and listed in a summary in the order of the form
(docs/architecture.md#form-fields)."""

from __future__ import annotations

import re
from typing import Any

from bookings.validation.repeat import WEEKDAY_KEYS
from core.errors import DomainError, FieldError
from resources.models import Resource

from .fields import MAX_NOTE, EventBlock, Field
from .repeat import repeat_message

EVENT_PATH = re.compile(r"^(?:event|events\[(\d+)\])(?:\.(.+))?$")
VISITOR_PATH = re.compile(r"^visitors\[(\d+)\]\.(name|email)$")


class FormErrors:
    """The error half of BookingForm: what it needs of the form are its inputs (contact, events, visitors,
    discount, note, terms) and the resources it offers."""

    resources: list[Resource]
    contact: list[Field]
    events: list[EventBlock]
    visitors: list[tuple[Field, Field]]
    discount: Field | None
    note: Field
    terms: Field | None
    allow_repeat: bool
    non_field_errors: list[str]
    visitor_errors: list[str]
    summary: list[tuple[str, str]]

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
        if error.field == "visitors":
            return error.message  # the visitor limit ("Too many visitors: ..."), never "fully booked"
        if ".repeat" in error.field or error.field.endswith("repeat"):
            return repeat_message(error, key)
        if error.code == "BOOKING_CONFLICT":
            return (
                f"{self._resource_name(error.meta.get('resourceId'))} is already booked at that time. "
                "Choose another time or another space."
            )
        if error.code == "CAPACITY_EXCEEDED":
            return (
                f"{self._resource_name(error.meta.get('resourceId'))} is fully booked at that time. "
                "Choose another time or another space."
            )
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

    def locate(self, path: str) -> tuple[Field | None, EventBlock | None, bool]:
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
        field_, block, repeat = self.locate(error.field)
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

    def add_errors(self, exc: DomainError) -> None:
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
