"""Serializer fields the API shares: plain text that can carry no markup, HTML that is sanitized on save,
datetimes whose naive form means the venue's wall clock, and decimals (money) as strings."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import django_filters
from django import forms as django_forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.html import plain_text

UUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Datetimes outside these years are refused: nothing is booked there, and buffers and yearly closures
# added to them must not overflow Python's datetime.
MIN_YEAR, MAX_YEAR = 1900, 2999


def _encodable(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates: no database can store them
        raise serializers.ValidationError("The text is not valid Unicode.", code="invalid") from exc


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
    """A query parameter sent empty (`?orgId=`) is an error, not "no filter": leave it out instead."""

    def is_valid(self) -> bool:
        valid = bool(super().is_valid())
        for name in self.filters:
            if name in self.data and any(value == "" for value in self.data.getlist(name)):
                self.form.add_error(name, DjangoValidationError("Leave it out rather than empty.", code="blank"))
                valid = False
        return valid


class _BooleanFormField(django_forms.NullBooleanField):
    widget = django_forms.TextInput  # the default select widget reads anything unknown as "not given"

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]
        if value in (None, ""):
            return None
        if value in (True, "true", "True", "1"):
            return True
        if value in (False, "false", "False", "0"):
            return False
        raise DjangoValidationError("Use true or false.", code="invalid")


class BooleanFilter(django_filters.BooleanFilter):  # type: ignore[misc]  # django-filter is untyped
    """true or false; anything else is an error rather than "no filter"."""

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


CLOCK_TIME = r"^([01]\d|2[0-3]):[0-5]\d$"


@extend_schema_field({"type": "string", "pattern": CLOCK_TIME, "example": "09:30"})
class ClockTimeField(serializers.TimeField):
    """A wall-clock time "HH:MM" (24 hours, two digits each), nothing else."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(CLOCK_TIME, value):
            self.fail("invalid", format='"HH:MM"')
        return super().to_internal_value(value)
