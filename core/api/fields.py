"""Serializer fields the API shares: plain text that can carry no markup, HTML that is sanitized on save,
and datetimes whose naive form means the venue's wall clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import django_filters
from django import forms as django_forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
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
