"""Every webhook event type's body, as the integrator receives it, compared byte for byte with its golden
file (tests/golden.py says where the files come from and how to regenerate them).

Each case emits through the services' own emit helpers in a fixed world, then the worker sends the
delivery; the POSTed body and the Standard Webhooks headers (the clock is frozen, so the timestamp and the
signature are fixed too) must equal the file, and the signature must be what the `standardwebhooks` library
computes for them."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from unittest import mock

import pytest
from standardwebhooks.webhooks import Webhook

from bookings.lifecycle.audit import booking_emit
from bookings.models import BookingStatus
from events.services.single import emit
from tests.factories import BookingChangeRequestFactory, EventFactory, ReservationFactory, WebhookEndpointFactory
from tests.golden import FROZEN_NOW, at, booking_with_events, build_world, check_golden, frozen_world
from webhooks import delivery as webhook_delivery
from webhooks.delivery import Outcome, webhook_delivery_send
from webhooks.models import EVENT_TYPES, WebhookDelivery

GOLDEN = Path(__file__).parent / "golden"
EVENT_ID = uuid.UUID("11111111-2222-4333-8444-555555555555")
SECRET = "whsec_" + base64.b64encode(b"golden-webhook-secret-32-bytes!!").decode()


def _booking_case(world, event_type: str) -> None:
    booking, _ = booking_with_events(world, status=BookingStatus.APPROVED)
    change_request = None
    if event_type.startswith("change_request."):
        change_request = BookingChangeRequestFactory(
            booking=booking, contact_changes={"name": "Ada King"}, request_note="<p>Later, please</p>"
        )
    booking_emit(booking, event_type, change_request)


def _event_case(world, event_type: str) -> None:
    event = EventFactory(organization=world.org, title="Board <meeting>", start=at(12, 14), end=at(12, 15))
    ReservationFactory(event=event, resource=world.room)
    emit(event, event_type)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_golden(db, event_type):
    posted: list[tuple[bytes, dict]] = []

    def post(url, body, headers):
        posted.append((body, dict(headers)))
        return Outcome(status=204, error="", duration_ms=1)

    with frozen_world(), mock.patch("webhooks.services.uuid4", return_value=EVENT_ID):
        world = build_world()
        WebhookEndpointFactory(organization=world.org, url="https://hooks.example.com/in", secret=SECRET)
        (_event_case if event_type.startswith("event.") else _booking_case)(world, event_type)
        [delivery] = WebhookDelivery.objects.all()
        with mock.patch.object(webhook_delivery, "_post", post):
            assert webhook_delivery_send(delivery_id=delivery.pk) == "sent"
    [(body, headers)] = posted
    assert headers["webhook-signature"] == Webhook(SECRET).sign(str(EVENT_ID), FROZEN_NOW, body)
    shown = {k: headers[k] for k in ("Content-Type", "webhook-id", "webhook-timestamp", "webhook-signature")}
    text = "".join(f"{k}: {v}\n" for k, v in shown.items()) + "\n" + body.decode() + "\n"
    check_golden(GOLDEN / f"{event_type}.txt", text)
