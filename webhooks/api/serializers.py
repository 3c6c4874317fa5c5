"""Wire shapes of webhook endpoints and their delivery log (docs/architecture.md#http-api-conventions: camelCase, UUIDs,
UTC datetimes, integer enums). Shapes only; webhooks.services checks the URL (SSRF) and the rest."""

from __future__ import annotations

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from core.api.fields import (
    BooleanField,
    CursorField,
    ListField,
    PlainTextField,
    StrictQuerySerializer,
    TextField,
    UUIDField,
)
from webhooks.models import EVENT_TYPES, DeliveryStatus
from webhooks.services import SECRET_HELP, SECRET_MAX_LENGTH, SECRET_MIN_LENGTH, SECRET_PATTERN

EVENT_TYPES_HELP = "What to send: any of " + ", ".join(EVENT_TYPES) + "."


_PORT = r"(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
# What webhooks.services.webhook_url_check takes, as a pattern: http(s), a host name (or an IPv4 address),
# no credentials, a port up to 65535, no white space or control characters. (An IPv6 literal in brackets,
# which the check also takes, is left out of the pattern.)
WEBHOOK_URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9-]{1,63}\.)*[A-Za-z0-9-]{1,63}" + _PORT + r"([/?#][^\s\x00-\x1f\x7f\x85]*)?$"
)


@extend_schema_field({"type": "string", "pattern": WEBHOOK_URL_PATTERN})
class WebhookUrlField(TextField):
    """The endpoint's URL (webhooks.services checks it, and where it points)."""


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    orgId = UUIDField(source="organization_id")
    url = WebhookUrlField(
        max_length=2000,
        help_text="http(s) URL that receives a signed POST per event. Private, "
        "loopback and reserved addresses are refused.",
    )
    description = PlainTextField(max_length=200, allow_blank=True, required=False)
    eventTypes = ListField(
        source="event_types",
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        allow_empty=False,
        min_length=1,
        max_length=len(EVENT_TYPES) * 2,
        help_text=EVENT_TYPES_HELP,
    )
    active = BooleanField(
        required=False,
        help_text="false stops sending. true re-enables an endpoint that was "
        "disabled after repeated failures, and clears its failures.",
    )
    secret = TextField(
        write_only=True,
        required=False,
        min_length=SECRET_MIN_LENGTH,
        max_length=SECRET_MAX_LENGTH,
        trim_whitespace=False,
        validators=[RegexValidator(SECRET_PATTERN, message=f"A secret is {SECRET_HELP}.")],
        help_text=f"Write only: the signing secret, {SECRET_HELP}. Left out on create, the server makes one "
        "(32 random bytes) and returns it once, in the 201 response; `POST .../rotate-secret` makes a new one. "
        "Never listed.",
    )
    consecutiveFailures = serializers.IntegerField(
        source="consecutive_failures", read_only=True, help_text="FAILED deliveries in a row (a success resets it)."
    )
    disabledAt = serializers.DateTimeField(
        source="disabled_at",
        read_only=True,
        allow_null=True,
        help_text="When repeated failures switched it off (null otherwise).",
    )
    disabledReason = serializers.CharField(source="disabled_reason", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    lastUpdatedAt = serializers.DateTimeField(source="updated_at", read_only=True)


@extend_schema_serializer(component_name="WebhookEndpoint")  # PATCH body: PatchedWebhookEndpointRequest
class WebhookEndpointUpdateSerializer(WebhookEndpointSerializer):
    """An endpoint never moves to another organization."""

    # Read-only: DRF's own field does (the stubs want the parent's class).
    orgId = serializers.UUIDField(source="organization_id", read_only=True)  # type: ignore[assignment]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The answer of a create or a rotation: the only time the secret is shown."""

    # Read-only: DRF's own field does (the stubs want the parent's class).
    secret = serializers.CharField(  # type: ignore[assignment]
        read_only=True,
        help_text=f"Shown this once: store it to verify signatures ({SECRET_HELP}); pass it as it is to a "
        "Standard Webhooks library, e.g. `Webhook(secret).verify(body, headers)`.",
    )


class OrgIdSerializer(serializers.Serializer):
    """Read first on create, so the role is checked before the rest of the body."""

    orgId = UUIDField()


class WebhookAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    attemptedAt = serializers.DateTimeField(source="attempted_at")
    responseStatus = serializers.IntegerField(
        source="response_status", allow_null=True, help_text="The HTTP status the endpoint answered; null when none."
    )
    error = serializers.CharField(help_text='Why there was no answer ("timeout after 5 s", "connection refused").')
    durationMs = serializers.IntegerField(source="duration_ms")


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Also sent as the Allot-Delivery-Id header.")
    endpointId = serializers.UUIDField(source="endpoint_id")
    eventId = serializers.UUIDField(
        source="event_id", help_text="Sent as the webhook-id header: the same on every retry and every endpoint."
    )
    eventType = serializers.CharField(source="event_type")
    status = serializers.ChoiceField(
        choices=DeliveryStatus.choices, help_text="0 PENDING, 1 SENDING, 2 SUCCEEDED, 3 FAILED"
    )
    attempts = serializers.IntegerField()
    nextAttemptAt = serializers.DateTimeField(
        source="next_attempt_at", allow_null=True, help_text="When a PENDING delivery is tried next."
    )
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)
    lastResult = serializers.CharField(source="last_result")
    payload = serializers.JSONField(
        help_text="The body that is POSTed: `{type, timestamp, data}` (keys sorted; `timestamp` is when the "
        "event happened)."
    )
    attemptLog = WebhookAttemptSerializer(source="attempt_log", many=True)
    createdAt = serializers.DateTimeField(source="created_at")
    lastUpdatedAt = serializers.DateTimeField(source="updated_at")


class DeliveryListQuerySerializer(StrictQuerySerializer):
    limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=50)
    cursor = CursorField()
    status = serializers.ChoiceField(required=False, choices=DeliveryStatus.choices)


class DeliveryListSerializer(serializers.Serializer):
    deliveries = WebhookDeliverySerializer(many=True, help_text="Newest first.")
    nextCursor = serializers.CharField(allow_null=True, help_text="Pass as cursor for the next page; null at the end.")
