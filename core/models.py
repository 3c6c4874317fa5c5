"""core's one model: the API's idempotency keys (docs/architecture.md#idempotent-retries).

It lives in core because it is API plumbing that belongs to no domain app, like the error handler and the
ETags beside it; it refers to no other model (the caller is a string), so core still imports no app."""

from __future__ import annotations

import uuid

from django.db import models


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` of one caller: claimed (in flight) while its first request runs, then the answer
    to replay until `expires_at`. `status_code` is None while in flight."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField()  # when the request that holds the key started (a takeover resets it)
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    # "user:<pk>" for a signed-in caller, "address:<client address>" for an anonymous one.
    caller = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    # SHA-256 of the method, the path and the canonical JSON of the body: a repeat must match it.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)  # the ones worth replaying: Content-Type, ETag, Location

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="core_idempotency_key_per_caller")]

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"

    @property
    def in_flight(self) -> bool:
        return self.status_code is None
