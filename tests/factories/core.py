"""factory-boy factories of the core app."""

import factory
from django.utils import timezone

from core.idempotency import TTL
from core.models import IdempotencyKey


class IdempotencyKeyFactory(factory.django.DjangoModelFactory):
    """A key claimed just now by an anonymous caller, still in flight (pass status_code for an answered one)."""

    class Meta:
        model = IdempotencyKey

    caller = "address:127.0.0.1"
    key = factory.Sequence(lambda n: f"key-{n:06d}")
    fingerprint = "0" * 64
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda row: row.created_at)
    expires_at = factory.LazyAttribute(lambda row: row.created_at + TTL)
