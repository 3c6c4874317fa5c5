"""core.idempotency, the store behind Idempotency-Key (docs/architecture.md#idempotent-retries): a claim per caller
and key, the outcome of a repeat, takeovers of expired and abandoned keys, and the purge of expired keys (its
command and the sweeper). The HTTP side is tested in tests/api/test_idempotency.py."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.idempotency import (
    LEASE,
    TTL,
    Outcome,
    idempotency_claim,
    idempotency_complete,
    idempotency_keys_purge,
    idempotency_release,
)
from core.models import IdempotencyKey
from tests.factories import IdempotencyKeyFactory

pytestmark = pytest.mark.django_db

CALLER = "user:1"
FINGERPRINT = "a" * 64


def claim(caller=CALLER, key="k", fingerprint=FINGERPRINT):
    return idempotency_claim(caller=caller, key=key, fingerprint=fingerprint)


def answered(record, status=201):
    assert idempotency_complete(record=record, status_code=status, body='{"ok": true}', headers={"ETag": '"1"'})


def test_the_first_claim_holds_the_key_for_24_hours():
    before = timezone.now()
    result = claim()
    assert result.outcome is Outcome.CLAIMED
    record = IdempotencyKey.objects.get()
    assert (record.caller, record.key, record.fingerprint, record.in_flight) == (CALLER, "k", FINGERPRINT, True)
    assert record.expires_at - record.created_at == TTL
    assert record.created_at >= before


@pytest.mark.parametrize(
    ("status", "fingerprint", "outcome"),
    [
        (None, FINGERPRINT, Outcome.IN_USE),
        (201, FINGERPRINT, Outcome.REPLAY),
        (400, FINGERPRINT, Outcome.REPLAY),
        (None, "b" * 64, Outcome.REUSED),
        (201, "b" * 64, Outcome.REUSED),
    ],
    ids=["in flight", "answered", "answered 4xx", "in flight, other request", "answered, other request"],
)
def test_a_repeat_is_told_what_became_of_the_first(status, fingerprint, outcome):
    first = claim().record
    if status is not None:
        answered(first, status)
    result = claim(fingerprint=fingerprint)
    assert result.outcome is outcome
    assert result.record.pk == first.pk
    assert IdempotencyKey.objects.count() == 1


def test_keys_are_per_caller():
    assert claim(caller="user:1").outcome is Outcome.CLAIMED
    assert claim(caller="user:2").outcome is Outcome.CLAIMED
    assert claim(caller="address:203.0.113.1").outcome is Outcome.CLAIMED
    assert IdempotencyKey.objects.count() == 3


@pytest.mark.parametrize("status", [None, 201], ids=["in flight", "answered"])
def test_an_expired_key_is_taken_over_even_for_another_request(status):
    first = claim().record
    if status is not None:
        answered(first)
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    result = claim(fingerprint="b" * 64)
    assert result.outcome is Outcome.CLAIMED
    record = IdempotencyKey.objects.get()
    assert (record.pk, record.fingerprint, record.in_flight, record.body, record.headers) == (
        first.pk,
        "b" * 64,
        True,
        "",
        {},
    )
    assert record.expires_at > timezone.now() + TTL - timedelta(minutes=1)


def test_a_key_in_flight_past_its_lease_is_taken_over_and_the_late_answer_is_not_stored():
    first = claim().record
    IdempotencyKey.objects.update(created_at=timezone.now() - LEASE - timedelta(seconds=1))
    first.refresh_from_db()
    assert claim().outcome is Outcome.CLAIMED
    # The dead request's late answer (or release) touches nothing: the key is the new request's.
    assert not idempotency_complete(record=first, status_code=201, body="{}", headers={})
    idempotency_release(record=first)
    assert IdempotencyKey.objects.get().in_flight


def test_an_answered_key_is_not_taken_over_after_the_lease():
    answered(claim().record)
    IdempotencyKey.objects.update(created_at=timezone.now() - LEASE * 10)
    assert claim().outcome is Outcome.REPLAY


def test_release_frees_the_key_for_the_next_claim():
    first = claim().record
    idempotency_release(record=first)
    assert not IdempotencyKey.objects.exists()
    assert claim(fingerprint="b" * 64).outcome is Outcome.CLAIMED


def test_an_answered_key_is_neither_answered_again_nor_released():
    record = claim().record
    answered(record)
    assert not idempotency_complete(record=record, status_code=500, body="", headers={})
    idempotency_release(record=record)
    assert IdempotencyKey.objects.get().status_code == 201


# --- the purge -------------------------------------------------------------------------------------------------


def _expired_and_fresh():
    now = timezone.now()
    expired = [IdempotencyKeyFactory(created_at=now - TTL - timedelta(seconds=s), status_code=201) for s in (1, 60)]
    fresh = [
        IdempotencyKeyFactory(status_code=201),
        IdempotencyKeyFactory(created_at=now - TTL + timedelta(seconds=30)),
    ]
    return expired, fresh


def test_the_purge_deletes_only_expired_keys():
    _, fresh = _expired_and_fresh()
    assert idempotency_keys_purge() == 2
    assert set(IdempotencyKey.objects.values_list("pk", flat=True)) == {row.pk for row in fresh}
    assert idempotency_keys_purge(now=timezone.now() + timedelta(minutes=1)) == 1


def test_the_purge_command_says_how_many_it_deleted():
    _expired_and_fresh()
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert out.getvalue().strip() == "idempotency keys purged: 2"
    assert IdempotencyKey.objects.count() == 2


def test_the_sweeper_purges_expired_keys_on_every_pass():
    _expired_and_fresh()
    out = StringIO()
    call_command("send_queued_notifications", stdout=out)
    assert out.getvalue().strip() == "idempotency keys purged: 2"
    assert IdempotencyKey.objects.count() == 2
    out = StringIO()
    call_command("send_queued_notifications", stdout=out)
    assert out.getvalue() == ""  # nothing more to purge: the sweeper stays quiet
