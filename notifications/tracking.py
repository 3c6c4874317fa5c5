"""Delivery status from the email provider (docs/architecture.md#emails).

anymail's tracking webhook views (routed under /anymail/, e.g. /anymail/postmark/tracking/) check the
basic-auth secret (ANYMAIL["WEBHOOK_SECRET"]), turn each provider's payload into a normalized
AnymailTrackingEvent and send the `anymail.signals.tracking` signal; this receiver, connected when the
app is ready, stores it on the Notification the provider accepted under that message id.
"""

from __future__ import annotations

from anymail.signals import AnymailTrackingEvent, tracking
from django.dispatch import receiver

from .services import notification_delivery_update


@receiver(tracking, dispatch_uid="notifications.record_delivery_status")
def record_delivery_status(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    # Ids we never sent (another system on the same provider account) and event types we do not keep
    # (inbound, autoresponded, unknown) change nothing; the provider still gets its 200.
    notification_delivery_update(message_id=event.message_id, event_type=event.event_type, at=event.timestamp)
