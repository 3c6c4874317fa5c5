"""Factories of the notifications app."""

import factory

from notifications.models import Notification

from .resources import OrganizationFactory


class NotificationFactory(factory.django.DjangoModelFactory):
    """A queued email (an outbox row), due now."""

    class Meta:
        model = Notification

    organization = factory.SubFactory(OrganizationFactory)
    kind = "test"
    recipients = factory.LazyFunction(lambda: ["ada@example.com"])
    subject = "Hello"
    body_text = "Hello there\n"
