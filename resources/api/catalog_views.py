"""The endpoints of what a resource offers, units and products (docs/architecture.md#http-api-conventions), and the
base every catalog endpoint shares (the bookings app's rates, discount codes and booking credits too): staff of the
object's organization read, admins write; another organization's object is 404, and an id in a body that points
into another organization is 400 NOT_FOUND at its field. DELETE erases what nothing refers to (204) and archives
the rest (200 with the archived object). Each view parses input, checks permission, calls one service of
resources.catalog, and returns the representation with an ETag."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from core.api.errors import error_responses
from core.api.etags import ETAG, IF_MATCH, check_if_match, with_etag
from core.api.fields import UUID_PATTERN, BooleanFilter, StrictFilterSet
from core.api.input import valid
from core.errors import FieldError, ImmutableField, ValidationFailed
from resources import catalog
from resources.models import Product, Resource, ResourceUnit

from .catalog_serializers import ProductSerializer, ProductWriteSerializer, UnitSerializer, UnitWriteSerializer
from .scoping import get_scoped, require_role, scope

RESOURCE_ORG = "resource__venue__organization"


def scoped_resource(request, resource_id: Any, field: str = "resourceId") -> Resource:
    """A resource the caller can see, named in a body: 400 NOT_FOUND at `field` otherwise (never another
    organization's)."""
    found = scope(Resource.objects.select_related("venue__organization"), request, "venue__organization")
    resource = found.filter(pk=resource_id).first()
    if resource is None:
        raise ValidationFailed(errors=[FieldError(field, "NOT_FOUND", "No such resource.")])
    return resource


def org_rows(queryset: QuerySet, ids: Sequence[Any], field: str) -> list[Any]:
    """The rows of `queryset` (one organization's) with these ids, in the order given (each once); an id that is
    none of them is 400 NOT_FOUND at `field[i]`."""
    found = {row.pk: row for row in queryset.filter(pk__in=list(ids))}
    errors = [
        FieldError(f"{field}[{i}]", "NOT_FOUND", "Not found in this organization.")
        for i, pk in enumerate(ids)
        if pk not in found
    ]
    if errors:
        raise ValidationFailed(errors=errors)
    return [found[pk] for pk in dict.fromkeys(ids)]


def refuse_changes(obj: Any, data: Mapping[str, Any], fixed: Mapping[str, str]) -> None:
    """400 IMMUTABLE_FIELD for a fixed field sent with another value than the object's (the same value, as
    read, is fine)."""
    errors = [
        FieldError(wire, "IMMUTABLE_FIELD", f"{wire} cannot change once created.")
        for source, wire in fixed.items()
        if source in data and data[source] != getattr(obj, source)
    ]
    if errors:
        raise ImmutableField(f"{errors[0].field} cannot change once created.", errors=errors)


def catalog_schema(
    noun: str,
    operations: str,
    out: type[serializers.Serializer],
    write: type[serializers.Serializer],
    *,
    deleting: str = "",
    delete_errors: tuple[int, ...] = (),
):
    """The documentation of list/retrieve/create/partial_update/destroy with every error status; the operation
    ids are `{operations}_list` and so on."""
    return extend_schema_view(
        list=extend_schema(
            operation_id=f"{operations}_list",
            summary=f"List {noun}s",
            responses={200: out(many=True), **error_responses(400, 401)},
        ),
        retrieve=extend_schema(
            operation_id=f"{operations}_retrieve",
            summary=f"Get a {noun}",
            parameters=[ETAG],
            responses={200: out, **error_responses(401, 404)},
        ),
        create=extend_schema(
            operation_id=f"{operations}_create",
            summary=f"Create a {noun} (admin)",
            request=write,
            parameters=[ETAG],
            responses={201: out, **error_responses(400, 401, 403, 404)},
        ),
        partial_update=extend_schema(
            operation_id=f"{operations}_partial_update",
            summary=f"Change a {noun} (admin)",
            request=write,
            parameters=[IF_MATCH, ETAG],
            responses={200: out, **error_responses(400, 401, 403, 404, 412)},
        ),
        destroy=extend_schema(
            operation_id=f"{operations}_destroy",
            summary=f"Delete a {noun} (admin)",
            parameters=[IF_MATCH],
            description=deleting
            or f"Deletes the {noun} (204); one that bookings refer to is archived instead (200, the archived {noun}).",
            responses={200: out, 204: None, **error_responses(401, 403, 404, *delete_errors, 412)},
        ),
    )


class CatalogViewSet(viewsets.GenericViewSet):
    """GET for any member of the object's organization (`org_field` leads to it); writes need `write_action`'s
    role there. Subclasses give the queryset, the serializers and the three service calls."""

    lookup_value_regex = UUID_PATTERN
    org_field = RESOURCE_ORG
    write_action = "configure"
    write_serializer_class: type[serializers.Serializer]
    fixed: Mapping[str, str] = {"resource_id": "resourceId"}  # validated name → wire name, fixed once created

    def base_queryset(self):
        """The rows with what their representation reads (every subclass sets `queryset`)."""
        return self.queryset.all()

    def get_queryset(self) -> QuerySet:
        return scope(self.base_queryset(), self.request, self.org_field)

    def organization_id(self, obj: Any) -> Any:
        return obj.resource.venue.organization_id

    def respond(self, obj: Any, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.base_queryset().get(pk=obj.pk)
        return with_etag(Response(self.get_serializer(fresh).data, status=code), fresh)

    def list(self, request):
        return Response(self.get_serializer(self.filter_queryset(self.get_queryset()), many=True).data)

    def retrieve(self, request, pk=None):
        obj = get_scoped(self.base_queryset(), request, pk, self.org_field)
        return with_etag(Response(self.get_serializer(obj).data), obj)

    def parse(self, request, *, partial: bool = False) -> dict[str, Any]:
        """The body, its shape checked by the write serializer (`parse_context` is its context)."""
        return valid(self.write_serializer_class, request.data, partial=partial, context=self.parse_context())

    def parse_context(self) -> dict[str, Any]:
        return {}

    def create(self, request):
        data = self.parse(request)
        return self.respond(self.create_object(request, data), status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        obj = get_scoped(self.base_queryset(), request, pk, self.org_field)
        require_role(request, self.organization_id(obj), self.write_action)
        data = self.parse(request, partial=True)
        check_if_match(request, obj)
        refuse_changes(obj, data, self.fixed)
        for source in self.fixed:
            data.pop(source, None)
        return self.respond(self.update_object(request, obj, data))

    def destroy(self, request, pk=None):
        obj = get_scoped(self.base_queryset(), request, pk, self.org_field)
        require_role(request, self.organization_id(obj), self.write_action)
        check_if_match(request, obj)
        archived = self.delete_object(obj)
        if archived is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self.respond(archived)

    def resource_for_create(self, request, data: dict[str, Any]) -> Resource:
        """The body's resource (400 NOT_FOUND unless the caller sees it), the caller allowed to configure it."""
        resource = scoped_resource(request, data.pop("resource_id"))
        require_role(request, resource.venue.organization_id, self.write_action)
        return resource

    def create_object(self, request, data: dict[str, Any]) -> Any:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def update_object(self, request, obj: Any, data: dict[str, Any]) -> Any:  # pragma: no cover
        raise NotImplementedError

    def delete_object(self, obj: Any) -> Any:  # pragma: no cover
        raise NotImplementedError


class ResourceRowFilter(StrictFilterSet):
    orgId = django_filters.UUIDFilter(
        field_name="resource__venue__organization_id", help_text="Only this organization's."
    )
    resourceId = django_filters.UUIDFilter(field_name="resource_id", help_text="Only this resource's.")


# --- units -------------------------------------------------------------------------------------------------


class UnitFilter(ResourceRowFilter):
    archived = BooleanFilter(help_text="true or false.")

    class Meta:
        model = ResourceUnit
        fields: list[str] = []


@catalog_schema(
    "unit",
    "units",
    UnitSerializer,
    UnitWriteSerializer,
    deleting="Deletes the unit (204); one that a reservation or a request names is archived instead (200, the "
    "archived unit): it takes no new bookings and keeps its past ones.",
)
@extend_schema(tags=["units"])
class UnitViewSet(CatalogViewSet):
    """Named places inside a resource (desks, seats): each takes one booking at a time (docs/architecture.md#units)."""

    queryset = ResourceUnit.objects.select_related("resource__venue").order_by(
        "resource__name", "resource_id", "order", "name", "id"
    )
    serializer_class = UnitSerializer
    write_serializer_class = UnitWriteSerializer
    filterset_class = UnitFilter

    def create_object(self, request, data):
        return catalog.unit_create(resource=self.resource_for_create(request, data), **data)

    def update_object(self, request, obj, data):
        return catalog.unit_update(unit=obj, changes=data)

    def delete_object(self, obj):
        return catalog.unit_delete(unit=obj)


# --- products ----------------------------------------------------------------------------------------------


class ActiveRowFilter(ResourceRowFilter):
    active = BooleanFilter(help_text="true or false.")


class ProductFilter(ActiveRowFilter):
    class Meta:
        model = Product
        fields: list[str] = []


@catalog_schema("product", "products", ProductSerializer, ProductWriteSerializer)
@extend_schema(tags=["products"])
class ProductViewSet(CatalogViewSet):
    """Things a booking of the resource may add with a quantity (`products: [{productId, quantity}]` on an
    event), priced per use or per minute in the organization's currency."""

    queryset = Product.objects.select_related("resource__venue__organization").order_by(
        "resource__name", "resource_id", "name", "id"
    )
    serializer_class = ProductSerializer
    write_serializer_class = ProductWriteSerializer
    filterset_class = ProductFilter

    def create_object(self, request, data):
        return catalog.product_create(resource=self.resource_for_create(request, data), **data)

    def update_object(self, request, obj, data):
        return catalog.product_update(product=obj, changes=data)

    def delete_object(self, obj):
        return catalog.product_delete(product=obj)
