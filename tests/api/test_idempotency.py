"""Idempotency-Key on every POST of the API (docs/architecture.md#idempotent-retries): the first request with a key
runs and its answer is kept for 24 hours per caller and key; a repeat gets that answer with
`Idempotent-Replayed: true` and changes nothing; another body is 422, a repeat while the first runs is 409; a 4xx
is kept, a 5xx is not. The store itself (claims, takeovers, the purge) is tested in tests/core/test_idempotency.py."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.db.models import F
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from bookings.api import booking_views
from bookings.models import Booking, BookingLog
from core.api import idempotency as idempotency_middleware
from core.api.idempotency import HEADER, REPLAYED, fingerprint
from core.idempotency import LEASE, TTL
from core.models import IdempotencyKey
from core.throttles import PublicSubmitThrottle
from events.models import Event
from notifications.models import Notification
from resources.models import Role
from tests.api.booking_helpers import BOOKINGS, SUBMIT, booking_url, create_body, pending, post, stamp, submit_body
from tests.api.conftest import Api, assert_error, bearer_client
from tests.conftest import Setup, future, postgres_only, race
from tests.factories import IdempotencyKeyFactory

KEY = "3f6c2a9e-7d1b-4c55-9a0e-1b2c3d4e5f60"
ANONYMOUS = "address:127.0.0.1"  # the test client's address


def send(client, url: str, body, key: str = KEY, **extra):
    return post(client, url, body, HTTP_IDEMPOTENCY_KEY=key, **extra)


def world() -> tuple[int, int, int, int]:
    """What a booking request writes: bookings, their logs, events (holds), emails."""
    return Booking.objects.count(), BookingLog.objects.count(), Event.objects.count(), Notification.objects.count()


def fingerprint_of(url: str, body: dict) -> str:
    return fingerprint(RequestFactory().post(url, data=json.dumps(body), content_type="application/json"))


def assert_replay(replayed, first) -> None:
    assert replayed.status_code == first.status_code
    assert replayed.content == first.content
    assert replayed[REPLAYED] == "true"
    assert replayed["Content-Type"] == first["Content-Type"]


# --- replays ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_repeat_after_the_first_request_committed_replays_its_answer_and_books_nothing():
    setup = Setup()
    client = APIClient()
    body = submit_body(setup)

    first = send(client, SUBMIT, body)
    assert first.status_code == 201, first.json()
    assert REPLAYED not in first
    assert not connection.in_atomic_block  # the booking is committed: this is what a retry finds
    written = world()
    assert written[0] == 1

    again = send(client, SUBMIT, body)

    assert_replay(again, first)
    assert again.json()["accessToken"] == first.json()["accessToken"]  # the booker's link is not lost
    assert world() == written
    assert IdempotencyKey.objects.get().status_code == 201


def test_key_order_and_spacing_of_the_body_do_not_matter(api, setup):
    body = submit_body(setup)
    first = send(api.public, SUBMIT, body)
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = api.public.post(SUBMIT, reordered, content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY)
    assert_replay(again, first)
    assert Booking.objects.count() == 1


def test_a_staff_decision_is_replayed_not_decided_twice(api, setup):
    booking = pending(setup, setup.event(start=future(3)))
    body = {"clientBookingLastUpdatedAt": stamp(booking)}
    first = send(api.manager, booking_url(booking.pk, "approve"), body)
    assert first.status_code == 200, first.json()
    logs = BookingLog.objects.count()

    again = send(api.manager, booking_url(booking.pk, "approve"), body)

    assert_replay(again, first)  # not the 409 INVALID_TRANSITION a second approval would get
    assert BookingLog.objects.count() == logs


def test_the_answers_etag_and_location_are_replayed(api, setup):
    body = {"name": "Annex", "timezone": "Europe/London", "orgId": str(setup.org.pk)}
    first = send(api.admin, "/api/v1/venues", body)
    assert first.status_code == 201, first.json()
    assert first.has_header("ETag")
    again = send(api.admin, "/api/v1/venues", body)
    assert_replay(again, first)
    assert again["ETag"] == first["ETag"]
    assert IdempotencyKey.objects.get().headers == {
        name: first[name] for name in ("Content-Type", "ETag", "Location") if first.has_header(name)
    }


def test_a_4xx_is_kept_and_replayed_as_that_4xx(api, setup):
    body = submit_body(setup)
    body.pop("portalId")
    first = send(api.public, SUBMIT, body)
    assert_error(first, 400, "REQUIRED", "portalId")

    again = send(api.public, SUBMIT, body)

    assert_replay(again, first)
    assert IdempotencyKey.objects.get().status_code == 400
    # The corrected request is another request: it needs another key.
    body["portalId"] = str(setup.portal.pk)
    assert_error(send(api.public, SUBMIT, body), 422, "IDEMPOTENCY_KEY_REUSED", HEADER)
    assert send(api.public, SUBMIT, body, key="a-new-key").status_code == 201


# --- refusals ---------------------------------------------------------------------------------------------


def test_the_same_key_with_another_body_or_path_is_422_and_changes_nothing(api, setup):
    body = submit_body(setup)
    assert send(api.public, SUBMIT, body).status_code == 201
    written = world()

    other_body = submit_body(setup, setup.event(start=future(9)))
    error = assert_error(send(api.public, SUBMIT, other_body), 422, "IDEMPOTENCY_KEY_REUSED", HEADER)
    assert error["status"] == 422
    assert_error(send(api.public, "/api/v1/bookings/validate", body), 422, "IDEMPOTENCY_KEY_REUSED", HEADER)
    assert world() == written


def test_a_repeat_while_the_first_request_runs_is_409(api, setup):
    body = submit_body(setup)
    IdempotencyKeyFactory(caller=ANONYMOUS, key=KEY, fingerprint=fingerprint_of(SUBMIT, body))

    response = send(api.public, SUBMIT, body)

    assert_error(response, 409, "IDEMPOTENCY_KEY_IN_USE", HEADER)
    assert response["Retry-After"] == "1"
    assert world()[0] == 0


def test_a_key_left_in_flight_by_a_dead_worker_is_taken_over_after_its_lease(api, setup):
    body = submit_body(setup)
    IdempotencyKeyFactory(
        caller=ANONYMOUS, key=KEY, fingerprint=fingerprint_of(SUBMIT, body), created_at=timezone.now() - LEASE * 2
    )

    response = send(api.public, SUBMIT, body)

    assert response.status_code == 201, response.json()
    assert REPLAYED not in response
    assert IdempotencyKey.objects.get().status_code == 201


KEYS = {
    "empty": "",
    "only spaces": "   ",
    "256 characters": "k" * 256,
    "256 with a space": " " + "k" * 255,  # the length is counted as sent, as the schema's maxLength says
    "not ASCII": "clé-1",
    "a control character": "key\x01one",
    "a tab inside": "key\tone",
    "DEL": "key\x7f",
}


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_a_key_that_is_not_1_to_255_printable_ascii_characters_is_400(api, setup, key):
    response = send(api.public, SUBMIT, submit_body(setup), key=key)
    assert_error(response, 400, "INVALID", HEADER)
    assert world()[0] == 0
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["k" * 255, "a", "order 66: ~!@#$%^&*()"], ids=["255", "1", "spaces and marks"])
def test_keys_of_1_to_255_printable_ascii_characters_are_accepted(api, setup, key):
    assert send(api.public, SUBMIT, submit_body(setup), key=key).status_code == 201
    assert IdempotencyKey.objects.get().key == key


def test_surrounding_spaces_are_not_part_of_the_key(api, setup):
    body = submit_body(setup)
    first = send(api.public, SUBMIT, body, key="  padded ")
    assert_replay(send(api.public, SUBMIT, body, key="padded"), first)


# --- what is not kept ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "status"), [(RuntimeError("bug"), 500), (OperationalError("connection lost"), 503)], ids=["500", "503"]
)
def test_a_5xx_is_not_kept_so_a_retry_runs_again(setup, monkeypatch, failure, status):
    client = APIClient(raise_request_exception=False)
    body = submit_body(setup)

    def fail(**kwargs):
        raise failure

    monkeypatch.setattr(booking_views, "booking_submit", fail)
    assert send(client, SUBMIT, body).status_code == status
    assert not IdempotencyKey.objects.exists()

    monkeypatch.undo()
    retry = send(client, SUBMIT, body)
    assert retry.status_code == 201, retry.json()
    assert REPLAYED not in retry
    assert world()[0] == 1


def test_a_throttled_request_is_not_kept(api, setup, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "1/minute", raising=False)
    assert post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(8)))).status_code == 201
    body = submit_body(setup)
    assert_error(send(api.public, SUBMIT, body), 429, "THROTTLED")
    assert not IdempotencyKey.objects.exists()
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "10/minute", raising=False)
    assert send(api.public, SUBMIT, body).status_code == 201  # the retry after the wait runs


def test_refused_credentials_keep_nothing(api, setup):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer allot_not-a-token")
    body = create_body(setup)
    assert_error(send(client, BOOKINGS, body), 401)
    assert not IdempotencyKey.objects.exists()
    assert send(api.manager, BOOKINGS, body).status_code == 201


def test_without_the_header_or_on_another_method_nothing_is_kept(api, setup):
    assert post(api.public, SUBMIT, submit_body(setup)).status_code == 201
    booking = Booking.objects.get()
    patched = api.manager.patch(booking_url(booking.pk), {}, format="json", HTTP_IDEMPOTENCY_KEY=KEY)
    assert patched.status_code == 200, patched.json()
    assert api.manager.get(BOOKINGS, HTTP_IDEMPOTENCY_KEY=KEY).status_code == 200
    assert not IdempotencyKey.objects.exists()


def test_a_key_that_cannot_be_claimed_is_503_and_nothing_runs(api, setup, monkeypatch):
    def unavailable(**kwargs):
        raise OperationalError("the server closed the connection")

    monkeypatch.setattr(idempotency_middleware, "idempotency_claim", unavailable)
    response = send(api.public, SUBMIT, submit_body(setup))
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert response["Retry-After"] == "5"
    assert world()[0] == 0


def test_an_answer_that_cannot_be_stored_still_goes_out_and_its_key_stays_in_flight(api, setup, monkeypatch, caplog):
    def unavailable(**kwargs):
        raise OperationalError("the server closed the connection")

    monkeypatch.setattr(idempotency_middleware, "idempotency_complete", unavailable)
    response = send(api.public, SUBMIT, submit_body(setup))
    assert response.status_code == 201, response.json()
    assert IdempotencyKey.objects.get().in_flight  # a retry gets 409 until the lease ends, then runs
    assert "could not be stored" in caplog.text


# --- per caller -----------------------------------------------------------------------------------------------


def test_callers_with_the_same_key_are_independent(api, setup, other):
    bodies = [create_body(setup, None, setup.event(start=future(day))) for day in (3, 4)]
    assert send(api.manager, BOOKINGS, bodies[0]).status_code == 201
    assert send(api[Role.OWNER], BOOKINGS, bodies[1]).status_code == 201  # another user: no 422
    assert send(api.public, SUBMIT, submit_body(setup, setup.event(start=future(5)))).status_code == 201
    # Another organization's owner with the same key and the same body as the manager: its own request (404).
    assert_error(send(other[Role.OWNER], BOOKINGS, bodies[0]), 404)
    assert Booking.objects.count() == 3
    assert IdempotencyKey.objects.filter(key=KEY).count() == 4


def test_one_user_shares_its_keys_across_its_tokens(api, setup):
    body = create_body(setup)
    first = send(api.manager, BOOKINGS, body)
    assert_replay(send(bearer_client(setup.manager), BOOKINGS, body), first)


def test_anonymous_callers_are_told_apart_by_their_address(api, setup):
    first = send(api.public, SUBMIT, submit_body(setup), REMOTE_ADDR="203.0.113.1")
    other_address = send(
        api.public, SUBMIT, submit_body(setup, setup.event(start=future(9))), REMOTE_ADDR="203.0.113.2"
    )
    assert (first.status_code, other_address.status_code) == (201, 201)
    assert_replay(send(api.public, SUBMIT, submit_body(setup), REMOTE_ADDR="203.0.113.1"), first)
    assert sorted(IdempotencyKey.objects.values_list("caller", flat=True)) == [
        "address:203.0.113.1",
        "address:203.0.113.2",
    ]


def test_behind_a_proxy_the_address_is_the_one_the_throttle_counts(api, setup, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxied = {"REMOTE_ADDR": "10.0.0.1"}
    first = send(api.public, SUBMIT, submit_body(setup), HTTP_X_FORWARDED_FOR="198.51.100.1", **proxied)
    forged = send(api.public, SUBMIT, submit_body(setup), HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.1", **proxied)
    assert_replay(forged, first)  # a forged first hop is the same client
    other = send(
        api.public,
        SUBMIT,
        submit_body(setup, setup.event(start=future(9))),
        HTTP_X_FORWARDED_FOR="198.51.100.2",
        **proxied,
    )
    assert other.status_code == 201, other.json()
    assert IdempotencyKey.objects.filter(caller="address:198.51.100.1").exists()


# --- 24 hours ---------------------------------------------------------------------------------------------------


def test_an_answer_is_replayed_for_24_hours_then_the_key_runs_again(api, setup):
    body = submit_body(setup)
    first = send(api.public, SUBMIT, body)
    # A minute before the 24 hours are up: still replayed.
    IdempotencyKey.objects.update(created_at=F("created_at") - TTL + timedelta(minutes=1))
    IdempotencyKey.objects.update(expires_at=F("created_at") + TTL)
    assert_replay(send(api.public, SUBMIT, body), first)

    IdempotencyKey.objects.update(created_at=F("created_at") - timedelta(minutes=2))
    IdempotencyKey.objects.update(expires_at=F("created_at") + TTL)
    later = send(api.public, SUBMIT, submit_body(setup, setup.event(start=future(9))))

    assert later.status_code == 201, later.json()
    assert REPLAYED not in later
    assert Booking.objects.count() == 2
    assert IdempotencyKey.objects.get().status_code == 201


# --- the cost -----------------------------------------------------------------------------------------------------


def _statements(client, url, body, **extra) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = post(client, url, body, **extra)
    assert response.status_code in (200, 201), response.json()
    return len(ctx.captured_queries), response


@pytest.mark.django_db(transaction=True)
def test_the_header_costs_two_statements_and_a_replay_two():
    """Outside a test's transaction, as production runs: the claim's INSERT and the answer's UPDATE; a replay is
    the INSERT that finds the key taken and the SELECT that reads the answer."""
    setup = Setup()
    api = Api(setup)
    post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(40))))  # warm the configuration cache
    plain, _ = _statements(api.public, SUBMIT, submit_body(setup, setup.event(start=future(5))))
    keyed, first = _statements(
        api.public, SUBMIT, submit_body(setup, setup.event(start=future(6))), HTTP_IDEMPOTENCY_KEY=KEY
    )
    replay, again = _statements(
        api.public, SUBMIT, submit_body(setup, setup.event(start=future(6))), HTTP_IDEMPOTENCY_KEY=KEY
    )
    assert keyed - plain == 2
    assert replay == 2
    assert_replay(again, first)

    warm = pending(setup, setup.event(start=future(2)))
    _statements(api.manager, booking_url(warm.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(warm)})
    booking = pending(setup, setup.event(start=future(3)))
    plain, _ = _statements(
        api.manager, booking_url(booking.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(booking)}
    )
    booking = pending(setup, setup.event(start=future(4)))
    keyed, _ = _statements(
        api.manager,
        booking_url(booking.pk, "approve"),
        {"clientBookingLastUpdatedAt": stamp(booking)},
        HTTP_IDEMPOTENCY_KEY=KEY,
    )
    assert keyed - plain == 2  # the token is looked up once, not again by the view


# --- concurrent duplicates ------------------------------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_of_a_submit_make_one_booking():
    setup = Setup(hold=False)  # pending requests hold nothing: without the key each duplicate would be booked
    body = submit_body(setup)

    def submit(_i: int):
        return send(APIClient(), SUBMIT, body)

    results = race(8, submit)
    errors = [value for kind, value in results if kind != "ok"]
    assert not errors, errors
    responses = [value for _kind, value in results]
    assert sorted({r.status_code for r in responses}) in ([201], [201, 409]), [r.status_code for r in responses]
    originals = [r for r in responses if r.status_code == 201 and REPLAYED not in r]
    assert len(originals) == 1
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "IDEMPOTENCY_KEY_IN_USE", HEADER)
        else:
            assert response.content == originals[0].content
    assert Booking.objects.count() == 1
    assert BookingLog.objects.count() == 1
    assert IdempotencyKey.objects.get().status_code == 201


# --- the schema -----------------------------------------------------------------------------------------------------


def test_every_post_documents_the_header_and_its_answers(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    posts = {path: item["post"] for path, item in schema["paths"].items() if "post" in item}
    assert SUBMIT in posts and len(posts) >= 20
    for path, operation in posts.items():
        [parameter] = [p for p in operation["parameters"] if p.get("name") == HEADER]
        assert (parameter["in"], parameter["required"], parameter["schema"]["maxLength"]) == ("header", False, 255), (
            path
        )
        assert {"400", "409", "422"} <= set(operation["responses"]), path
        assert "IDEMPOTENCY_KEY_IN_USE" in operation["responses"]["409"]["description"], path
        assert "IDEMPOTENCY_KEY_REUSED" in operation["responses"]["422"]["description"], path
        assert all(REPLAYED in r["headers"] for s, r in operation["responses"].items() if s[0] == "2"), path
    others = [op for item in schema["paths"].values() for method, op in item.items() if method != "post"]
    assert not [op for op in others if any(p.get("name") == HEADER for p in op.get("parameters", []))]
