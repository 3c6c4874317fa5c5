"""Standard Webhooks secrets (docs/architecture.md#webhooks): every existing secret becomes
`whsec_` + base64 of its own UTF-8 bytes.

Before, the HMAC key was the secret string's bytes, whatever it looked like (the ones we made already
started with `whsec_`, but their rest was URL-safe base64 that was never decoded). The Standard Webhooks
libraries decode what follows `whsec_`, so each stored secret is rewritten to decode to exactly the old
key: the signatures stay the same, the integrator computes the new form from the secret they hold
(`"whsec_" + base64(old secret)`), and nobody is shown a secret again. Reversible: going back decodes it.
"""

import base64
import binascii

from django.db import migrations, models

PREFIX = "whsec_"


def to_standard(apps, schema_editor):
    WebhookEndpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in WebhookEndpoint.objects.only("id", "secret").iterator(chunk_size=500):
        converted = PREFIX + base64.b64encode(endpoint.secret.encode("utf-8")).decode("ascii")
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=converted)


def to_legacy(apps, schema_editor):
    """The old code keyed the HMAC with the secret string's bytes: a key that is UTF-8 text goes back to
    that text (a converted secret returns to what it was). A random key made since is not text; it keeps
    its `whsec_` string, which the old code then uses as the key, as it did for the secrets it made."""
    WebhookEndpoint = apps.get_model("webhooks", "WebhookEndpoint")
    for endpoint in WebhookEndpoint.objects.only("id", "secret").iterator(chunk_size=500):
        encoded = endpoint.secret.removeprefix(PREFIX)
        try:
            original = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=original)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_delivery_data"),
    ]

    operations = [
        # A converted secret is longer than 200 characters when the old one was long (base64 adds a third).
        migrations.AlterField(model_name="webhookendpoint", name="secret", field=models.TextField()),
        migrations.RunPython(to_standard, to_legacy, elidable=False),
    ]
