from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from resources.base import BaseModel
from resources.models import Organization


class NotificationStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    # A worker claimed the row and is talking to the provider until `claimed_until`; after that the
    # worker is presumed dead and the row is due again.
    SENDING = "SENDING", "Sending"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed"


class DeliveryStatus(models.TextChoices):
    """What the provider's tracking webhook last told us (anymail's normalized event types we keep)."""

    QUEUED = "queued", "Queued by the provider"
    SENT = "sent", "Sent by the provider"
    DEFERRED = "deferred", "Deferred"
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Marked as spam"


class Notification(BaseModel):
    """Every email we send: written in the same transaction as the change that caused it (an outbox) with
    a snapshot of what it shows, rendered and sent by a task after commit."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=50)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    # What the email shows, as it was when the row was written (plain JSON: the templates, their context,
    # the language, an .ics's events): notifications.rendering describes it. The worker renders it into
    # the bodies and attachments below right before the first send, and stores them: a retry sends the
    # same bytes. Empty for rows written with their bodies already rendered.
    snapshot = models.JSONField(default=dict, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    # [{"filename", "mimetype", "content"}] with text content (e.g. an .ics).
    attachments = models.JSONField(default=list, blank=True)
    # The rows one send task sends: every email a transaction writes shares it (notifications.services).
    batch = models.UUIDField(null=True, blank=True)
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.UUIDField(null=True, blank=True)
    related = GenericForeignKey("content_type", "object_id")
    status = models.CharField(max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The lease of the worker sending it (status SENDING); past it, the row is due again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    delivery_status = models.CharField(max_length=30, blank=True, choices=DeliveryStatus.choices)
    delivery_updated_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Only the few unsettled rows: the sweeper's "what is due" never reads the sent history.
            models.Index(
                fields=["status", "next_attempt_at"],
                name="notification_due",
                condition=Q(status__in=["QUEUED", "SENDING"]),
            ),
            models.Index(fields=["content_type", "object_id"], name="notification_related"),
            # The send task's rows; once sent they leave the index.
            models.Index(fields=["batch"], name="notification_batch", condition=Q(status__in=["QUEUED", "SENDING"])),
            # The provider's tracking webhook finds the row by the id it gave when accepting it.
            models.Index(
                fields=["provider_message_id"], name="notification_provider_id", condition=~Q(provider_message_id="")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {', '.join(self.recipients)}"

    @property
    def rendered(self) -> bool:
        """Whether the bodies are there (a rendered text body is never empty: it ends with a newline)."""
        return bool(self.body_text) or not self.snapshot
