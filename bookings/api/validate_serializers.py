"""The answer of POST /bookings/validate: the problems a request would meet, the free times near the ones asked
for, and the price estimate (bookings.validation.public)."""

from __future__ import annotations

from rest_framework import serializers

from .booking_serializers import LocalTimesMixin, PriceTotalSerializer, SkippedOccurrenceSerializer


class ValidationProblemSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class SlotSerializer(LocalTimesMixin):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class CheckedTimeSerializer(LocalTimesMixin):
    field = serializers.CharField(help_text="event, events[1], event.occurrences[6], ...")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    resourceIds = serializers.ListField(child=serializers.UUIDField())
    occurrence = serializers.IntegerField(allow_null=True)
    valid = serializers.BooleanField()


class SuggestionSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The requested time that cannot be booked.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    resourceIds = serializers.ListField(child=serializers.UUIDField())
    slots = SlotSerializer(
        many=True, help_text="Up to 3 free times of the same length on the same resources, nearest first."
    )


class EstimateOut(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.JSONField(), help_text="Each time's estimate, as events[].price of a booking."
    )
    priceTotal = PriceTotalSerializer(allow_null=True)


class ValidateOut(serializers.Serializer):
    valid = serializers.BooleanField()
    price = EstimateOut(
        allow_null=True, help_text="The estimate when the request is valid (no credit: credit is applied on approval)."
    )
    # A wire name here, not Serializer.errors (the stubs see the clash).
    errors = ValidationProblemSerializer(  # type: ignore[assignment]
        many=True,
        help_text="Every problem, as a 400/409 would list them (one per occurrence of a repeat, with "
        "meta occurrence, date, start, end, codes).",
    )
    skipped = SkippedOccurrenceSerializer(
        many=True, help_text="With skipConflicts: occurrences that would be left out."
    )
    times = CheckedTimeSerializer(many=True, help_text="Every time the request would book, repeats expanded.")
    suggestions = SuggestionSerializer(many=True)
