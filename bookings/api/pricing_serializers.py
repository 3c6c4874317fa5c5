"""Wire shapes of rates (with the customers they are reserved for), discount codes and booking credits
(docs/architecture.md#http-api-conventions, docs/architecture.md#prices): camelCase keys, money and percentages as
decimal strings, `currency` read-only (the organization's). Request serializers check shape only; the services
(resources.catalog, bookings.pricing.config) check meaning."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.constraints import Constrained
from core.api.fields import (
    BooleanField,
    ClockTimeField,
    IntegerChoiceField,
    ListField,
    MomentField,
    PercentageField,
    PlainTextField,
    PositiveAmountField,
    PriceField,
    SignedAmountField,
    UUIDField,
)
from resources.api.catalog_serializers import MAX_MINUTES, CurrencyField, ResourceRateSerializer
from resources.models import RateUnit

MAX_INT32 = 2_147_483_647
MAX_IDS = 500


@extend_schema_field({"type": "array", "items": {"type": "string", "format": "uuid"}})
class IdsField(serializers.Field):
    """The ids of the related rows (a prefetched manager), or of the given `attribute` of each."""

    def __init__(self, attribute: str = "pk", **kwargs: Any) -> None:
        self.attribute = attribute
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, manager: Any) -> list[str]:
        return [str(getattr(row, self.attribute)) for row in manager.all()]


def id_list(help_text: str) -> ListField:
    return ListField(child=UUIDField(), max_length=MAX_IDS, required=False, help_text=help_text)


# --- rates -------------------------------------------------------------------------------------------------


class RateSerializer(ResourceRateSerializer):
    """A price of a resource, per hour, day or booking, in the organization's currency."""

    customerIds: serializers.Field = IdsField(  # the write serializer's is a list of ids
        source="customer_links",
        attribute="customer_id",
        help_text="The customers it is reserved for; none: for everyone (public requests see only those).",
    )


def given(key: str) -> dict[str, Any]:
    """JSON Schema: `key` is in the body and not null (its values are strings)."""
    return {"required": [key], "properties": {key: {"type": "string"}}}


def exactly_one(first: str, second: str) -> dict[str, Any]:
    return {"oneOf": [given(first), given(second)]}


def constraints(*rules: dict[str, Any]) -> dict[str, Any]:
    """Rules between keys under allOf, beside the object's own properties: a client generator merges an allOf
    into the one model, where a oneOf at the top would make it a union of two models."""
    return {"allOf": list(rules)}


class RateWriteSerializer(Constrained, RateSerializer):
    """Create (resourceId, name and price required) and PATCH (everything optional; the resource is fixed).
    The representation's read-only fields may be sent back as read; they are ignored."""

    resourceId = UUIDField(source="resource_id", help_text="The resource it prices; fixed once created.")
    name = PlainTextField(max_length=200)
    unit = IntegerChoiceField(choices=RateUnit.choices, required=False, help_text="0 HOUR (default), 1 DAY, 2 BOOKING.")
    price = PriceField(help_text="Per unit, in the organization's currency.")
    weekdays = ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        max_length=7,
        required=False,
        help_text="The local weekdays it applies on, 0 Monday … 6 Sunday; default all.",
    )
    startTime = ClockTimeField(
        source="start_time", required=False, allow_null=True, help_text='"HH:MM" venue-local; with endTime or neither.'
    )
    endTime = ClockTimeField(
        source="end_time",
        required=False,
        allow_null=True,
        help_text='"HH:MM" venue-local, after startTime ("00:00" is midnight at the end of the day).',
    )
    minMinutes = serializers.IntegerField(
        source="min_minutes", min_value=0, max_value=MAX_MINUTES, required=False, allow_null=True
    )
    maxMinutes = serializers.IntegerField(
        source="max_minutes", min_value=0, max_value=MAX_MINUTES, required=False, allow_null=True
    )
    active = BooleanField(required=False)
    customerIds = ListField(
        source="customer_ids",
        child=UUIDField(),
        max_length=MAX_IDS,
        required=False,
        help_text="Customers of the organization it is reserved for; [] or absent: everyone. On PATCH the list "
        "replaces the current one.",
    )

    @classmethod
    def request_constraints(cls) -> dict[str, Any]:
        """A time window has both ends or neither (all day)."""
        return {"not": {"oneOf": [given("startTime"), given("endTime")]}}

    @classmethod
    def patch_constraints(cls) -> dict[str, Any]:
        """Both ends given: both times or both null. One end alone moves that end of the stored window."""
        return {"not": {"allOf": [{"required": ["startTime", "endTime"]}, exactly_one("startTime", "endTime")]}}


# --- discount codes ----------------------------------------------------------------------------------------


class DiscountCodeSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    orgId = serializers.UUIDField(source="organization_id", read_only=True)
    code = serializers.CharField(read_only=True, help_text="What bookers type; letter case does not matter.")
    description = serializers.CharField(read_only=True)
    percentage = PercentageField(read_only=True, allow_null=True, help_text="Percent off; null for a fixed amount.")
    amount = PositiveAmountField(
        read_only=True, allow_null=True, help_text="Fixed amount off one booking, in `currency`; null for a percentage."
    )
    currency = CurrencyField(source="organization.currency")
    validFrom = serializers.DateTimeField(source="valid_from", read_only=True, allow_null=True)
    validUntil = serializers.DateTimeField(source="valid_until", read_only=True, allow_null=True)
    maxUsesTotal = serializers.IntegerField(source="max_uses_total", read_only=True, allow_null=True)
    maxUsesPerContact = serializers.IntegerField(source="max_uses_per_contact", read_only=True, allow_null=True)
    resourceIds: serializers.Field = IdsField(
        source="resources", help_text="The resources it applies to; none: every resource."
    )
    active = serializers.BooleanField(read_only=True)
    usesCount = serializers.IntegerField(
        source="uses_count", read_only=True, help_text="Uses counted so far (one per approved booking)."
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


class DiscountCodeWriteSerializer(Constrained, DiscountCodeSerializer):
    """Create (orgId and code required, and one of percentage and amount) and PATCH (everything optional; the
    organization is fixed). A code is unique in its organization, whatever its letter case (400 NOT_UNIQUE).
    The representation's read-only fields (usesCount, ...) may be sent back as read; they are ignored."""

    orgId = UUIDField(source="organization_id", help_text="Fixed once created.")
    code = PlainTextField(max_length=40)
    description = PlainTextField(max_length=200, allow_blank=True, required=False)
    percentage = PercentageField(
        required=False,
        allow_null=True,
        help_text="Either this or amount, not both. A PATCH with this alone clears amount.",
    )
    amount = PositiveAmountField(
        required=False,
        allow_null=True,
        help_text="Fixed amount off one booking; either this or percentage. A PATCH with this alone clears percentage.",
    )
    validFrom = MomentField(source="valid_from", required=False, allow_null=True, help_text="Without offset: UTC.")
    validUntil = MomentField(
        source="valid_until", required=False, allow_null=True, help_text="After validFrom; without offset: UTC."
    )
    maxUsesTotal = serializers.IntegerField(
        source="max_uses_total", min_value=1, max_value=MAX_INT32, required=False, allow_null=True
    )
    maxUsesPerContact = serializers.IntegerField(
        source="max_uses_per_contact", min_value=1, max_value=MAX_INT32, required=False, allow_null=True
    )
    resourceIds = ListField(
        source="resource_ids",
        child=UUIDField(),
        max_length=MAX_IDS,
        required=False,
        help_text="Resources of the organization; [] or absent: every resource. On PATCH the list replaces it.",
    )
    active = BooleanField(required=False)

    @classmethod
    def request_constraints(cls) -> dict[str, Any]:
        """A percentage or a fixed amount, exactly one."""
        return constraints(exactly_one("percentage", "amount"))

    @classmethod
    def patch_constraints(cls) -> dict[str, Any]:
        """Never both, and never both cleared; one alone turns the code into that kind."""
        both_null = {
            "required": ["percentage", "amount"],
            "properties": {key: {"enum": [None], "nullable": True} for key in ("percentage", "amount")},
        }
        return {"not": {"anyOf": [{"allOf": [given("percentage"), given("amount")]}, both_null]}}


# --- booking credits ---------------------------------------------------------------------------------------


class BookingCreditSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    orgId = serializers.UUIDField(source="organization_id", read_only=True)
    contactId = serializers.UUIDField(source="contact_id", read_only=True, allow_null=True)
    customerId = serializers.UUIDField(source="customer_id", read_only=True, allow_null=True)
    description = serializers.CharField(read_only=True)
    amount: serializers.Field = PriceField(read_only=True, help_text="What was granted (adjustments included).")
    balance = PriceField(read_only=True, help_text="What is left; read-only.")
    currency = CurrencyField(source="organization.currency")
    validFrom = serializers.DateTimeField(source="valid_from", read_only=True, allow_null=True)
    validUntil = serializers.DateTimeField(source="valid_until", read_only=True, allow_null=True)
    resourceIds: serializers.Field = IdsField(
        source="resources", help_text="The resources it pays for; none: every resource."
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


class BookingCreditWriteSerializer(Constrained, BookingCreditSerializer):
    """Create (orgId, amount, and contactId or customerId) and PATCH (description, validity and resources; who
    holds it and the amount are fixed: the amount moves with POST .../adjust). The representation's read-only
    fields (balance, ...) may be sent back as read; they are ignored."""

    orgId = UUIDField(source="organization_id", help_text="Fixed once created.")
    contactId = UUIDField(
        source="contact_id", required=False, allow_null=True, help_text="Either this or customerId; fixed once created."
    )
    customerId = UUIDField(
        source="customer_id", required=False, allow_null=True, help_text="Either this or contactId; fixed once created."
    )
    description = PlainTextField(max_length=200, allow_blank=True, required=False)
    amount = PositiveAmountField(help_text="Granted, all of it left; fixed once created (see adjust).")
    validFrom = MomentField(
        source="valid_from",
        required=False,
        allow_null=True,
        help_text="For events starting from then; UTC without offset.",
    )
    validUntil = MomentField(
        source="valid_until",
        required=False,
        allow_null=True,
        help_text="For events starting before then; after validFrom.",
    )
    resourceIds = ListField(
        source="resource_ids",
        child=UUIDField(),
        max_length=MAX_IDS,
        required=False,
        help_text="Resources of the organization; [] or absent: every resource. On PATCH the list replaces it.",
    )

    @classmethod
    def request_constraints(cls) -> dict[str, Any]:
        """Held by a contact or a customer, exactly one."""
        return constraints(exactly_one("contactId", "customerId"))

    @classmethod
    def patch_constraints(cls) -> dict[str, Any]:
        return {}  # who holds it is fixed: the stored value echoed back, or 400 IMMUTABLE_FIELD


class BookingCreditAdjustSerializer(serializers.Serializer):
    delta = SignedAmountField(help_text="Added to the amount and the balance; negative takes unspent credit back.")
    reason = PlainTextField(max_length=500, help_text="Why, for the log.")
