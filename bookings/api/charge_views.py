"""The charges of approved bookings (docs/architecture.md#charge-statuses): a list with filters, a CSV export for
accounting, and the moves staff make (charged, invoiced, reverted) through bookings.pricing.charges. Members of an
organization read its charges; managers move them."""

from __future__ import annotations

import django_filters
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings.models import Charge, ChargeStatus
from bookings.pricing.charges import (
    CSV_COLUMNS,
    charge_mark_charged,
    charge_mark_invoiced,
    charge_revert,
    charges_csv,
    charges_in_period,
    charges_rows,
)
from bookings.pricing.money import round_money
from core.api.downloads import DownloadView
from core.api.errors import error_responses
from core.api.fields import MOMENT_SCHEMA, MomentFilter, StrictFilterSet
from core.api.input import no_body
from core.time import iso
from resources.api.scoping import actor_for, get_scoped, require_role, scope

from .booking_views import _check_in_range

TAG = ["charges"]


class ChargeOutSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    orgId = serializers.UUIDField()
    bookingId = serializers.UUIDField()
    bookingTitle = serializers.CharField()
    bookingEventId = serializers.UUIDField(allow_null=True)
    eventId = serializers.UUIDField(allow_null=True)
    customerId = serializers.UUIDField(allow_null=True, help_text="Who is charged: the customer …")
    contactId = serializers.UUIDField(allow_null=True, help_text="… or the contact (invoiceThisContact).")
    description = serializers.CharField(allow_blank=True)
    amount = serializers.CharField(help_text="Decimal string: what is left to pay after credit.")
    currency = serializers.CharField()
    status = serializers.ChoiceField(
        choices=ChargeStatus.choices, help_text="0 NOT_CHARGED, 1 CHARGED, 2 INVOICED, 3 REVERTED"
    )
    purchaseOrder = serializers.CharField(allow_blank=True)
    date = serializers.DateTimeField(help_text="The event's start (the charge's own date when its time is gone).")
    eventStart = serializers.DateTimeField(allow_null=True)
    eventEnd = serializers.DateTimeField(allow_null=True)
    resources = serializers.ListField(child=serializers.CharField(), help_text="Resource names.")
    rate = serializers.CharField(allow_blank=True, help_text="The rate(s) of its fixed price.")
    createdAt = serializers.DateTimeField()
    chargedAt = serializers.DateTimeField(allow_null=True)
    invoicedAt = serializers.DateTimeField(allow_null=True)
    revertedAt = serializers.DateTimeField(allow_null=True)
    lastUpdatedAt = serializers.DateTimeField()


class ChargeListOut(serializers.Serializer):
    charges = ChargeOutSerializer(many=True)


class ChargeEnvelope(serializers.Serializer):
    charge = ChargeOutSerializer()


class ChargeFilter(StrictFilterSet):
    orgId = django_filters.UUIDFilter(field_name="organization_id")
    status = django_filters.TypedChoiceFilter(
        choices=ChargeStatus.choices, coerce=int, help_text="0 NOT_CHARGED, 1 CHARGED, 2 INVOICED, 3 REVERTED"
    )
    customerId = django_filters.UUIDFilter(field_name="customer_id")
    contactId = django_filters.UUIDFilter(field_name="contact_id")
    bookingId = django_filters.UUIDFilter(field_name="booking_id")
    start = MomentFilter(method="noop", help_text="Charges whose event starts at or after this.")
    end = MomentFilter(method="noop", help_text="Charges whose event starts before this.")

    class Meta:
        model = Charge
        fields: list[str] = []

    def noop(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        return charges_in_period(queryset, data.get("start"), data.get("end"))


def _filtered(request):
    filterset = ChargeFilter(request.query_params, queryset=scope(Charge.objects.all(), request))
    if not filterset.is_valid():
        raise ValidationError(filterset.errors)
    _check_in_range(filterset.form.cleaned_data, ("start", "end"))
    return filterset.qs


def charge_payload(row: dict) -> dict:
    c = row["charge"]
    return {
        "id": str(c.pk),
        "orgId": str(c.organization_id),
        "bookingId": str(c.booking_id),
        "bookingTitle": c.booking.title,
        "bookingEventId": str(c.booking_event_id) if c.booking_event_id else None,
        "eventId": str(c.event_id) if c.event_id else None,
        "customerId": str(c.customer_id) if c.customer_id else None,
        "contactId": str(c.contact_id) if c.contact_id else None,
        "description": c.description,
        "amount": str(round_money(c.amount, c.currency)),
        "currency": c.currency,
        "status": c.status,
        "purchaseOrder": c.purchase_order,
        "date": iso(row["date"]),
        "eventStart": iso(row["eventStart"]),
        "eventEnd": iso(row["eventEnd"]),
        "resources": row["resources"],
        "rate": row["rate"],
        "createdAt": iso(c.created_at),
        "chargedAt": iso(c.charged_at),
        "invoicedAt": iso(c.invoiced_at),
        "revertedAt": iso(c.reverted_at),
        "lastUpdatedAt": iso(c.updated_at),
    }


FILTER_PARAMS = [
    OpenApiParameter("orgId", OpenApiTypes.UUID),
    OpenApiParameter("status", OpenApiTypes.INT, enum=[0, 1, 2, 3]),
    OpenApiParameter("customerId", OpenApiTypes.UUID),
    OpenApiParameter("contactId", OpenApiTypes.UUID),
    OpenApiParameter("bookingId", OpenApiTypes.UUID),
    OpenApiParameter("start", MOMENT_SCHEMA, description="Charges whose event starts at or after this."),
    OpenApiParameter("end", MOMENT_SCHEMA, description="Charges whose event starts before this."),
]


class ChargeListView(APIView):
    filterset_class = ChargeFilter

    @extend_schema(
        tags=TAG,
        operation_id="charges_list",
        description=(
            "What each approved, priced event costs its customer after credit, for the organizations you belong to "
            "(any member). A manager moves each through its payment status with .../charge, .../invoice or "
            ".../revert."
        ),
        parameters=FILTER_PARAMS,
        filters=False,
        summary="Charges of your organizations, oldest first",
        responses={200: ChargeListOut, **error_responses(400, 401)},
    )
    def get(self, request):
        return Response({"charges": [charge_payload(row) for row in charges_rows(_filtered(request))]})


class ChargeCsvView(DownloadView):
    @extend_schema(
        tags=TAG,
        operation_id="charges_csv",
        parameters=FILTER_PARAMS,
        filters=False,
        summary="The charges as CSV, for accounting",
        description="One line per charge, with the columns: "
        + ", ".join(CSV_COLUMNS)
        + ". Amounts have the currency's decimal places; times are the venue's local time.",
        responses={(200, "text/csv"): OpenApiTypes.STR, **error_responses(400, 401)},
    )
    def get(self, request):
        response = HttpResponse(charges_csv(_filtered(request)), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="charges.csv"'
        return response


def _move(request, pk, service) -> Response:
    charge = get_scoped(Charge.objects.all(), request, pk)
    require_role(request, charge.organization_id, "manage_bookings")
    no_body(request.data)
    service(charge_id=charge.pk, actor=actor_for(request))
    [row] = charges_rows(Charge.objects.filter(pk=charge.pk))
    return Response({"charge": charge_payload(row)})


ACTION_RESPONSES = {200: ChargeEnvelope, **error_responses(401, 403, 404, 409)}


class ChargeChargeView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="charges_charge",
        description=(
            "Manager and above. Records that the charge was paid: NOT_CHARGED becomes CHARGED, logged. From any other "
            "status it is 409 INVALID_TRANSITION."
        ),
        request=None,
        responses=ACTION_RESPONSES,
        summary="Mark a charge charged (manager): NOT_CHARGED → CHARGED; else 409 INVALID_TRANSITION",
    )
    def post(self, request, pk):
        return _move(request, pk, charge_mark_charged)


class ChargeInvoiceView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="charges_invoice",
        description=(
            "Manager and above. Records that the charge was invoiced: NOT_CHARGED or CHARGED becomes INVOICED, which "
            "is final. From any other status it is 409 INVALID_TRANSITION."
        ),
        request=None,
        responses=ACTION_RESPONSES,
        summary="Mark a charge invoiced (manager): NOT_CHARGED or CHARGED → INVOICED (final)",
    )
    def post(self, request, pk):
        return _move(request, pk, charge_mark_invoiced)


class ChargeRevertView(APIView):
    @extend_schema(
        tags=TAG,
        operation_id="charges_revert",
        description=(
            "Manager and above. Takes the charge back: NOT_CHARGED or CHARGED becomes REVERTED, which is final. From "
            "any other status it is 409 INVALID_TRANSITION."
        ),
        request=None,
        responses=ACTION_RESPONSES,
        summary="Revert a charge (manager): NOT_CHARGED or CHARGED → REVERTED (final)",
    )
    def post(self, request, pk):
        return _move(request, pk, charge_revert)
