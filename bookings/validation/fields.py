"""Cleaning answers one field at a time (docs/architecture.md#form-fields): plain text, email, phone,
numbers, dates and times, choices and checkboxes; a module's custom fields; the contact section; the
booking's own title and note.

Each cleaner returns the clean value, or None with the problem added to the run's `Errors` (its field
path, code and message), so that one validation reports every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.dateparse import parse_date, parse_datetime, parse_time

from core.errors import FieldError, ValidationFailed
from core.html import plain_text, sanitize_html
from resources.models import ResourceUnit

from ..models import BookingModule, FieldType, FormField

CONTACT_BUILTINS = {"name", "email", "phone"}
# Checked on the phone as sent (the schema's pattern says the same), before spaces are folded.
PHONE_RE = re.compile(r"^\+?[0-9()\-. ]{5,30}$")
MAX_TEXT = 5000


class Errors:
    """The errors of one validation run, and what the run loads once (the module's custom fields)."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []
        self.fields: list[FormField] | None = None
        self.existing = False  # validating an existing booking's answers (see validate_submission)
        self.answers = True  # False: only the times are assessed (titles and custom answers are not checked)
        self.units: dict[str, ResourceUnit] | None = None  # active units of the offered resources, by id

    def add(self, path: str, code: str, message: str, **meta: Any) -> None:
        self.items.append(FieldError(path, code, message, meta))


def is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())


CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Everything str.splitlines() breaks on that CONTROL_RE lets through.
LINE_BREAK_RE = re.compile(r"[\r\n\x85\u2028\u2029]")
MAX_NUMBER_DIGITS = 15
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


def clean_text(
    value: Any,
    path: str,
    label: str,
    errors: Errors,
    limit: int = MAX_TEXT,
    multiline: bool = False,
    one_line: bool = False,
    required: bool = False,
) -> str | None:
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


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "on", "1", "yes"}:
        return True
    if isinstance(value, str) and value.lower() in {"false", "off", "0", "no", ""}:
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


# --- custom answers, one cleaner per field type ---------------------------------------------------------


def _clean_custom(ff: FormField, value: Any, path: str, errors: Errors) -> Any:
    """Clean one custom answer; None means "no answer". Stored values are JSON-friendly."""
    if ff.type == FieldType.CHECKBOX:
        return _clean_checkbox(ff, value, path, errors)
    if is_blank(value):
        if ff.required:
            errors.add(path, "REQUIRED", f"{ff.label} is required.")
        return None
    cleaner = _CLEANERS.get(ff.type)
    if cleaner is None:  # pragma: no cover - guarded by choices
        errors.add(path, "INVALID", f"{ff.label} has an unknown type.")
        return None
    return cleaner(ff, value, path, errors)


def _clean_checkbox(ff: FormField, value: Any, path: str, errors: Errors) -> bool | None:
    checked = parse_bool(value if value is not None else False)
    if checked is None:
        errors.add(path, "INVALID", f"{ff.label} must be checked or not.")
        return None
    if ff.required and not checked:
        errors.add(path, "REQUIRED", f"{ff.label} must be checked.")
    return checked


def _clean_text_answer(ff: FormField, value: Any, path: str, errors: Errors) -> str | None:
    """text, textarea, phone, email and url: the length limits, then the type's own shape."""
    label, low, high = ff.label, ff.min_value, ff.max_value
    text = clean_text(value, path, label, errors, multiline=ff.type == FieldType.TEXTAREA, required=ff.required)
    if text is None:
        return None
    if low is not None and len(text) < low:
        errors.add(path, "MIN_LENGTH", f"{label} must be at least {int(low)} characters.")
    if high is not None and len(text) > high:
        errors.add(path, "MAX_LENGTH", f"{label} must be at most {int(high)} characters.")
    if ff.type == FieldType.EMAIL:
        return clean_email(text, path, label, errors)
    if ff.type == FieldType.PHONE and not PHONE_RE.match(text):
        errors.add(path, "INVALID", f"{label} must be a phone number.")
    if ff.type == FieldType.URL:
        try:
            URLValidator(schemes=["http", "https"])(text)
        except ValidationError:
            errors.add(path, "INVALID", f"{label} must be a web address starting with http:// or https://.")
    return text


def _clean_number(ff: FormField, value: Any, path: str, errors: Errors) -> int | float | None:
    label, low, high = ff.label, ff.min_value, ff.max_value
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


_TEMPORAL_PARSERS: dict[str, Callable[[str], date | time | None]] = {
    FieldType.DATE: parse_date,
    FieldType.TIME: parse_time,
    FieldType.DATETIME: parse_datetime,
}
_TEMPORAL_KINDS = {"date": "a date (YYYY-MM-DD)", "time": "a time (HH:MM)", "datetime": "a date and time"}


def _clean_temporal(ff: FormField, value: Any, path: str, errors: Errors) -> str | None:
    """date, time and datetime, stored in ISO 8601."""
    parsed = None
    if isinstance(value, str):
        try:
            parsed = _TEMPORAL_PARSERS[ff.type](value.strip())
        except ValueError:
            parsed = None
    if isinstance(parsed, date) and not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:  # a date or datetime
        parsed = None
    if parsed is None:
        errors.add(path, "INVALID", f"{ff.label} must be {_TEMPORAL_KINDS[ff.type]}.")
        return None
    return parsed.isoformat()


def _clean_select(ff: FormField, value: Any, path: str, errors: Errors) -> str | None:
    if not isinstance(value, str) or value not in ff.options:
        errors.add(path, "INVALID_CHOICE", f"{ff.label}: choose one of {', '.join(map(str, ff.options))}.")
        return None
    return value


def _clean_multiselect(ff: FormField, value: Any, path: str, errors: Errors) -> list[str] | None:
    values = value if isinstance(value, list) else [value]
    bad = [v for v in values if not isinstance(v, str) or v not in ff.options]
    if bad:
        errors.add(path, "INVALID_CHOICE", f"{ff.label}: choose from {', '.join(map(str, ff.options))}.")
        return None
    return list(dict.fromkeys(values))


# A checkbox is cleaned before the blank check (unchecked is an answer): see _clean_custom.
_CLEANERS: dict[str, Callable[[FormField, Any, str, Errors], Any]] = {
    FieldType.TEXT: _clean_text_answer,
    FieldType.TEXTAREA: _clean_text_answer,
    FieldType.PHONE: _clean_text_answer,
    FieldType.EMAIL: _clean_text_answer,
    FieldType.URL: _clean_text_answer,
    FieldType.NUMBER: _clean_number,
    FieldType.DATE: _clean_temporal,
    FieldType.TIME: _clean_temporal,
    FieldType.DATETIME: _clean_temporal,
    FieldType.SELECT: _clean_select,
    FieldType.MULTISELECT: _clean_multiselect,
}


def clean_email(text: str, path: str, label: str, errors: Errors) -> str | None:
    try:
        EmailValidator()(text)
    except ValidationError:
        errors.add(path, "INVALID", f"{label} must be an email address.")
        return None
    return text.lower()


def _custom_fields(module: BookingModule, section: str, errors: Errors) -> tuple[dict[str, FormField], set[str]]:
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


def clean_custom_answers(
    module: BookingModule, section: str, raw: dict[str, Any], builtins: set[str], prefix: str, errors: Errors
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


# --- the contact section, the booking's title and note -------------------------------------------------


def clean_contact(module: BookingModule, raw: Any, errors: Errors) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.add("contact", "INVALID", "The contact answers must be an object.")
        return {}
    contact: dict[str, Any] = {}
    name = raw.get("name")
    if is_blank(name):
        errors.add("contact.name", "REQUIRED", "Your name is required.")
    else:
        contact["name"] = clean_text(name, "contact.name", "Name", errors, limit=200, one_line=True, required=True)
    email = raw.get("email")
    if is_blank(email):
        errors.add("contact.email", "REQUIRED", "Your email address is required.")
    else:
        text = clean_text(email, "contact.email", "Email", errors, limit=254, required=True)
        if text is not None:
            contact["email"] = clean_email(text, "contact.email", "Email", errors)
    phone = raw.get("phone")
    # Blank is "" or spaces only (the schema's pattern): other white space is checked, and refused.
    if not (phone is None or (isinstance(phone, str) and not phone.strip(" "))):
        text = clean_text(phone, "contact.phone", "Phone", errors, limit=50)
        if text is not None and not PHONE_RE.match(str(phone)):
            errors.add("contact.phone", "INVALID", "Phone must be a phone number.")
        contact["phone"] = text
    contact.update(clean_custom_answers(module, "contact", raw, CONTACT_BUILTINS, "contact", errors))
    return contact


def clean_title(value: Any) -> str | None:
    """The booking's own title (optional; it defaults to the first event's)."""
    if value in (None, ""):
        return None
    errors = Errors()
    text = clean_text(value, "title", "Title", errors, limit=300, one_line=True)
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
    errors = Errors()
    cleaned = clean_contact(module, contact if contact is not None else {}, errors)
    if errors.items:
        raise ValidationFailed(errors=errors.items)
    return cleaned
