"""Serializer fields the API shares: plain text that can carry no markup, HTML that is sanitized on save,
datetimes whose naive form means the venue's wall clock, and decimals (money) as strings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from decimal import ROUND_DOWN, Decimal
from typing import Any
from uuid import UUID

import django_filters
from django import forms as django_forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.html import plain_text

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Datetimes outside these years are refused: nothing is booked there, and buffers and yearly closures
# added to them must not overflow Python's datetime.
MIN_YEAR, MAX_YEAR = 1900, 2999
# The same years in the OpenAPI schema: an ISO 8601 datetime whose year is 1900-2999 (docs/architecture.md#
# http-api-conventions). JSON Schema has no bound on a date's year, so a pattern says it.
MOMENT_PATTERN = r"^(19[0-9]{2}|2[0-9]{3})-"
MOMENT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": MOMENT_PATTERN,
    "description": f"ISO 8601, a year from {MIN_YEAR} to {MAX_YEAR}.",
}


def _encodable(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: no database can store them
        raise serializers.ValidationError("The text is not valid Unicode.", code="invalid") from exc


# Text with no NUL: DRF refuses NUL in every text field (no database stores it). "+", not "*": with
# allow_blank the schema adds "" as its own alternative of a oneOf, which "" must not match twice.
NO_NUL_PATTERN = r"^[^\x00]+$"
# ... and, where DRF trims the text and refuses it blank, something that is not white space (as Python's
# str.strip() sees it: the schema's \s, plus \x1c-\x1f and \x85).
NOT_BLANK_PATTERN = r"^[^\x00]*[^\s\x00\x1c-\x1f\x85][^\x00]*$"


class TextSchema(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]  # drf-spectacular's registration hook
    """The request schema of every text field says that it refuses NUL (a pattern), unless the field has a
    format, an enum or a pattern of its own (each of which leaves NUL out already)."""

    target_class = serializers.CharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> Any:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        own_pattern = any(isinstance(v, RegexValidator) for v in self.target.validators)
        if direction == "request" and not own_pattern and not {"pattern", "format", "enum"} & schema.keys():
            blank_refused = self.target.trim_whitespace and not self.target.allow_blank
            schema["pattern"] = NOT_BLANK_PATTERN if blank_refused else NO_NUL_PATTERN
        return schema


class TextField(serializers.CharField):
    """Text that any database can store (no NUL, no lone surrogates)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(_encodable)


class PlainTextField(TextField):
    """Text without markup: tags are stripped, so nothing executable ever comes back."""

    def to_internal_value(self, data: Any) -> str:
        value = plain_text(super().to_internal_value(data))
        value = value.strip() if self.trim_whitespace else value
        if value == "" and not self.allow_blank:
            self.fail("blank")
        return value


class HtmlField(TextField):
    """Basic HTML (p, br, strong, em, lists, links), sanitized when saved; the response shows the result."""


# A page cursor: the nextCursor of the previous page, never empty.
# A page's nextCursor: base64url without padding (CursorField refuses anything else).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
CURSOR_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 500, "pattern": CURSOR_PATTERN}


@extend_schema_field({k: v for k, v in MOMENT_SCHEMA.items() if k != "description"})
class MomentField(serializers.DateTimeField):
    """ISO 8601. With an offset it is converted to UTC; without one it is wall-clock time in the venue's
    timezone (`context["tz"]` when the caller knows it, else left naive for the service to place)."""

    default_error_messages = {"out_of_range": f"Use a year from {MIN_YEAR} to {MAX_YEAR}."}

    def enforce_timezone(self, value: datetime) -> datetime:
        if not (MIN_YEAR <= value.year <= MAX_YEAR):
            self.fail("out_of_range")
        if timezone.is_naive(value):
            tz = self.context.get("tz")
            return value if tz is None else value.replace(tzinfo=tz)
        return super().enforce_timezone(value)


@extend_schema_field(
    {
        "type": "string",
        "format": "date",
        "pattern": MOMENT_PATTERN,
        "description": f"A date (YYYY-MM-DD), a year from {MIN_YEAR} to {MAX_YEAR}.",
    }
)
class DayField(serializers.DateField):
    """A calendar date, in the years a MomentField takes (a day's local midnight must not overflow)."""

    default_error_messages = {"out_of_range": f"Use a year from {MIN_YEAR} to {MAX_YEAR}."}

    def to_internal_value(self, value: Any) -> Any:
        day = super().to_internal_value(value)
        if not (MIN_YEAR <= day.year <= MAX_YEAR):
            self.fail("out_of_range")
        return day


class RoundedDecimalField(serializers.DecimalField):
    """A JSON number cut to `decimal_places` (toward zero) rather than refused for its extra digits: the schema
    (a number between the field's bounds) cannot say how many decimals a number has, so every number it
    allows is taken (DRF would refuse 1.00001 for four decimal places)."""

    def validate_precision(self, value: Decimal) -> Decimal:
        places, digits = self.decimal_places, self.max_digits
        if places is not None and digits is not None and value.is_finite() and abs(value) < 10 ** (digits - places):
            value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
        validated: Decimal = super().validate_precision(value)
        return validated


# An amount of money in a request: a JSON number, or a decimal string with at most 4 decimals (as responses
# write amounts). MAX_AMOUNT is the largest amount 14 digits with 4 decimals hold.
MAX_AMOUNT = Decimal("9999999999.9999")
AMOUNT_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,4})?$"
AMOUNT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "number", "minimum": 0, "maximum": float(MAX_AMOUNT)},
        {"type": "string", "pattern": AMOUNT_PATTERN},
    ]
}


@extend_schema_field(AMOUNT_SCHEMA)
class AmountField(RoundedDecimalField):
    """An amount of at least 0: a JSON number (cut to 4 decimals) or a decimal string ("12.50")."""

    json_check = (
        "a number or a decimal string",
        lambda v: isinstance(v, int | float | str) and not isinstance(v, bool),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=14, decimal_places=4, min_value=0, max_value=MAX_AMOUNT, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, str) and not re.fullmatch(AMOUNT_PATTERN, data):
            self.fail("invalid")
        value: Decimal = super().to_internal_value(data)
        return value


# A wall-clock time of day, "HH:MM" (00:00-23:59).
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


@extend_schema_field({"type": "string", "pattern": CLOCK_PATTERN, "example": "09:00"})
class ClockTimeField(serializers.TimeField):
    """ "HH:MM" exactly, as the schema's pattern says (strptime alone would also read "9:5")."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)

    def to_internal_value(self, value: Any) -> time:
        if not isinstance(value, str) or not re.fullmatch(CLOCK_PATTERN, value):
            self.fail("invalid", format="hh:mm")
        return super().to_internal_value(value)


class UUIDField(serializers.UUIDField):
    """A UUID as a string only (DRF would also read integers and turn 12 into a UUID)."""

    def to_internal_value(self, data: Any) -> UUID:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


def _indexed(detail: Any) -> Any:
    """DRF reports list items' errors as {index: errors}; as a list they read `field[1].name` on the wire."""
    if isinstance(detail, dict) and detail and all(isinstance(key, int) for key in detail):
        return [detail.get(index, {}) for index in range(max(detail) + 1)]
    return detail


class ListField(serializers.ListField):
    """A list whose item errors name their index: `resourceIds[1]`."""

    def to_internal_value(self, data: Any) -> list[Any]:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(_indexed(exc.detail)) from exc


class IndexedListSerializer(serializers.ListSerializer[Any]):
    """`many=True` with item errors that name their index: `bookableHours[1].end`."""

    def to_internal_value(self, data: Any) -> list[Any]:
        try:
            items: list[Any] = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(_indexed(exc.detail)) from exc
        return items


class _MomentFormField(django_filters.fields.IsoDateTimeField):  # type: ignore[misc]  # django-filter is untyped
    """django-filter's ISO 8601 field, refusing years it cannot convert instead of overflowing (a 500)."""

    def to_python(self, value: Any) -> datetime | None:
        try:
            parsed: datetime | None = super().to_python(value)
        except OverflowError:
            parsed = datetime.min
        if parsed is None:
            return None
        if not (MIN_YEAR <= parsed.year <= MAX_YEAR):
            raise DjangoValidationError(f"Use a year from {MIN_YEAR} to {MAX_YEAR}.", code="invalid")
        return parsed.astimezone(UTC)  # PostgreSQL refuses offsets beyond ±15:59, Python allows up to ±23:59


@extend_schema_field(MOMENT_SCHEMA)
class MomentFilter(django_filters.IsoDateTimeFilter):  # type: ignore[misc]  # django-filter is untyped
    """A datetime query parameter (ISO 8601; without an offset: UTC)."""

    field_class = _MomentFormField


class BooleanField(serializers.BooleanField):
    """JSON true or false only (DRF would also read "yes", 1, "on" and the like)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictFilterSet(django_filters.FilterSet):  # type: ignore[misc]  # django-filter is untyped
    """A query parameter sent empty (`?orgId=`) is an error, not "no filter": leave it out instead (the
    schema's UUID, datetime, enum and boolean parameters have no empty value)."""

    def is_valid(self) -> bool:
        valid = bool(super().is_valid())
        for name in self.filters:
            if name in self.data and any(value == "" for value in self.data.getlist(name)):
                self.form.add_error(name, DjangoValidationError("Leave it out rather than empty.", code="blank"))
                valid = False
        return valid


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 254, "pattern": NO_NUL_PATTERN})
class TextFilter(django_filters.CharFilter):  # type: ignore[misc]  # django-filter is untyped
    """A text query parameter: never empty (StrictFilterSet), no NUL (Django's form field refuses it), at
    most 254 characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=254, **kwargs)


class _BooleanFormField(django_forms.NullBooleanField):
    widget = django_forms.TextInput  # the default select widget reads anything unknown as "not given"

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        if value in (None, ""):
            return None
        if value in (True, "true"):
            return True
        if value in (False, "false"):
            return False
        raise DjangoValidationError("Use true or false.", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):  # type: ignore[misc]  # django-filter is untyped
    """true or false, as the schema's boolean query parameters are written; anything else (1, yes, True)
    is an error rather than "no filter"."""

    field_class = _BooleanFormField


# --- decimals as strings (money, percentages) ------------------------------------------------------------
# A JSON number may have lost digits before we read it, so money is a string on the wire (docs/architecture.md
# #http-api-conventions). Each field's pattern says exactly what it accepts, in the schema and here: no
# exponent, sign or leading zero, at most 10 whole digits and the field's decimals.
NOT_NEGATIVE = r"^(0|[1-9]\d{0,9})(\.\d{1,4})?$"
POSITIVE = r"^([1-9]\d{0,9}(\.\d{1,4})?|0\.([1-9]\d{0,3}|0[1-9]\d{0,2}|00[1-9]\d?|000[1-9]))$"
SIGNED = r"^-?(0|[1-9]\d{0,9})(\.\d{1,4})?$"
PERCENTAGE = r"^(100(\.0{1,2})?|[1-9]\d?(\.\d{1,2})?|0\.([1-9]\d?|0[1-9]))$"


class DecimalStringField(serializers.DecimalField):
    """A decimal as a string matching `pattern`; written back with at least two decimals ("12.50", "0.1234")."""

    pattern = NOT_NEGATIVE
    description = "A decimal string, at least 0, with at most 4 decimals."
    # Its JSON type for core.api.json_types: a string only (a JSON number may have lost digits already).
    json_check = ("a decimal string", lambda v: isinstance(v, str))

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("help_text", self.description)
        super().__init__(coerce_to_string=True, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not re.fullmatch(self.pattern, data):
            self.fail("invalid")
        value: Decimal = super().to_internal_value(data)
        return value

    def to_representation(self, value: Any) -> str:
        number = Decimal(value).normalize()
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent > -2:
            number = number.quantize(Decimal("0.01"))
        return f"{number:f}"


def _decimal_schema(pattern: str) -> dict[str, Any]:
    return {"type": "string", "format": "decimal", "pattern": pattern}


@extend_schema_field(_decimal_schema(NOT_NEGATIVE))
class PriceField(DecimalStringField):
    """An amount of money of at least 0 ("12.50"), or a unit price (up to 4 decimals)."""


@extend_schema_field(_decimal_schema(POSITIVE))
class PositiveAmountField(DecimalStringField):
    pattern = POSITIVE
    description = "A decimal string, more than 0, with at most 4 decimals."


@extend_schema_field(_decimal_schema(SIGNED))
class SignedAmountField(DecimalStringField):
    pattern = SIGNED
    description = "A decimal string, negative to take away, with at most 4 decimals."


@extend_schema_field(_decimal_schema(PERCENTAGE))
class PercentageField(DecimalStringField):
    pattern = PERCENTAGE
    description = 'A decimal string, more than 0 and at most 100, with at most 2 decimals ("12.5").'

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=5, decimal_places=2, **kwargs)


class IntegerChoiceField(serializers.ChoiceField):
    """An enum that is an integer on the wire: a JSON integer only (DRF would also read "1" and true)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class QueryBooleanField(serializers.BooleanField):
    """A boolean query parameter: `true` or `false` only, as the schema writes them (DRF would also read
    1, yes, on, t and the like)."""

    def to_internal_value(self, data: Any) -> bool:
        if data in (True, "true"):
            return True
        if data in (False, "false"):
            return False
        self.fail("invalid", input=data)


class StrictQuerySerializer(serializers.Serializer[Any]):
    """The query parameters of an endpoint: one sent empty (`?cursor=`, `?limit=`) is an error at it, as in
    the filter sets (StrictFilterSet); DRF would read it as "not given"."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "getlist"):
            empty = [str(name) for name in self.fields if name in data and "" in data.getlist(name)]
            if empty:
                raise serializers.ValidationError(
                    {name: serializers.ErrorDetail("Leave it out rather than empty.", code="blank") for name in empty}
                )
        return super().to_internal_value(data)


class CursorField(serializers.CharField):
    """`?cursor=`: the nextCursor of a previous page, which is base64url without padding. Anything else is 400
    INVALID at it (the schema's pattern); a well-formed cursor that names no page is refused by its view."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "nextCursor of the previous page.")
        super().__init__(required=False, max_length=500, trim_whitespace=False, **kwargs)
        # \Z rather than $: Python's $ also matches before a trailing newline
        whole = rf"{CURSOR_PATTERN.removesuffix('$')}\Z"
        self.validators.append(RegexValidator(whole, "Not a cursor this API gave.", code="invalid"))
