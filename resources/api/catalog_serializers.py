"""Shapes of a resource's units, rates and products on the wire (docs/architecture.md#http-api-conventions):
camelCase keys, money as decimal strings in the organization's currency (read-only), enums as integers.
Request serializers check shape only; resources.catalog checks meaning. The rate endpoint is the bookings app's
(bookings.api.pricing_serializers): a rate's `customerIds` are customers, which live there."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.fields import (
    BooleanField,
    ClockTimeField,
    IntegerChoiceField,
    PlainTextField,
    PriceField,
    UUIDField,
)
from resources.models import ProductUnit, RateUnit

MAX_ORDER = 2_147_483_647
MAX_MINUTES = 366 * 24 * 60  # a year, as the resources' booking rules


class CurrencyField(serializers.CharField):
    """The organization's currency (ISO 4217), read-only: every price is in it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("source", "resource.venue.organization.currency")
        super().__init__(read_only=True, help_text="The organization's currency (ISO 4217); read-only.", **kwargs)


# --- units --------------------------------------------------------------------------------------------


class UnitSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    resourceId = serializers.UUIDField(source="resource_id", read_only=True)
    name = serializers.CharField(read_only=True)
    order = serializers.IntegerField(read_only=True, help_text="Units are assigned lowest first.")
    archived = serializers.BooleanField(read_only=True, help_text="Takes no new bookings; keeps its past ones.")
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


class UnitWriteSerializer(UnitSerializer):
    """Create (resourceId and name required) and PATCH (everything optional; the resource is fixed). The
    representation's read-only fields may be sent back as read; they are ignored."""

    resourceId = UUIDField(source="resource_id", help_text="A resource the unit belongs to; fixed once created.")
    name = PlainTextField(max_length=100, help_text="Unique in the resource.")
    order = serializers.IntegerField(min_value=0, max_value=MAX_ORDER, required=False)
    archived = BooleanField(required=False)


# --- rates ----------------------------------------------------------------------------------------------


class ResourceRateSerializer(serializers.Serializer):
    """A rate as its resource lists it; GET /rates adds whom it is reserved for (`customerIds`)."""

    id = serializers.UUIDField(read_only=True)
    resourceId = serializers.UUIDField(source="resource_id", read_only=True)
    name = serializers.CharField(read_only=True)
    unit = IntegerChoiceField(choices=RateUnit.choices, read_only=True, help_text="0 HOUR, 1 DAY, 2 BOOKING.")
    price = PriceField(read_only=True, help_text="Per unit, in `currency`.")
    currency = CurrencyField()
    weekdays = serializers.ListField(
        child=serializers.IntegerField(), source="weekday_list", read_only=True, help_text="0 Monday … 6 Sunday."
    )
    startTime = ClockTimeField(source="start_time", read_only=True, allow_null=True, help_text='"HH:MM" venue-local.')
    endTime = ClockTimeField(
        source="end_time", read_only=True, allow_null=True, help_text='"HH:MM" venue-local; "00:00" is midnight.'
    )
    minMinutes = serializers.IntegerField(source="min_minutes", read_only=True, allow_null=True)
    maxMinutes = serializers.IntegerField(source="max_minutes", read_only=True, allow_null=True)
    active = serializers.BooleanField(read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


# --- products -------------------------------------------------------------------------------------------


class ProductSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    resourceId = serializers.UUIDField(source="resource_id", read_only=True)
    name = serializers.CharField(read_only=True)
    unitPrice = PriceField(source="unit_price", read_only=True, help_text="In `currency`, per use or per minute.")
    unit = IntegerChoiceField(
        choices=ProductUnit.choices, read_only=True, help_text="0 PER_USE, 1 PER_MINUTE (of the booking)."
    )
    currency = CurrencyField()
    active = serializers.BooleanField(read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


class ProductWriteSerializer(ProductSerializer):
    """Create (resourceId, name and unitPrice required) and PATCH (everything optional; the resource is fixed).
    The representation's read-only fields may be sent back as read; they are ignored."""

    resourceId = UUIDField(source="resource_id", help_text="The resource it is added to; fixed once created.")
    name = PlainTextField(max_length=200)
    unitPrice = PriceField(source="unit_price", help_text="In the organization's currency.")
    unit = IntegerChoiceField(
        choices=ProductUnit.choices, required=False, help_text="0 PER_USE (default), 1 PER_MINUTE (of the booking)."
    )
    active = BooleanField(required=False)
