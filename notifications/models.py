from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from resources.base import BaseModel
from resources.models import Organization


class NotificationStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed"


class Notification(BaseModel):
    """Every email we send: written in the same transaction as the change that caused it (an outbox),
    sent by a task after commit."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=50)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # [{"filename", "mimetype", "content"}] with text content (e.g. an .ics), fixed when the row is written.
    attachments = models.JSONField(default=list, blank=True)
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    object_id = models.UUIDField(null=True, blank=True)
    related = GenericForeignKey("content_type", "object_id")
    status = models.CharField(max_length=6, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    delivery_status = models.CharField(max_length=30, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notification_due",
                         condition=Q(status="QUEUED")),
            models.Index(fields=["content_type", "object_id"], name="notification_related"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {', '.join(self.recipients)}"
