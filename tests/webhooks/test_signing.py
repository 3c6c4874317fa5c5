"""Standard Webhooks deliveries (docs/architecture.md#webhooks), checked as an integrator checks them: real POSTs
to a local HTTP receiver, verified with the specification's own Python library (`standardwebhooks`), never with
our code. Tampering, replays, retries, rotation, endpoints whose secret was converted from the old format, and
the old headers kept for one release."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.test import RequestFactory
from django.utils import timezone
from standardwebhooks import webhooks as standard
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core.time import iso
from tests.conftest import future
from tests.factories import WebhookEndpointFactory
from webhooks.delivery import webhook_deliveries_send_due
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import SECRET_PATTERN, webhook_secret_new, webhook_secret_rotate

pytestmark = pytest.mark.django_db

CONVERSION = importlib.import_module("webhooks.migrations.0003_standard_webhooks_secrets")
LEGACY = ("Allot-Timestamp", "Allot-Signature", "Allot-Event-Id", "Allot-Event-Type")


def deliver(setup, receiver, days: int = 7):
    """Submit a booking `days` ahead and send its delivery now: the request the receiver got."""
    before = len(receiver.requests)
    setup.submit(setup.event(future(days, 10)))
    assert webhook_deliveries_send_due() == {"sent": 1}
    [request] = receiver.requests[before:]
    return request


def test_a_delivery_verifies_with_the_standard_webhooks_library(setup, endpoint, receiver):
    request = deliver(setup, receiver)
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)

    delivery = WebhookDelivery.objects.get()
    assert payload == delivery.payload and set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == "booking.submitted" and payload["timestamp"] == iso(delivery.event_at)
    assert payload["data"]["booking"]["status"] == 0
    headers = request.headers
    assert headers["webhook-id"] == str(delivery.event_id)
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", headers["webhook-signature"])


def _tamper_body(request):
    return request.body.replace(b'"status":0', b'"status":1', 1), request.headers


def _tamper_id(request):
    return request.body, {**request.headers, "webhook-id": str(uuid.uuid4())}


def _tamper_timestamp(request):
    return request.body, {**request.headers, "webhook-timestamp": str(int(request.headers["webhook-timestamp"]) - 1)}


def _drop_signature(request):
    return request.body, {k: v for k, v in request.headers.items() if k != "webhook-signature"}


def _space_in_body(request):
    return request.body + b" ", request.headers


@pytest.mark.parametrize("tamper", [_tamper_body, _tamper_id, _tamper_timestamp, _drop_signature, _space_in_body])
def test_a_tampered_request_does_not_verify(setup, endpoint, receiver, tamper):
    request = deliver(setup, receiver)
    Webhook(endpoint.secret).verify(request.body, request.headers)  # the control
    body, headers = tamper(request)
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(body, headers)


def test_another_endpoints_secret_does_not_verify(setup, endpoint, receiver):
    request = deliver(setup, receiver)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(webhook_secret_new()).verify(request.body, request.headers)


def test_a_request_replayed_minutes_later_does_not_verify(setup, endpoint, receiver, monkeypatch):
    request = deliver(setup, receiver)

    def clock(minutes: float) -> type[datetime]:
        class Later(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz) + timedelta(minutes=minutes)

        return Later

    monkeypatch.setattr(standard, "datetime", clock(4))
    Webhook(endpoint.secret).verify(request.body, request.headers)  # inside the library's 5 minutes
    monkeypatch.setattr(standard, "datetime", clock(6))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(endpoint.secret).verify(request.body, request.headers)


def test_a_retry_keeps_its_webhook_id_and_is_signed_afresh(setup, endpoint, receiver, monkeypatch):
    receiver.status = 500
    setup.submit()
    assert webhook_deliveries_send_due() == {"retry": 1}
    receiver.status = 200
    delivery = WebhookDelivery.objects.get()
    # The retry is made 90 seconds later by the clock (within the receiver's tolerance).
    later = timezone.now() + timedelta(seconds=90)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert webhook_deliveries_send_due(now=delivery.next_attempt_at) == {"sent": 1}

    first, retry = receiver.requests
    for request in (first, retry):
        assert Webhook(endpoint.secret).verify(request.body, request.headers) == delivery.payload
    assert first.headers["webhook-id"] == retry.headers["webhook-id"] == str(delivery.event_id)
    assert first.body == retry.body, "the same bytes"
    assert int(retry.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) >= 89
    assert first.headers["webhook-signature"] != retry.headers["webhook-signature"]


def test_after_a_rotation_the_next_attempt_verifies_with_the_new_secret_only(setup, endpoint, receiver):
    old = endpoint.secret
    receiver.status = 503
    setup.submit()
    assert webhook_deliveries_send_due() == {"retry": 1}
    new = webhook_secret_rotate(endpoint_id=endpoint.pk).secret
    receiver.status = 200
    assert webhook_deliveries_send_due(now=WebhookDelivery.objects.get().next_attempt_at) == {"sent": 1}
    retry = receiver.requests[-1]
    Webhook(new).verify(retry.body, retry.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(retry.body, retry.headers)


def readme_receiver(settings, secret: str, handled: list):
    """The Django view of the README's "Verifying a request", run as written."""
    text = (Path(django_settings.BASE_DIR) / "README.md").read_text(encoding="utf-8")
    section = text[text.index("**Verifying a request.**") :]
    code = section[section.index("```python\n") + len("```python\n") : section.index("```\n", 10)]
    settings.ALLOT_WEBHOOK_SECRET = secret
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    namespace["handle"] = lambda *args: handled.append(args)
    return namespace["allot_webhook"]


def test_the_readme_receiver_accepts_a_delivery_and_refuses_a_tampered_one(setup, endpoint, receiver, settings):
    captured = deliver(setup, receiver)
    handled: list = []
    view = readme_receiver(settings, endpoint.secret, handled)
    headers = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in captured.headers.items()
        if name.lower() not in ("content-type", "content-length")
    }

    def post(body: bytes):
        return view(RequestFactory().post("/allot", data=body, content_type="application/json", **headers))

    assert post(captured.body).status_code == 204
    [(msg_id, event_type, data)] = handled
    assert msg_id == captured.headers["webhook-id"] and event_type == "booking.submitted"
    assert data == WebhookDelivery.objects.get().data
    assert post(captured.body.replace(b'"status":0', b'"status":1', 1)).status_code == 400
    assert len(handled) == 1


def test_new_secrets_are_whsec_and_the_base64_of_32_random_bytes():
    made = {webhook_secret_new() for _ in range(20)}
    assert len(made) == 20
    for secret in made:
        assert re.fullmatch(SECRET_PATTERN, secret)
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


# === endpoints from before: converted secrets and the old headers ======================================


@pytest.mark.parametrize(
    "old",
    [
        "whsec_Zk9-x_4bQ1r-Tt_Lk0vA7yW-3s_QpHnE2mXcVbJd8uI",  # what the old code made: URL-safe, never decoded
        "my-own-secret-of-at-least-24-characters",  # chosen by a client, as the old API allowed
        "ein geheimes Schlüsselwort, 🙂 über 24 Zeichen",  # any text: the key was its UTF-8 bytes
        "x" * 200,  # the longest the old column held
    ],
)
def test_an_endpoint_converted_from_the_old_format_keeps_verifying(setup, receiver, old):
    endpoint = WebhookEndpointFactory(organization=setup.org, url=receiver.url, secret=old)
    CONVERSION.to_standard(apps, None)
    endpoint.refresh_from_db()
    # What the integrator computes from the secret they hold (the README and the changelog say how).
    converted = "whsec_" + base64.b64encode(old.encode("utf-8")).decode("ascii")
    assert endpoint.secret == converted

    request = deliver(setup, receiver)
    Webhook(converted).verify(request.body, request.headers)
    # A receiver still on the old headers, with the old recipe and the old secret, verifies too.
    headers = request.headers
    signed = headers["Allot-Timestamp"].encode() + b"." + request.body
    assert headers["Allot-Signature"] == "v1=" + hmac.new(old.encode(), signed, hashlib.sha256).hexdigest()

    CONVERSION.to_legacy(apps, None)  # migrating back restores what the old code needs
    endpoint.refresh_from_db()
    assert endpoint.secret == old


def test_migrating_back_keeps_secrets_made_since_as_they_are(setup):
    made = WebhookEndpointFactory(organization=setup.org, secret=webhook_secret_new())
    CONVERSION.to_legacy(apps, None)
    made.refresh_from_db()
    # Random bytes are not text: the old code then keys with the whole string, as it did for its own.
    assert made.secret.startswith("whsec_")


def test_the_old_headers_come_for_one_release_and_can_be_switched_off(setup, endpoint, receiver, settings):
    request = deliver(setup, receiver)
    headers = request.headers
    assert headers["Allot-Event-Id"] == headers["webhook-id"]
    assert headers["Allot-Timestamp"] == headers["webhook-timestamp"]
    assert headers["Allot-Event-Type"] == "booking.submitted"
    key = base64.b64decode(endpoint.secret.removeprefix("whsec_"))
    signed = headers["Allot-Timestamp"].encode() + b"." + request.body
    assert headers["Allot-Signature"] == "v1=" + hmac.new(key, signed, hashlib.sha256).hexdigest()

    settings.WEBHOOKS_LEGACY_HEADERS = False
    request = deliver(setup, receiver, days=8)
    assert not set(LEGACY) & set(request.headers)
    Webhook(endpoint.secret).verify(request.body, request.headers)


def test_a_stored_secret_that_is_not_base64_fails_the_attempt_instead_of_crashing(setup, endpoint, receiver):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret="whsec_not base64 at all!")
    setup.submit()
    assert webhook_deliveries_send_due() == {"retry": 1}
    [attempt] = WebhookAttempt.objects.all()
    assert attempt.response_status is None and attempt.error.startswith("not sent:")
    assert receiver.requests == []
