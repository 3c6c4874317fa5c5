"""Configuration endpoints (docs/architecture.md#http-api-conventions): booking modules (with their form fields),
portals, customers, contacts, and the two public module endpoints. Each view parses input, checks the caller's role in
the object's organization, calls one service, and returns the serializer's representation with an ETag."""

from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from bookings import services
from bookings.models import BookingModule, Contact, Customer, Portal
from bookings.privacy import contact_erase, contact_personal_data
from bookings.selectors import booking_modules_for_api, portals_for_api, public_booking_module, public_busy
from core.api.errors import error_responses
from core.api.etags import check_if_match, with_etag
from core.api.fields import StrictFilterSet, TextFilter
from core.api.input import valid
from resources.api.scoping import actor_for, get_scoped, require_role, scope

from .config_serializers import (
    AvailabilityQuerySerializer,
    BookingModuleSerializer,
    BookingModuleUpdateSerializer,
    ContactSerializer,
    ContactUpdateSerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
    OrgIdSerializer,
    PortalSerializer,
    PortalStatusField,
    PortalUpdateSerializer,
    PublicAvailabilitySerializer,
    PublicBookingModuleSerializer,
)
from .privacy_serializers import EraseIn, PersonalDataOut

UUID_REGEX = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag you read; if the object changed since, the write is refused with 412.",
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="The object's version, for If-Match.",
)


def _valid(serializer_class, data, **kwargs) -> dict:
    """The shared parsing step (strict input included); kept by name for the viewsets below."""
    return valid(serializer_class, data, **kwargs)


def crud_schema(
    tag: str,
    noun: str,
    out,
    create_in,
    update_in,
    *,
    delete_errors: tuple[int, ...] = (),
    list_parameters: tuple[OpenApiParameter, ...] = (),
):
    """The documentation of list/retrieve/create/partial_update/destroy, every error status included."""
    return extend_schema_view(
        list=extend_schema(
            tags=[tag],
            summary=f"List {noun}s (filter with orgId)",
            parameters=list(list_parameters),
            responses={200: out(many=True), **error_responses(400, 401, 403)},
        ),
        retrieve=extend_schema(
            tags=[tag],
            summary=f"Get a {noun}",
            parameters=[ETAG],
            responses={200: out, **error_responses(401, 403, 404)},
        ),
        create=extend_schema(
            tags=[tag],
            summary=f"Create a {noun}",
            request=create_in,
            parameters=[ETAG],
            responses={201: out, **error_responses(400, 401, 403, 404)},
        ),
        partial_update=extend_schema(
            tags=[tag],
            summary=f"Change a {noun}",
            request=update_in,
            parameters=[IF_MATCH, ETAG],
            responses={200: out, **error_responses(400, 401, 403, 404, 412)},
        ),
        destroy=extend_schema(
            tags=[tag],
            summary=f"Delete a {noun}",
            parameters=[IF_MATCH],
            responses={204: None, **error_responses(401, 403, 404, *delete_errors, 412)},
        ),
    )


class ConfigViewSet(viewsets.GenericViewSet):
    """GET for any member of the object's organization; writes need `write_action`'s role there.
    Subclasses say which queryset, serializers and services."""

    lookup_value_regex = UUID_REGEX
    write_action = "configure"
    update_serializer_class: type[serializers.Serializer]

    def base_queryset(self):
        return self.queryset.all()

    def get_queryset(self):
        return scope(self.base_queryset(), self.request)

    def get_object(self):
        return get_scoped(self.base_queryset(), self.request, self.kwargs.get("pk"))

    def _out(self, obj, status: int = 200) -> Response:
        fresh = self.base_queryset().get(pk=obj.pk)
        return with_etag(Response(self.get_serializer(fresh).data, status=status), fresh)

    def list(self, request):
        return Response(self.get_serializer(self.filter_queryset(self.get_queryset()), many=True).data)

    def retrieve(self, request, pk=None):
        obj = self.get_object()
        return with_etag(Response(self.get_serializer(obj).data), obj)

    def create(self, request):
        org_id = _valid(OrgIdSerializer, request.data, strict=False)["orgId"]  # the rest: below
        require_role(request, org_id, self.write_action)
        values = _valid(self.get_serializer_class(), request.data)
        values.pop("organization_id")
        return self._out(self.create_object(org_id, values), status=201)

    def partial_update(self, request, pk=None):
        obj = self.get_object()
        require_role(request, obj.organization_id, self.write_action)
        check_if_match(request, obj)
        changes = _valid(self.update_serializer_class, request.data, partial=True)
        return self._out(self.update_object(obj, changes))

    def destroy(self, request, pk=None):
        obj = self.get_object()
        require_role(request, obj.organization_id, self.write_action)
        check_if_match(request, obj)
        self.delete_object(obj)
        return Response(status=204)

    def create_object(self, org_id, values):  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def update_object(self, obj, changes):  # pragma: no cover
        raise NotImplementedError

    def delete_object(self, obj):  # pragma: no cover
        raise NotImplementedError


# --- filters ----------------------------------------------------------------------------------------


class OrgFilter(StrictFilterSet):
    orgId = django_filters.UUIDFilter(field_name="organization_id", help_text="Only this organization's.")


class BookingModuleFilter(OrgFilter):
    portalId = django_filters.UUIDFilter(field_name="portals", help_text="Only modules on this portal.")
    resourceId = django_filters.UUIDFilter(field_name="resources", help_text="Only modules offering this resource.")

    class Meta:
        model = BookingModule
        fields: list[str] = []


class PortalFilter(OrgFilter):
    status = django_filters.TypedChoiceFilter(
        choices=[(0, "LIVE"), (1, "DRAFT")], coerce=int, method="filter_status", help_text="0 LIVE, 1 DRAFT."
    )

    class Meta:
        model = Portal
        fields: list[str] = []

    def filter_status(self, queryset, name, value):
        return queryset.filter(status=PortalStatusField.FROM_WIRE[value])


class CustomerFilter(OrgFilter):
    class Meta:
        model = Customer
        fields: list[str] = []


class ContactFilter(OrgFilter):
    customerId = django_filters.UUIDFilter(field_name="customer_id", help_text="Only this customer's contacts.")
    email = TextFilter(field_name="email", lookup_expr="iexact", help_text="Whatever its case.")

    class Meta:
        model = Contact
        fields: list[str] = []


# --- viewsets ---------------------------------------------------------------------------------------


@crud_schema(
    "booking modules",
    "booking module",
    BookingModuleSerializer,
    BookingModuleSerializer,
    BookingModuleUpdateSerializer,
    delete_errors=(409,),
)
class BookingModuleViewSet(ConfigViewSet):
    """A module's `bookingForm` sections, when written, are whole: fields without `id` are created, with
    `id` updated, active fields left out archived (kept, so old answers keep their meaning). Deleting a
    module that has bookings answers 409 IN_USE."""

    queryset = BookingModule.objects.all()
    serializer_class = BookingModuleSerializer
    update_serializer_class = BookingModuleUpdateSerializer
    filterset_class = BookingModuleFilter

    def base_queryset(self):
        return booking_modules_for_api()

    def create_object(self, org_id, values):
        return services.module_create(organization_id=org_id, values=values)

    def update_object(self, obj, changes):
        return services.module_update(module_id=obj.pk, changes=changes)

    def delete_object(self, obj):
        services.module_delete(module_id=obj.pk)


@crud_schema(
    "portals",
    "portal",
    PortalSerializer,
    PortalSerializer,
    PortalUpdateSerializer,
    list_parameters=(OpenApiParameter("status", OpenApiTypes.INT, enum=[0, 1], description="0 LIVE, 1 DRAFT."),),
)
class PortalViewSet(ConfigViewSet):
    """Where modules are published: a DRAFT portal is invisible to the public. The password is write-only
    (stored hashed); `hasPassword` tells whether one is set."""

    queryset = Portal.objects.all()
    serializer_class = PortalSerializer
    update_serializer_class = PortalUpdateSerializer
    filterset_class = PortalFilter

    def base_queryset(self):
        return portals_for_api()

    def create_object(self, org_id, values):
        return services.portal_create(organization_id=org_id, values=values)

    def update_object(self, obj, changes):
        return services.portal_update(portal_id=obj.pk, changes=changes)

    def delete_object(self, obj):
        services.portal_delete(portal_id=obj.pk)


@crud_schema("customers", "customer", CustomerSerializer, CustomerSerializer, CustomerUpdateSerializer)
class CustomerViewSet(ConfigViewSet):
    """Companies or clients bookings can be linked to. Managers and above write; deleting one unlinks it."""

    queryset = Customer.objects.all()
    serializer_class = CustomerSerializer
    update_serializer_class = CustomerUpdateSerializer
    filterset_class = CustomerFilter
    write_action = "manage_bookings"

    def create_object(self, org_id, values):
        return services.customer_create(organization_id=org_id, values=values)

    def update_object(self, obj, changes):
        return services.customer_update(customer_id=obj.pk, changes=changes)

    def delete_object(self, obj):
        services.customer_delete(customer_id=obj.pk)


@crud_schema("contacts", "contact", ContactSerializer, ContactSerializer, ContactUpdateSerializer)
class ContactViewSet(ConfigViewSet):
    """People (one per email address in an organization; public submissions find theirs by email).
    Managers and above write; deleting one unlinks it from its bookings."""

    queryset = Contact.objects.all()
    serializer_class = ContactSerializer
    update_serializer_class = ContactUpdateSerializer
    filterset_class = ContactFilter
    write_action = "manage_bookings"

    def create_object(self, org_id, values):
        return services.contact_create(organization_id=org_id, values=values)

    def update_object(self, obj, changes):
        return services.contact_update(contact_id=obj.pk, changes=changes)

    def delete_object(self, obj):
        services.contact_delete(contact_id=obj.pk)

    @extend_schema(
        tags=["contacts"],
        summary="Everything held about a person (admin and above)",
        description="The contact, their bookings (answers, requested times, visitors, change requests, staff's "
        "internal notes), their credit and the emails sent to them, as one JSON document: the answer to a "
        "person's request for their data.",
        responses={200: PersonalDataOut, **error_responses(401, 403, 404)},
    )
    @action(detail=True, methods=["get"], url_path="personal-data")
    def personal_data(self, request, pk=None):
        contact = self.get_object()
        require_role(request, contact.organization_id, "personal_data")
        return Response(contact_personal_data(contact))

    @extend_schema(
        tags=["contacts"],
        summary="Erase a person (admin and above)",
        description="Takes the person's name, email, phone and answers out of everything the organization and the "
        "API can read (bookings, their events, visitors, the log, emails, webhook payloads), keeping the bookings, "
        "events and charges; logged on each booking with who and when. 409 HAS_FUTURE_BOOKINGS while they have "
        "approved bookings still to come, unless `force`. Erasing an erased contact changes nothing.",
        request=EraseIn,
        responses={200: ContactSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def erase(self, request, pk=None):
        contact = self.get_object()
        require_role(request, contact.organization_id, "personal_data")
        force = _valid(EraseIn, request.data)["force"]
        erased = contact_erase(contact_id=contact.pk, actor=actor_for(request), force=force)
        return self._out(erased.contact)


# --- public -----------------------------------------------------------------------------------------


@extend_schema_view(
    retrieve=extend_schema(
        tags=["public"],
        summary="A published booking form (anyone)",
        auth=[],
        description="Only modules on at least one LIVE portal; nothing private (no admin, no internal notes).",
        responses={200: PublicBookingModuleSerializer, **error_responses(404)},
    ),
    availability=extend_schema(
        tags=["public"],
        summary="When a published form's resources are taken (anyone)",
        auth=[],
        description="Busy blocks only: never titles, event ids or names. The window is at most 62 days.",
        parameters=[AvailabilityQuerySerializer],
        responses={200: PublicAvailabilitySerializer, **error_responses(400, 404)},
    ),
)
class PublicBookingModuleViewSet(viewsets.GenericViewSet):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    filter_backends: list = []
    queryset = BookingModule.objects.all()
    lookup_value_regex = UUID_REGEX

    def retrieve(self, request, pk=None):
        return Response(PublicBookingModuleSerializer(public_booking_module(pk)).data)

    @action(detail=True, methods=["get"])
    def availability(self, request, pk=None):
        module = public_booking_module(pk, with_form=False)
        window = _valid(AvailabilityQuerySerializer, request.query_params)
        return Response({"bookingModuleId": str(module.pk), "busy": public_busy(module, **window)})
