"""Venue and resource endpoints (docs/architecture.md#http-api-conventions): staff read, admins write. Each
view parses input, checks permission with the shared helpers, calls one service of resources.services, and
returns the result."""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.response import Response

from core.api.errors import error_responses
from core.api.etags import ETAG, IF_MATCH, check_if_match, with_etag
from core.api.fields import UUID_PATTERN, BooleanFilter, StrictFilterSet
from core.api.input import valid
from core.errors import FieldError, ValidationFailed
from resources import services
from resources.api.scoping import get_scoped, require_role, scope
from resources.models import Organization, Product, Rate, Resource, ResourceKind, Venue

from .serializers import (
    ResourceSerializer,
    ResourceWriteSerializer,
    VenueCreateSerializer,
    VenueSerializer,
    VenueUpdateSerializer,
)

# --- venues ---------------------------------------------------------------------------------------


class VenueFilter(StrictFilterSet):
    orgId = django_filters.UUIDFilter(field_name="organization_id", help_text="Only this organization's.")

    class Meta:
        model = Venue
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List venues",
        description="The venues of your organizations (any member), each with its IANA time zone: the local time "
        "in which its resources' booking rules and bookable hours are read.",
        responses={200: VenueSerializer(many=True), **error_responses(400, 401)},
    ),
    retrieve=extend_schema(
        summary="Get a venue",
        description="One venue of your organizations (any member); its ETag serves If-Match. Another "
        "organization's venue is 404.",
        parameters=[ETAG],
        responses={200: VenueSerializer, **error_responses(401, 404)},
    ),
    create=extend_schema(
        summary="Create a venue (admin)",
        description="A place of one of your organizations (admin and above), with its address and IANA `timezone`.",
        request=VenueCreateSerializer,
        parameters=[ETAG],
        responses={201: VenueSerializer, **error_responses(400, 401, 403, 404)},
    ),
    partial_update=extend_schema(
        summary="Change a venue (admin)",
        description="Changes the fields given (admin and above). An If-Match with the ETag you read refuses with "
        "412 a venue changed since.",
        request=VenueUpdateSerializer,
        parameters=[IF_MATCH, ETAG],
        responses={200: VenueSerializer, **error_responses(400, 401, 403, 404, 412)},
    ),
    destroy=extend_schema(
        summary="Delete a venue and its unused resources (admin)",
        parameters=[IF_MATCH],
        description="Refused with 409 IN_USE while any of its resources is referenced.",
        responses={204: None, **error_responses(401, 403, 404, 409, 412)},
    ),
)
@extend_schema(tags=["venues"])
class VenueViewSet(viewsets.GenericViewSet):
    queryset = Venue.objects.select_related("organization").order_by("name", "id")
    serializer_class = VenueSerializer
    filterset_class = VenueFilter
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        return scope(super().get_queryset(), self.request)

    def list(self, request):
        return Response(VenueSerializer(self.filter_queryset(self.get_queryset()), many=True).data)

    def retrieve(self, request, pk=None):
        venue = get_scoped(self.queryset, request, pk)
        return with_etag(Response(VenueSerializer(venue).data), venue)

    def create(self, request):
        data = valid(VenueCreateSerializer, request.data)
        org_id = data.pop("organization_id")
        require_role(request, org_id, "configure")
        venue = services.venue_create(organization=Organization.objects.get(pk=org_id), **data)
        venue = self.queryset.get(pk=venue.pk)
        return with_etag(Response(VenueSerializer(venue).data, status=status.HTTP_201_CREATED), venue)

    def partial_update(self, request, pk=None):
        venue = get_scoped(self.queryset, request, pk)
        require_role(request, venue.organization_id, "configure")
        data = valid(VenueUpdateSerializer, request.data, partial=True)
        check_if_match(request, venue)
        venue = services.venue_update(venue=venue, changes=data)
        return with_etag(Response(VenueSerializer(venue).data), venue)

    def destroy(self, request, pk=None):
        venue = get_scoped(self.queryset, request, pk)
        require_role(request, venue.organization_id, "configure")
        check_if_match(request, venue)
        services.venue_delete(venue=venue)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- resources ------------------------------------------------------------------------------------


class ResourceFilter(StrictFilterSet):
    orgId = django_filters.UUIDFilter(field_name="venue__organization_id", help_text="Only this organization's.")
    venueId = django_filters.UUIDFilter(field_name="venue_id", help_text="Only this venue's.")
    kind = django_filters.ChoiceFilter(choices=ResourceKind.choices)
    archived = BooleanFilter(help_text="true or false.")

    class Meta:
        model = Resource
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List resources",
        description="The resources of your organizations' venues (any member), with their booking rules, "
        "bookable hours and active rates and products.",
        responses={200: ResourceSerializer(many=True), **error_responses(400, 401)},
    ),
    retrieve=extend_schema(
        summary="Get a resource",
        description="One resource of your organizations (any member); its ETag serves If-Match. Another "
        "organization's resource is 404.",
        parameters=[ETAG],
        responses={200: ResourceSerializer, **error_responses(401, 404)},
    ),
    create=extend_schema(
        summary="Create a resource (admin)",
        description="A room, desk or piece of equipment in one of your venues (admin and above): its capacity, "
        "whether it is booked exclusively, its booking rules and its bookable hours in the venue's local time.",
        request=ResourceWriteSerializer,
        parameters=[ETAG],
        responses={201: ResourceSerializer, **error_responses(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a resource (admin)",
        request=ResourceWriteSerializer,
        parameters=[IF_MATCH, ETAG],
        description="bookableHours, when sent, replaces the weekly windows as a whole. Making the resource "
        "exclusive, or lowering a shared resource's capacity, answers 409 while upcoming bookings "
        "would break the new rule.",
        responses={200: ResourceSerializer, **error_responses(400, 401, 403, 404, 409, 412)},
    ),
    destroy=extend_schema(
        summary="Delete a resource (admin)",
        parameters=[IF_MATCH],
        description="Refused with 409 IN_USE while anything refers to it; archive it instead.",
        responses={204: None, **error_responses(401, 403, 404, 409, 412)},
    ),
)
@extend_schema(tags=["resources"])
class ResourceViewSet(viewsets.GenericViewSet):
    queryset = (
        Resource.objects.select_related("venue__organization")
        .prefetch_related(
            "bookable_hours",
            "units",
            Prefetch(
                "rates",
                queryset=Rate.objects.filter(active=True).order_by("price", "name", "id"),
                to_attr="active_rates",
            ),
            Prefetch(
                "products",
                queryset=Product.objects.filter(active=True).order_by("name", "id"),
                to_attr="active_products",
            ),
        )
        .order_by("name", "id")
    )
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilter
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        return scope(super().get_queryset(), self.request, "venue__organization")

    def _get(self, request, pk) -> Resource:
        return get_scoped(self.queryset, request, pk, "venue__organization")

    def _venue(self, request, venue_id) -> Venue:
        """A venue the caller can see, as a body reference: 400 NOT_FOUND otherwise (never another org's)."""
        venue = scope(Venue.objects.select_related("organization"), request).filter(pk=venue_id).first()
        if venue is None:
            raise ValidationFailed(errors=[FieldError("venueId", "NOT_FOUND", "No such venue.")])
        return venue

    def _respond(self, resource: Resource, code: int = status.HTTP_200_OK) -> Response:
        resource = self.queryset.get(pk=resource.pk)
        return with_etag(Response(ResourceSerializer(resource).data, status=code), resource)

    def list(self, request):
        return Response(ResourceSerializer(self.filter_queryset(self.get_queryset()), many=True).data)

    def retrieve(self, request, pk=None):
        resource = self._get(request, pk)
        return with_etag(Response(ResourceSerializer(resource).data), resource)

    def create(self, request):
        data = valid(ResourceWriteSerializer, request.data)
        venue = self._venue(request, data.pop("venue_id"))
        require_role(request, venue.organization_id, "configure")
        hours = ResourceWriteSerializer.hours(data) or ()
        resource = services.resource_create(venue=venue, bookable_hours=hours, **data)
        return self._respond(resource, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        resource = self._get(request, pk)
        require_role(request, resource.venue.organization_id, "configure")
        data = valid(ResourceWriteSerializer, request.data, partial=True)
        check_if_match(request, resource)
        if "venue_id" in data:
            data["venue"] = self._venue(request, data.pop("venue_id"))
        hours = ResourceWriteSerializer.hours(data)
        resource = services.resource_update(resource=resource, changes=data, bookable_hours=hours)
        return self._respond(resource)

    def destroy(self, request, pk=None):
        resource = self._get(request, pk)
        require_role(request, resource.venue.organization_id, "configure")
        check_if_match(request, resource)
        services.resource_delete(resource=resource)
        return Response(status=status.HTTP_204_NO_CONTENT)
