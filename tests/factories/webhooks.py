"""factory-boy factories of the webhooks app."""

import base64
import uuid

import factory
from django.utils import timezone

from webhooks.models import EVENT_TYPES, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

from .resources import OrganizationFactory


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    organization = factory.SubFactory(OrganizationFactory)
    url = "http://127.0.0.1:9/hooks"  # the discard port: overridden by tests that send
    description = factory.Sequence(lambda n: f"Integration {n}")
    # The Standard Webhooks form: "whsec_" and the base64 of the key (here 33 readable bytes).
    secret = factory.Sequence(
        lambda n: "whsec_" + base64.b64encode(f"test-secret-{n:08d}-abcdefghijkl".encode()).decode()
    )
    event_types = factory.LazyFunction(lambda: list(EVENT_TYPES))
    active = True


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    event_id = factory.LazyFunction(uuid.uuid4)
    event_type = "booking.submitted"
    data = factory.LazyFunction(dict)
    event_at = factory.LazyFunction(timezone.now)
    status = DeliveryStatus.PENDING
    next_attempt_at = factory.LazyFunction(timezone.now)


class WebhookAttemptFactory(factory.django.DjangoModelFactory):
    """The first try of a delivery, answered 200."""

    class Meta:
        model = WebhookAttempt

    delivery = factory.SubFactory(WebhookDeliveryFactory)
    number = 1
    attempted_at = factory.LazyFunction(timezone.now)
    response_status = 200
    duration_ms = 0
