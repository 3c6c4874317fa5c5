"""One question of the public forms (Field), one requested date (EventBlock), and the inputs built from a
module's custom FormFields (docs/architecture.md#form-fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict
from django.utils.dateparse import parse_datetime
from django.utils.html import linebreaks

from bookings.models import FieldType, FormField
from bookings.validation.repeat import WEEKDAY_KEYS

MAX_NOTE = 5000

INPUT_OF_TYPE: dict[str, str] = {
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
        return [
            {"id": f"{self.id}_{i}", "value": v, "label": label, "checked": v in chosen}
            for i, (v, label) in enumerate(self.options)
        ]

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

    def question(self, key: str) -> Field:
        """The question `key`, which every date has (get: one that may not be there)."""
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def repeat_question(self, key: str) -> Field:
        """The Repeat fieldset's question `key` (it has all of them, when the form has the fieldset)."""
        found = self.get_repeat(key)
        if found is None:
            raise KeyError(key)
        return found

    def repeat_payload(self) -> dict[str, Any] | None:
        """The `repeat` the validator takes, or None when the booker chose "Does not repeat"."""
        if not self.repeat or not str(self.repeat_question("repeats").value).strip():
            return None
        days = set(self.repeat_question("days").value)
        return {
            "repeats": self.repeat_question("repeats").value.strip(),
            "repeatEvery": self.repeat_question("repeatEvery").value.strip(),
            "repeatUntil": self.repeat_question("repeatUntil").value.strip(),
            **{key: key in days for key in WEEKDAY_KEYS},
        }


def custom_field(ff: FormField, name: str) -> Field:
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
    return Field(
        name=name,
        key=str(ff.pk),
        label=ff.label,
        kind=kind,
        required=ff.required,
        help_text=ff.help_text,
        options=options,
        value=value,
        attrs=attrs,
    )


def note_as_html(text: str) -> str:
    """The booker's note is typed as plain text: escaped, its paragraphs kept (then sanitized by the service)."""
    text = (text or "").strip()
    return linebreaks(text, autoescape=True) if text else ""


def local_input(value: str) -> str:
    """A `start`/`end` link parameter as a datetime-local input value, or "" if it is not a local time."""
    try:
        moment = parse_datetime(value or "")
    except ValueError:
        return ""
    if moment is None or moment.tzinfo is not None or not 1970 <= moment.year <= 2200:
        return ""
    return moment.strftime("%Y-%m-%dT%H:%M")
