"""GET /reports/utilization (docs/architecture.md#utilization-reports): any member, for the resources of one of
their organizations."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.reports import (
    GRANULARITIES,
    MAX_DAYS,
    MAX_PERIODS,
    report_build,
    report_range_errors,
)
from core.api.errors import error_responses
from core.api.fields import DayField, SignedAmountField, StrictQuerySerializer, UUIDField
from core.api.input import valid
from resources.api.scoping import visible_org_ids


class UtilizationQuerySerializer(StrictQuerySerializer):
    start = DayField(help_text="The first day, in the venues' local time.")
    end = DayField(help_text=f"The last day (included), at most {MAX_DAYS} days after start.")
    granularity = serializers.ChoiceField(
        choices=GRANULARITIES, default="day", help_text="One row per resource and day, ISO week or month."
    )
    orgId = UUIDField(required=False, help_text="Needed only by a member of several organizations.")
    venueId = UUIDField(required=False, help_text="Only this venue's resources.")
    resourceId = UUIDField(required=False, help_text="Only this resource (archived ones too).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = report_range_errors(attrs["start"], attrs["end"], attrs["granularity"])
        if errors:
            raise serializers.ValidationError(
                {e.field: serializers.ErrorDetail(e.message, code=e.code) for e in errors}
            )
        return attrs


class _Bookings(serializers.Serializer):
    pending = serializers.IntegerField()
    approved = serializers.IntegerField()
    denied = serializers.IntegerField()
    canceled = serializers.IntegerField()


class _Figures(serializers.Serializer):
    bookableMinutes = serializers.IntegerField(source="bookable_minutes", help_text="Open minutes × active units.")
    bookedMinutes = serializers.IntegerField(source="booked_minutes", help_text="Confirmed events' minutes.")
    occupancy = serializers.FloatField(
        allow_null=True, help_text="bookedMinutes / bookableMinutes (4 decimals); null when nothing was bookable."
    )
    bookings = _Bookings(help_text="Bookings asking for a time that starts in the period, by status.")
    revenue = SignedAmountField(help_text="Fixed prices (charges not reverted), in the organization's currency.")


class UtilizationRowSerializer(_Figures):
    resourceId = UUIDField(source="resource.pk")
    venueId = UUIDField(source="resource.venue_id")
    periodStart = serializers.DateField(source="period.first_day")
    periodEnd = serializers.DateField(source="period.last_day", help_text="The period's last day (included).")


class UtilizationTotalsSerializer(_Figures):
    medianDecisionMinutes = serializers.IntegerField(
        source="median_decision_minutes",
        allow_null=True,
        help_text="Median minutes from a booker's request to staff's decision; null when none was decided.",
    )


class UtilizationReportSerializer(serializers.Serializer):
    orgId = UUIDField(source="organization.pk")
    currency = serializers.CharField(source="organization.currency")
    start = serializers.DateField()
    end = serializers.DateField()
    granularity = serializers.CharField()
    rows = UtilizationRowSerializer(many=True)
    totals = UtilizationTotalsSerializer()


class UtilizationReportView(APIView):
    @extend_schema(
        summary="How much the resources were used (any member)",
        tags=["reports"],
        operation_id="reports_utilization",
        parameters=[UtilizationQuerySerializer],
        description="One row per resource and period (day, ISO week or month in the venue's local time): the "
        "minutes it could be booked (its bookable hours, less closures, times its active units), the minutes "
        "confirmed events took, the occupancy, the bookings by status and the revenue of fixed prices; with "
        "totals, where each booking and each charge counts once, and the median time staff took to decide. "
        f"At most {MAX_DAYS} days and {MAX_PERIODS} periods.",
        responses={200: UtilizationReportSerializer, **error_responses(400, 401)},
    )
    def get(self, request: Any) -> Response:
        query = valid(UtilizationQuerySerializer, request.query_params)
        report = report_build(
            organization_ids=visible_org_ids(request),
            start=query["start"],
            end=query["end"],
            granularity=query["granularity"],
            org_id=query.get("orgId"),
            venue_id=query.get("venueId"),
            resource_id=query.get("resourceId"),
        )
        return Response(UtilizationReportSerializer(report).data)
