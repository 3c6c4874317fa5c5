"""Rate, discount code and booking credit endpoints (docs/architecture.md#http-api-conventions,
docs/architecture.md#prices), on the catalog base of resources.api.catalog_views: staff of the organization read,
admins write, managers adjust credit; another organization's object is 404, and an id in a body that points into
another organization is 400 NOT_FOUND at its field. Each view parses input, checks permission, calls one service
(resources.catalog for rates, bookings.pricing.config for codes and credits), and returns the representation."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import django_filters
from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from bookings.models import BookingCredit, Contact, Customer, DiscountCode, DiscountCodeUse
from bookings.pricing.config import (
    booking_credit_adjust,
    booking_credit_create,
    booking_credit_delete,
    booking_credit_update,
    discount_code_create,
    discount_code_delete,
    discount_code_update,
)
from core.api.errors import error_responses
from core.api.fields import BooleanFilter, StrictFilterSet
from core.api.input import valid
from core.errors import FieldError, ValidationFailed
from resources import catalog
from resources.api.catalog_views import ActiveRowFilter, CatalogViewSet, catalog_schema, org_rows
from resources.api.scoping import actor_for, get_scoped, require_role
from resources.models import Organization, Rate, Resource

from .pricing_serializers import (
    BookingCreditAdjustSerializer,
    BookingCreditSerializer,
    BookingCreditWriteSerializer,
    DiscountCodeSerializer,
    DiscountCodeWriteSerializer,
    RateSerializer,
    RateWriteSerializer,
)

# --- rates -------------------------------------------------------------------------------------------------


class RateFilter(ActiveRowFilter):
    class Meta:
        model = Rate
        fields: list[str] = []


@catalog_schema("rate", "rates", RateSerializer, RateWriteSerializer)
@extend_schema(tags=["rates"])
class RateViewSet(CatalogViewSet):
    """Prices of a resource per hour, day or booking, in the organization's currency, optionally for some
    weekdays, a local time window, booking lengths, or customers (a rate with `customerIds` applies only to
    them). A request names one as `rateId`; else the cheapest that applies is used."""

    queryset = (
        Rate.objects.select_related("resource__venue__organization")
        .prefetch_related("customer_links")
        .order_by("resource__name", "resource_id", "price", "name", "id")
    )
    serializer_class = RateSerializer
    write_serializer_class = RateWriteSerializer
    filterset_class = RateFilter

    def create_object(self, request, data):
        resource = self.resource_for_create(request, data)
        return catalog.rate_create(resource=resource, **data)

    def update_object(self, request, obj, data):
        customer_ids = data.pop("customer_ids", None)
        return catalog.rate_update(rate=obj, changes=data, customer_ids=customer_ids)

    def delete_object(self, obj):
        return catalog.rate_delete(rate=obj)


# --- discount codes and credits: rows of an organization ------------------------------------------------------


class OrgCatalogViewSet(CatalogViewSet):
    """A catalog endpoint whose rows belong to an organization (`orgId` in the body on create)."""

    org_field = "organization"

    def organization_id(self, obj: Any) -> Any:
        return obj.organization_id

    def organization_for_create(self, request, data: dict[str, Any]) -> Organization:
        organization_id = data.pop("organization_id")
        require_role(request, organization_id, self.write_action)
        return Organization.objects.get(pk=organization_id)

    @staticmethod
    def resources(organization_id: Any, data: dict[str, Any]) -> list[Resource] | None:
        """The body's resourceIds as resources of the organization (400 NOT_FOUND at `resourceIds[i]`)."""
        ids = data.pop("resource_ids", None)
        if ids is None:
            return None
        own = Resource.objects.filter(venue__organization_id=organization_id).select_related("venue")
        return org_rows(own, ids, "resourceIds")

    def parse_context(self) -> dict[str, Any]:
        return {"tz": UTC}  # datetimes without an offset are UTC (core.api.fields.MomentField)


class OrgFilter(StrictFilterSet):
    orgId = django_filters.UUIDFilter(field_name="organization_id", help_text="Only this organization's.")


class DiscountCodeFilter(OrgFilter):
    active = BooleanFilter(help_text="true or false.")

    class Meta:
        model = DiscountCode
        fields: list[str] = []


@catalog_schema(
    "discount code",
    "discount_codes",
    DiscountCodeSerializer,
    DiscountCodeWriteSerializer,
    deleting="Deletes a code no booking carries (204); a code that bookings carry or used is archived instead "
    "(200, the code with active false): its counted uses stay.",
)
@extend_schema(tags=["discount codes"])
class DiscountCodeViewSet(OrgCatalogViewSet):
    """Codes bookers type for a percentage or a fixed amount off a booking, with optional validity, use limits
    and resources."""

    queryset = DiscountCode.objects.select_related("organization").order_by("code", "id")
    serializer_class = DiscountCodeSerializer
    write_serializer_class = DiscountCodeWriteSerializer
    filterset_class = DiscountCodeFilter
    fixed = {"organization_id": "orgId"}

    def base_queryset(self) -> QuerySet:
        uses = (
            DiscountCodeUse.objects.filter(code=OuterRef("pk"))
            .order_by()
            .values("code")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .base_queryset()
            .annotate(uses_count=Coalesce(Subquery(uses), 0))
            .prefetch_related(Prefetch("resources", queryset=Resource.objects.only("id").order_by("pk")))
        )

    def create_object(self, request, data):
        organization = self.organization_for_create(request, data)
        resources = self.resources(organization.pk, data) or []
        return discount_code_create(organization=organization, resources=resources, **data)

    def update_object(self, request, obj, data):
        resources = self.resources(obj.organization_id, data)
        if resources is not None:
            data["resources"] = resources
        return discount_code_update(discount_code=obj, changes=data)

    def delete_object(self, obj):
        return discount_code_delete(discount_code=obj)


class BookingCreditFilter(OrgFilter):
    contactId = django_filters.UUIDFilter(field_name="contact_id", help_text="Only this contact's.")
    customerId = django_filters.UUIDFilter(field_name="customer_id", help_text="Only this customer's.")

    class Meta:
        model = BookingCredit
        fields: list[str] = []


@catalog_schema(
    "booking credit",
    "booking_credits",
    BookingCreditSerializer,
    BookingCreditWriteSerializer,
    deleting="Deletes a credit nothing was spent from (204); one that bookings used answers 409 IN_USE.",
    delete_errors=(409,),
)
@extend_schema(tags=["booking credits"])
class BookingCreditViewSet(OrgCatalogViewSet):
    """Prepaid credit of a contact or a customer, spent on approved bookings (the approval spends what an
    estimate counted). Admins grant it; managers adjust it (POST .../adjust), which is logged."""

    queryset = BookingCredit.objects.select_related("organization").order_by("created_at", "id")
    serializer_class = BookingCreditSerializer
    write_serializer_class = BookingCreditWriteSerializer
    filterset_class = BookingCreditFilter
    fixed = {"organization_id": "orgId", "contact_id": "contactId", "customer_id": "customerId", "amount": "amount"}

    def base_queryset(self) -> QuerySet:
        return (
            super()
            .base_queryset()
            .prefetch_related(Prefetch("resources", queryset=Resource.objects.only("id").order_by("pk")))
        )

    @staticmethod
    def _owner(model: Any, organization_id: Any, pk: Any, field: str) -> Any:
        if pk is None:
            return None
        found = model.objects.filter(organization_id=organization_id, pk=pk).first()
        if found is None:
            raise ValidationFailed(errors=[FieldError(field, "NOT_FOUND", "Not found in this organization.")])
        return found

    def create_object(self, request, data):
        organization = self.organization_for_create(request, data)
        contact = self._owner(Contact, organization.pk, data.pop("contact_id", None), "contactId")
        customer = self._owner(Customer, organization.pk, data.pop("customer_id", None), "customerId")
        resources = self.resources(organization.pk, data) or []
        return booking_credit_create(
            organization=organization, contact=contact, customer=customer, resources=resources, **data
        )

    def update_object(self, request, obj, data):
        resources = self.resources(obj.organization_id, data)
        if resources is not None:
            data["resources"] = resources
        return booking_credit_update(credit=obj, changes=data)

    def delete_object(self, obj):
        booking_credit_delete(credit=obj)
        return None

    @extend_schema(
        operation_id="booking_credits_adjust",
        summary="Grant more credit or take unspent credit back (manager)",
        description="The amount and the balance move together by `delta`, under the credit's lock, and the change "
        "is logged with its reason. The balance never goes below 0: 400 INSUFFICIENT_BALANCE at `delta`.",
        request=BookingCreditAdjustSerializer,
        responses={200: BookingCreditSerializer, **error_responses(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def adjust(self, request, pk=None):
        credit = get_scoped(self.base_queryset(), request, pk, self.org_field)
        require_role(request, credit.organization_id, "adjust_credits")
        data = valid(BookingCreditAdjustSerializer, request.data)
        credit = booking_credit_adjust(
            credit=credit, delta=data["delta"], reason=data["reason"], actor=actor_for(request)
        )
        return self.respond(credit)
