"""Webhook endpoint endpoints (docs/architecture.md#http-api-conventions): any member of the organization
reads, admins write. The secret is write-only: shown once, in the answer of its creation or rotation, and
never listed. Each view parses input, checks the caller's role in the endpoint's organization, calls one
service of webhooks.services."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from uuid import UUID

import django_filters
from django.db.models import Prefetch, Q
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.errors import error_responses
from core.api.etags import ETAG, IF_MATCH, check_if_match, with_etag
from core.api.fields import CURSOR_SCHEMA, UUID_PATTERN, BooleanFilter, StrictFilterSet
from core.api.input import no_body, valid
from core.errors import FieldError, ValidationFailed
from resources.api.scoping import get_scoped, require_role, scope
from resources.models import Organization
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookEndpoint

from .serializers import (
    DeliveryListQuerySerializer,
    DeliveryListSerializer,
    OrgIdSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
)

WRITE = "configure"  # admins and owners


class WebhookEndpointFilter(StrictFilterSet):
    orgId = django_filters.UUIDFilter(field_name="organization_id", help_text="Only this organization's.")
    active = BooleanFilter(help_text="true or false.")

    class Meta:
        model = WebhookEndpoint
        fields: list[str] = []


def _encode_cursor(created_at: datetime, pk) -> str:
    raw = json.dumps([created_at.astimezone(UTC).isoformat(), str(pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        created, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = parse_datetime(created) if isinstance(created, str) else None
        if moment is None or moment.tzinfo is None or not isinstance(pk, str):
            raise ValueError
        return moment.astimezone(UTC), UUID(pk)
    except (ValueError, TypeError, OverflowError, json.JSONDecodeError) as exc:
        raise ValidationFailed(
            errors=[FieldError("cursor", "INVALID", "Use the nextCursor of a previous page.")]
        ) from exc


@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints (without their secrets)",
        description="The endpoints of your organizations (any member may read them; admins change them), each "
        "with the event types it receives and whether it is active.",
        responses={200: WebhookEndpointSerializer(many=True), **error_responses(400, 401)},
    ),
    retrieve=extend_schema(
        summary="Get a webhook endpoint (without its secret)",
        description="One endpoint of your organizations; its ETag serves If-Match on PATCH and DELETE. Another "
        "organization's endpoint is 404.",
        parameters=[ETAG],
        responses={200: WebhookEndpointSerializer, **error_responses(401, 404)},
    ),
    create=extend_schema(
        summary="Create a webhook endpoint (admin)",
        request=WebhookEndpointSerializer,
        parameters=[ETAG],
        description="The response carries the signing `secret` (`whsec_` + base64), this once. Deliveries "
        "follow the Standard Webhooks specification: each event is POSTed as JSON `{type, timestamp, data}` "
        "with the headers `webhook-id` (the event's id, kept by every retry), `webhook-timestamp` (unix "
        'seconds of the attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw '
        'body>">`, keyed with the base64-decoded part of the secret; verify them with a Standard Webhooks '
        "library. A URL that is not http(s) or points to a private address answers 400.",
        responses={201: WebhookEndpointCreatedSerializer, **error_responses(400, 401, 403, 404)},
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint (admin)",
        request=WebhookEndpointUpdateSerializer,
        parameters=[IF_MATCH, ETAG],
        description="`active: true` re-enables an endpoint disabled after repeated failures. A new `secret` "
        "(`whsec_` + base64 of 24 to 64 bytes) replaces the old one at once (it is not shown back).",
        responses={200: WebhookEndpointSerializer, **error_responses(400, 401, 403, 404, 412)},
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint and its delivery log (admin)",
        description="Nothing more is delivered to it, retries included. An If-Match for another version is 412.",
        parameters=[IF_MATCH],
        responses={204: None, **error_responses(401, 403, 404, 412)},
    ),
    rotate_secret=extend_schema(
        summary="Replace the signing secret with a new random one (admin)",
        request=None,
        parameters=[ETAG],
        description="The answer carries the new `secret`, this once. It signs every attempt from now on, "
        "retries of earlier events included; the old secret stops verifying at once.",
        responses={200: WebhookEndpointCreatedSerializer, **error_responses(401, 403, 404)},
    ),
    deliveries=extend_schema(
        summary="The endpoint's delivery log, newest first",
        description="Every attempt to deliver an event to this endpoint, with its answer's status, paged with "
        "`limit` and `cursor` (the previous page's `nextCursor`).",
        filters=False,
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                description="Page size (1–500, default 50).",
            ),
            OpenApiParameter("cursor", CURSOR_SCHEMA, description="nextCursor of the previous page."),
            OpenApiParameter(
                "status",
                OpenApiTypes.INT,
                enum=[0, 1, 2, 3],
                description="0 PENDING, 1 SENDING, 2 SUCCEEDED, 3 FAILED.",
            ),
        ],
        responses={200: DeliveryListSerializer, **error_responses(400, 401, 404)},
    ),
)
@extend_schema(tags=["webhooks"])
class WebhookEndpointViewSet(viewsets.GenericViewSet):
    queryset = WebhookEndpoint.objects.order_by("created_at", "id")
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        return scope(super().get_queryset(), self.request)

    def _out(self, endpoint: WebhookEndpoint, code: int = status.HTTP_200_OK, serializer=WebhookEndpointSerializer):
        endpoint = self.queryset.get(pk=endpoint.pk)
        return with_etag(Response(serializer(endpoint).data, status=code), endpoint)

    def list(self, request):
        return Response(WebhookEndpointSerializer(self.filter_queryset(self.get_queryset()), many=True).data)

    def retrieve(self, request, pk=None):
        endpoint = get_scoped(self.queryset, request, pk)
        return with_etag(Response(WebhookEndpointSerializer(endpoint).data), endpoint)

    def create(self, request):
        org_id = valid(OrgIdSerializer, request.data, strict=False)["orgId"]  # the rest: below
        require_role(request, org_id, WRITE)
        data = valid(WebhookEndpointSerializer, request.data)
        data.pop("organization_id")
        endpoint = services.webhook_endpoint_create(organization=Organization.objects.get(pk=org_id), values=data)
        return self._out(endpoint, status.HTTP_201_CREATED, WebhookEndpointCreatedSerializer)

    def partial_update(self, request, pk=None):
        endpoint = get_scoped(self.queryset, request, pk)
        require_role(request, endpoint.organization_id, WRITE)
        data = valid(WebhookEndpointUpdateSerializer, request.data, partial=True)
        check_if_match(request, endpoint)
        return self._out(services.webhook_endpoint_update(endpoint_id=endpoint.pk, changes=data))

    def destroy(self, request, pk=None):
        endpoint = get_scoped(self.queryset, request, pk)
        require_role(request, endpoint.organization_id, WRITE)
        check_if_match(request, endpoint)
        services.webhook_endpoint_delete(endpoint_id=endpoint.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="rotate-secret", filter_backends=[])
    def rotate_secret(self, request, pk=None):
        endpoint = get_scoped(self.queryset, request, pk)
        require_role(request, endpoint.organization_id, WRITE)
        no_body(request.data)
        endpoint = services.webhook_secret_rotate(endpoint_id=endpoint.pk)
        return self._out(endpoint, status.HTTP_200_OK, WebhookEndpointCreatedSerializer)

    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        endpoint = get_scoped(self.queryset, request, pk)
        query = valid(DeliveryListQuerySerializer, request.query_params)
        deliveries = endpoint.deliveries.order_by("-created_at", "-id")
        if "status" in query:
            deliveries = deliveries.filter(status=query["status"])
        if query.get("cursor"):
            created, last_id = _decode_cursor(query["cursor"])
            deliveries = deliveries.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=last_id))
        limit = query["limit"]
        page = list(
            deliveries.prefetch_related(
                Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number", "created_at"))
            )[: limit + 1]
        )
        next_cursor = None
        if len(page) > limit:
            page = page[:limit]
            next_cursor = _encode_cursor(page[-1].created_at, page[-1].pk)
        return Response({"deliveries": WebhookDeliverySerializer(page, many=True).data, "nextCursor": next_cursor})
