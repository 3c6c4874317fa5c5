"""The store behind the API's `Idempotency-Key` (docs/architecture.md#idempotent-retries): claim a key before the
request runs, record its answer after, free it when the answer must not be replayed, purge expired keys.

Each function is one short statement of its own (a claim is an INSERT in a transaction of its own), never
part of the request's transaction: the claim must be visible to a concurrent duplicate before the request's
work starts, and the answer is recorded after that work committed."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.models import IdempotencyKey
from core.scrub import Identifiers

# How long an answer is replayed, counted from the first request.
TTL = timedelta(hours=24)
# How long a request may hold its key in flight. gunicorn ends a request after 30 s (config/gunicorn.py), so
# a key still in flight after this was left by a worker that died mid-request: a repeat takes it over and
# runs, rather than answering IDEMPOTENCY_KEY_IN_USE until the key expires.
LEASE = timedelta(minutes=5)
# A claim that loses a race with a request that frees its key meanwhile tries again, this many times.
ATTEMPTS = 3


class Outcome(enum.Enum):
    CLAIMED = "claimed"  # the caller holds the key: run the request, then complete or release it
    REPLAY = "replay"  # answered before: send the stored answer
    IN_USE = "in_use"  # the first request with this key is still running
    REUSED = "reused"  # the key was used for another request (another body or path)


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    record: IdempotencyKey | None  # None only for IN_USE after every attempt lost a race


def idempotency_claim(*, caller: str, key: str, fingerprint: str) -> Claim:
    """Claim `key` for `caller`, or say why not: the unique (caller, key) constraint decides which of
    concurrent duplicates is first. An expired key, or one abandoned in flight, is taken over."""
    for _attempt in range(ATTEMPTS):
        now = timezone.now()
        record = _insert(caller=caller, key=key, fingerprint=fingerprint, now=now)
        if record is not None:
            return Claim(Outcome.CLAIMED, record)
        existing = IdempotencyKey.objects.filter(caller=caller, key=key).first()
        if existing is None:  # freed (a 5xx) or purged since the insert failed
            continue
        if _stale(existing, now):
            if _take_over(existing, fingerprint=fingerprint, now=now):
                return Claim(Outcome.CLAIMED, existing)
            continue  # another repeat took it over first
        if existing.fingerprint != fingerprint:
            return Claim(Outcome.REUSED, existing)
        return Claim(Outcome.IN_USE if existing.in_flight else Outcome.REPLAY, existing)
    return Claim(Outcome.IN_USE, None)


def idempotency_complete(*, record: IdempotencyKey, status_code: int, body: str, headers: dict[str, str]) -> bool:
    """Store the answer of the request that holds `record`; False if it no longer holds it (taken over)."""
    updated = _held(record).update(status_code=status_code, body=body, headers=headers, updated_at=timezone.now())
    return updated == 1


def idempotency_release(*, record: IdempotencyKey) -> None:
    """Free the key of a request whose answer must not be replayed (a 5xx, a throttled request): a retry runs."""
    _held(record).delete()


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Delete the expired keys; how many."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _insert(*, caller: str, key: str, fingerprint: str, now: datetime) -> IdempotencyKey | None:
    def create() -> IdempotencyKey:
        expires_at = now + TTL
        fields = {"fingerprint": fingerprint, "created_at": now, "updated_at": now, "expires_at": expires_at}
        return IdempotencyKey.objects.create(caller=caller, key=key, **fields)

    try:
        if connection.get_autocommit():  # outside any transaction the INSERT is one of its own, committed at once
            return create()
        # Inside one (a test's), a savepoint, so that a duplicate's IntegrityError leaves the transaction usable.
        with transaction.atomic():
            return create()
    except IntegrityError:
        return None


def _stale(record: IdempotencyKey, now: datetime) -> bool:
    return record.expires_at <= now or (record.in_flight and record.created_at <= now - LEASE)


def _take_over(record: IdempotencyKey, *, fingerprint: str, now: datetime) -> bool:
    """Claim an expired or abandoned key in one conditional UPDATE: of concurrent repeats, one wins."""
    fresh: dict[str, Any] = {
        "fingerprint": fingerprint,
        "status_code": None,
        "body": "",
        "headers": {},
        "created_at": now,
        "updated_at": now,
        "expires_at": now + TTL,
    }
    stale = Q(expires_at__lte=now) | Q(status_code__isnull=True, created_at__lte=now - LEASE)
    if IdempotencyKey.objects.filter(stale, pk=record.pk, created_at=record.created_at).update(**fresh) != 1:
        return False
    for name, value in fresh.items():
        setattr(record, name, value)
    return True


def _held(record: IdempotencyKey) -> QuerySet[IdempotencyKey]:
    # The row as this request claimed it: in flight and not taken over since (created_at moves on a takeover).
    return IdempotencyKey.objects.filter(pk=record.pk, created_at=record.created_at, status_code__isnull=True)


def idempotency_keys_erase(*, who: Identifiers) -> int:
    """Forget the stored answers that name one of a person's email addresses (an erasure,
    docs/architecture.md#personal-data): they are deleted, not scrubbed (a key is the caller's, not an
    organization's, and lives 24 hours: a retry then runs again instead of replaying); keys still in flight
    are left to finish. Returns how many were deleted."""
    if not who.emails:
        return 0
    about = Q(pk=None)
    for email in who.emails:
        about |= Q(body__icontains=email)
    rows = IdempotencyKey.objects.filter(about, status_code__isnull=False).values_list("pk", "body")
    # A whole address only: "ada@example.org" is not in "lada@example.org".
    address = re.compile("|".join(rf"(?<![\w.+-]){re.escape(a)}(?![\w-])" for a in who.emails), re.IGNORECASE)
    named = [pk for pk, body in rows if address.search(body)]
    return IdempotencyKey.objects.filter(pk__in=named).delete()[0]
