"""Outbound webhooks for integrators (docs/architecture.md#webhooks): an organization's endpoints, and the log
of what was sent to them.

A WebhookDelivery is an outbox row: written in the transaction of the change it reports (so a rolled
back change sends nothing) with the event's data as it was then; its body is built and sent after
commit, retried with back-off, and kept with one WebhookAttempt per try so staff and integrators can
see what their server answered.
"""

from datetime import UTC
from typing import Any

from django.db import models
from django.db.models import Q

from resources.base import BaseModel
from resources.models import Organization

# What integrators can subscribe to. The names are part of the API: never rename one.
EVENT_TYPES = (
    "booking.submitted",
    "booking.approved",
    "booking.denied",
    "booking.canceled",
    "change_request.submitted",
    "change_request.approved",
    "change_request.denied",
    "event.created",
    "event.updated",
    "event.deleted",
)


class DeliveryStatus(models.IntegerChoices):
    # Integers on the wire, like every enum of the API (docs/adr/0007-camelcase-integer-enum-wire-format.md).
    PENDING = 0, "PENDING"  # waiting for its first try or its next retry (next_attempt_at)
    SENDING = 1, "SENDING"  # a worker claimed it until lease_until; after that it is presumed dead
    SUCCEEDED = 2, "SUCCEEDED"
    FAILED = 3, "FAILED"  # every retry used up


class WebhookEndpoint(BaseModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000, help_text="http(s) URL that receives a POST per event.")
    description = models.CharField(max_length=200, blank=True)
    # Kept in clear: every signature needs it. "whsec_" and the base64 of the HMAC key (the Standard
    # Webhooks form, docs/architecture.md#webhooks). Shown once, never listed. Text, not a bounded
    # CharField: a secret converted from the old format holds the base64 of up to 200 characters.
    secret = models.TextField()
    event_types = models.JSONField(default=list, help_text="The event types sent to this endpoint.")
    active = models.BooleanField(default=True)
    # FAILED deliveries in a row (a success resets it); at WEBHOOKS_DISABLE_AFTER_FAILURES the endpoint is
    # switched off and its organization's owners and admins are emailed.
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(BaseModel):
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The event's id, sent as the `webhook-id` header: the same for every endpoint that gets the event,
    # and on every retry, so receivers can drop duplicates.
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=50)
    # The event's `data`, as it was when the change that caused it committed (the caller's payload
    # function runs in that transaction), and when it happened; the body around it is built when it is
    # sent (`payload`).
    data = models.JSONField(default=dict)
    event_at = models.DateTimeField()
    status = models.PositiveSmallIntegerField(choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_result = models.CharField(max_length=300, blank=True, help_text='The last try: "HTTP 500", "timeout", ...')

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The sweeper's query: what is due (pending) or abandoned (sending past its lease).
            models.Index(
                fields=["status", "next_attempt_at"],
                name="webhook_delivery_due",
                condition=Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
            ),
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id}"

    @property
    def payload(self) -> dict[str, Any]:
        """The body that is POSTed (before serializing): the Standard Webhooks envelope around the event's
        data, `{type, timestamp, data}`, where `timestamp` is when the event happened (ISO 8601, UTC), not
        when this attempt is made (that is the `webhook-timestamp` header)."""
        return {
            "type": self.event_type,
            "timestamp": self.event_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": self.data,
        }


class WebhookAttempt(BaseModel):
    """One try of a delivery: when, what the server answered (or why there was no answer), how long."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]
        verbose_name = "webhook attempt"

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
