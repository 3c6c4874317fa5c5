"""Shapes of the venue and resource endpoints: camelCase on the wire, model names through `source`.
Request serializers check shape only; resources.services checks meaning."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.fields import (
    BooleanField,
    ClockTimeField,
    HtmlField,
    IndexedListSerializer,
    PlainTextField,
    TextField,
    UUIDField,
)
from resources.models import ResourceKind
from resources.services import HoursSpec

from .catalog_serializers import ProductSerializer, ResourceRateSerializer

MAX_MINUTES = 366 * 24 * 60  # a year: rules beyond that mean nothing and would overflow datetimes
MAX_BUFFER_MINUTES = 30 * 24 * 60
MAX_ADVANCE_DAYS = 10 * 366
MAX_CAPACITY = 1_000_000


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_iana(value: str) -> None:
    if value and value not in _zones():
        raise serializers.ValidationError(f"{value!r} is not an IANA time zone (like Europe/London).", code="invalid")


# The schema lists the names the server takes (Python's zoneinfo database): one component, TimezoneEnum.
@extend_schema_field({"type": "string", "enum": ["", *sorted(_zones())]})
class TimezoneField(TextField):
    """An IANA time zone name, or "" (the organization's)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validators=[validate_iana], **kwargs)


# --- venues ---------------------------------------------------------------------------------------


class VenueSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    orgId = serializers.UUIDField(source="organization_id", read_only=True)
    name = serializers.CharField(read_only=True)
    address = serializers.CharField(read_only=True)
    timezone = serializers.CharField(
        source="tz.key", read_only=True, help_text="The venue's IANA timezone (the organization's unless set)."
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


class VenueUpdateSerializer(serializers.Serializer):
    # Sent back as read, the representation's other fields are ignored (core.api.strict).
    representation_class = VenueSerializer

    name = PlainTextField(max_length=200)
    address = PlainTextField(max_length=2000, required=False, allow_blank=True, trim_whitespace=True)
    timezone = TimezoneField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text='IANA timezone, e.g. "Europe/London"; "" follows the organization.',
    )


class VenueCreateSerializer(VenueUpdateSerializer):
    orgId = UUIDField(source="organization_id")


# --- resources ------------------------------------------------------------------------------------


class BookableHoursSerializer(serializers.Serializer):
    class Meta:
        list_serializer_class = IndexedListSerializer

    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 Monday … 6 Sunday.")
    start = ClockTimeField(source="start_time", help_text='"HH:MM", venue-local.')
    end = ClockTimeField(
        source="end_time", help_text='"HH:MM", venue-local; "00:00" is midnight at the end of the day.'
    )

    def to_internal_value(self, data):
        # Every window is whole, in a PATCH too (the list replaces the current one): DRF's partial update
        # would let a key of each item be left out (a KeyError further on, a 500).
        values = super().to_internal_value(data)
        missing = {name: field for name, field in self.fields.items() if field.source not in values}
        if missing:
            raise serializers.ValidationError(
                {name: serializers.ErrorDetail("This field is required.", code="required") for name in missing}
            )
        return values


class ResourceUnitSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    order = serializers.IntegerField(read_only=True, help_text="Units are assigned lowest first.")
    archived = serializers.BooleanField(read_only=True, help_text="Takes no new bookings.")


class ResourceSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    venueId = serializers.UUIDField(source="venue_id", read_only=True)
    orgId = serializers.UUIDField(source="venue.organization_id", read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=ResourceKind.choices, read_only=True)
    description = serializers.CharField(read_only=True, help_text="Sanitized HTML.")
    capacity = serializers.IntegerField(read_only=True)
    exclusive = serializers.BooleanField(read_only=True)
    requiresApproval = serializers.BooleanField(source="requires_approval", read_only=True)
    archived = serializers.BooleanField(read_only=True)
    minDurationMinutes = serializers.IntegerField(source="min_duration_minutes", read_only=True, allow_null=True)
    maxDurationMinutes = serializers.IntegerField(source="max_duration_minutes", read_only=True, allow_null=True)
    minNoticeMinutes = serializers.IntegerField(source="min_notice_minutes", read_only=True)
    maxAdvanceDays = serializers.IntegerField(source="max_advance_days", read_only=True, allow_null=True)
    bufferMinutes = serializers.IntegerField(source="buffer_minutes", read_only=True)
    bookableHours = BookableHoursSerializer(source="bookable_hours.all", many=True, read_only=True)
    units = ResourceUnitSerializer(
        source="units.all",
        many=True,
        read_only=True,
        help_text="Named units (desks, seats), each taking one booking at a time; with "
        "active units, at most min(capacity, active units) bookings overlap. "
        "A request may name one (`unitId`); else the first free is assigned. "
        "Written at /units.",
    )
    rates = ResourceRateSerializer(
        source="active_rates",
        many=True,
        read_only=True,
        help_text="Its active rates (a request may name one as `rateId`), those reserved for customers "
        "included; GET /rates says for whom (`customerIds`). Written at /rates.",
    )
    products = ProductSerializer(
        source="active_products",
        many=True,
        read_only=True,
        help_text="Its active products (a request adds them as `products: [{productId, quantity}]`). "
        "Written at /products.",
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


class ResourceWriteSerializer(serializers.Serializer):
    """Create (venueId and name required) and PATCH (everything optional; bookableHours replaces all)."""

    # Sent back as read, the representation's other fields are ignored (core.api.strict).
    representation_class = ResourceSerializer

    venueId = UUIDField(source="venue_id", help_text="A venue of the same organization.")
    name = PlainTextField(max_length=200)
    kind = serializers.ChoiceField(choices=ResourceKind.choices, required=False)
    description = HtmlField(max_length=20000, required=False, allow_blank=True, help_text="Basic HTML, sanitized.")
    capacity = serializers.IntegerField(min_value=1, max_value=MAX_CAPACITY, required=False)
    exclusive = BooleanField(required=False, help_text="At most one booking at a time; false: up to capacity.")
    requiresApproval = BooleanField(source="requires_approval", required=False)
    archived = BooleanField(required=False)
    minDurationMinutes = serializers.IntegerField(
        source="min_duration_minutes", min_value=1, max_value=MAX_MINUTES, required=False, allow_null=True
    )
    maxDurationMinutes = serializers.IntegerField(
        source="max_duration_minutes", min_value=1, max_value=MAX_MINUTES, required=False, allow_null=True
    )
    minNoticeMinutes = serializers.IntegerField(
        source="min_notice_minutes", min_value=0, max_value=MAX_MINUTES, required=False
    )
    maxAdvanceDays = serializers.IntegerField(
        source="max_advance_days", min_value=0, max_value=MAX_ADVANCE_DAYS, required=False, allow_null=True
    )
    bufferMinutes = serializers.IntegerField(
        source="buffer_minutes",
        min_value=0,
        max_value=MAX_BUFFER_MINUTES,
        required=False,
        help_text="Kept free after each booking.",
    )
    # many=True hands max_length to the ListSerializer (the stubs know only the child's arguments).
    bookableHours = BookableHoursSerializer(
        source="bookable_hours",
        many=True,
        required=False,  # type: ignore[call-arg]
        max_length=200,
        help_text="Weekly windows; [] or absent on create: always bookable. "
        "On PATCH the list replaces the current one.",
    )

    @staticmethod
    def hours(data: dict) -> list[HoursSpec] | None:
        """Pop the bookable hours out of validated data (None when not sent)."""
        raw = data.pop("bookable_hours", None)
        if raw is None:
            return None
        return [HoursSpec(weekday=h["weekday"], start=h["start_time"], end=h["end_time"]) for h in raw]
