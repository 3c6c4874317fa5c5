"""A delivery keeps the event's data and time; its body (the envelope) is built when it is sent."""

from datetime import datetime

from django.db import migrations, models


def envelope_to_data(apps, schema_editor):
    WebhookDelivery = apps.get_model("webhooks", "WebhookDelivery")
    for delivery in WebhookDelivery.objects.only("id", "payload", "created_at").iterator(chunk_size=500):
        payload = delivery.payload or {}
        try:
            event_at = datetime.fromisoformat(payload["createdAt"].replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError, AttributeError):
            event_at = delivery.created_at
        WebhookDelivery.objects.filter(pk=delivery.pk).update(data=payload.get("data") or {}, event_at=event_at)


def data_to_envelope(apps, schema_editor):
    WebhookDelivery = apps.get_model("webhooks", "WebhookDelivery")
    for delivery in WebhookDelivery.objects.select_related("endpoint").iterator(chunk_size=500):
        payload = {
            "id": str(delivery.event_id),
            "type": delivery.event_type,
            "createdAt": delivery.event_at.isoformat().replace("+00:00", "Z"),
            "orgId": str(delivery.endpoint.organization_id),
            "data": delivery.data,
        }
        WebhookDelivery.objects.filter(pk=delivery.pk).update(payload=payload)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="data",
            field=models.JSONField(default=dict),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="event_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="payload",
            field=models.JSONField(null=True),
        ),
        migrations.RunPython(envelope_to_data, data_to_envelope),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event_at",
            field=models.DateTimeField(),
        ),
        migrations.RemoveField(
            model_name="webhookdelivery",
            name="payload",
        ),
    ]
