"""The booker's private link /b/<token>/ and the calendar feeds /feeds/<token>.ics resist guessing:
the token is long and random (≥ 256 bits, URL-safe), the booking stores only its hash, and wrong tokens
from one client address are throttled (core.throttles: TOKEN_GUESS_RATE, only misses count) while the
right token keeps working from anywhere else. The API's change-request submit takes the token in its
body and shares the public submit's per-address allowance (PublicSubmitThrottle)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

import pytest

from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking
from core.throttles import PublicSubmitThrottle
from feeds.models import CalendarFeed, new_feed_token
from feeds.services import feed_create
from tests.conftest import future

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
ATTACKER, BOOKER_IP = "198.51.100.66", "203.0.113.7"
LIMIT = 5


@pytest.fixture
def guess_rate(settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token_guess": f"{LIMIT}/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    return LIMIT


@pytest.fixture
def booking(setup):
    result = setup.submit(setup.event(future(7, 10)))
    return result.booking, result.access_token


def wrong_token() -> str:
    return secrets.token_urlsafe(32)


# --- the token itself ---------------------------------------------------------------------------------


def test_the_access_token_is_long_random_and_url_safe(setup):
    tokens = [setup.submit(setup.event(future(7 + i, 10)), email=f"b{i}@example.org").access_token for i in range(5)]
    for token in tokens:
        assert len(token) >= 43 and URL_SAFE.match(token), token  # 43 × 6 bits = 258 ≥ 256 bits
    assert len(set(tokens)) == len(tokens)
    # Not just long: characters vary like random ones (a counter or a timestamp would repeat a lot).
    assert len(set("".join(tokens))) > 40


def test_only_the_hash_of_the_access_token_is_stored(booking):
    row, token = booking
    stored = Booking.objects.filter(pk=row.pk).values().get()
    assert stored["access_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert not [name for name, value in stored.items() if token in str(value)], "the token is stored as is"


def test_a_feed_token_is_long_random_and_url_safe(setup):
    feeds = [feed_create(organization=setup.org, name=f"Feed {i}") for i in range(3)]
    for feed in feeds:
        assert len(feed.token) >= 43 and URL_SAFE.match(feed.token)
    assert len({f.token for f in feeds}) == 3 and len(new_feed_token()) >= 43


# --- guessing the private link ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "events.ics", "change/", "cancel/"])
def test_wrong_private_tokens_are_throttled_per_address(client, booking, guess_rate, suffix):
    _, token = booking
    for _ in range(guess_rate):
        assert client.get(f"/b/{wrong_token()}/{suffix}", REMOTE_ADDR=ATTACKER).status_code == 404

    refused = client.get(f"/b/{wrong_token()}/{suffix}", REMOTE_ADDR=ATTACKER)
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "no-store" in refused["Cache-Control"]
    # While refused, even the right token answers 429 to that address: otherwise the answer would still
    # tell a found token from a wrong one.
    assert client.get(f"/b/{token}/{suffix}", REMOTE_ADDR=ATTACKER).status_code == 429
    # The booker, elsewhere, is not affected.
    assert client.get(f"/b/{token}/", REMOTE_ADDR=BOOKER_IP).status_code == 200
    assert client.get(f"/b/{token}/events.ics", REMOTE_ADDR=BOOKER_IP).status_code == 200


def test_the_throttled_private_page_says_what_to_do(client, booking, guess_rate):
    for _ in range(guess_rate + 1):
        response = client.get(f"/b/{wrong_token()}/", REMOTE_ADDR=ATTACKER)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many attempts" in page and "Wait" in page
    assert response["Referrer-Policy"] == "no-referrer" and "noindex" in response["X-Robots-Tag"]


def test_the_pages_of_the_private_link_share_one_allowance(client, booking, guess_rate):
    suffixes = ["", "events.ics", "change/", "cancel/"]
    for i in range(guess_rate):
        assert client.get(f"/b/{wrong_token()}/{suffixes[i % 4]}", REMOTE_ADDR=ATTACKER).status_code == 404
    assert client.get(f"/feeds/{wrong_token()}.ics", REMOTE_ADDR=ATTACKER).status_code == 429


def test_the_right_token_never_counts(client, booking, guess_rate):
    _, token = booking
    for _ in range(guess_rate * 3):
        assert client.get(f"/b/{token}/", REMOTE_ADDR=BOOKER_IP).status_code == 200
    assert client.get(f"/b/{wrong_token()}/", REMOTE_ADDR=BOOKER_IP).status_code == 404  # not 429


def test_a_forged_x_forwarded_for_does_not_reset_the_count(client, booking, guess_rate):
    codes = [
        client.get(f"/b/{wrong_token()}/", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").status_code
        for i in range(guess_rate + 1)
    ]
    assert codes == [404] * guess_rate + [429]


def test_the_default_allowance_is_in_the_settings(settings, client, booking):
    """Without the fixture: TOKEN_GUESS_RATE (20 a minute by default) from config/settings.py applies."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token_guess"]
    allowed = int(rate.split("/")[0])
    codes = [client.get(f"/b/{wrong_token()}/", REMOTE_ADDR=ATTACKER).status_code for _ in range(allowed + 1)]
    assert codes == [404] * allowed + [429]


# --- guessing a calendar feed -------------------------------------------------------------------------


def test_wrong_feed_tokens_are_throttled_per_address(client, setup, guess_rate):
    feed = feed_create(organization=setup.org, name="Main hall")
    for _ in range(guess_rate):
        assert client.get(f"/feeds/{wrong_token()}.ics", REMOTE_ADDR=ATTACKER).status_code == 404
    refused = client.get(f"/feeds/{wrong_token()}.ics", REMOTE_ADDR=ATTACKER)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused["Content-Type"].startswith("text/plain")
    assert client.get(f"/feeds/{feed.token}.ics", REMOTE_ADDR=ATTACKER).status_code == 429
    assert client.get(f"/feeds/{feed.token}.ics", REMOTE_ADDR=BOOKER_IP).status_code == 200


def test_a_revoked_feed_counts_as_a_miss(client, setup, guess_rate):
    feed = feed_create(organization=setup.org, name="Main hall")
    CalendarFeed.objects.filter(pk=feed.pk).update(revoked_at=setup.org.created_at)
    for _ in range(guess_rate):
        assert client.get(f"/feeds/{feed.token}.ics", REMOTE_ADDR=ATTACKER).status_code == 404
    assert client.get(f"/feeds/{feed.token}.ics", REMOTE_ADDR=ATTACKER).status_code == 429


def test_polling_a_feed_never_counts(client, setup, guess_rate):
    feed = feed_create(organization=setup.org, name="Main hall")
    for _ in range(guess_rate * 3):
        assert client.get(f"/feeds/{feed.token}.ics", REMOTE_ADDR=BOOKER_IP).status_code == 200


# --- the API's change-request submit ------------------------------------------------------------------


def test_wrong_access_tokens_at_the_change_request_api_are_throttled(setup, booking, monkeypatch):
    from rest_framework.test import APIClient

    monkeypatch.setattr(PublicSubmitThrottle, "rate", "3/minute", raising=False)
    row, token = booking
    booking_approve(booking_id=row.pk, actor=setup.staff, client_last_updated_at=None)
    start = future(7, 15)
    body = {
        "bookingId": str(row.pk),
        "cancellation": False,
        "event": {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
    }
    api = APIClient()
    url = "/api/v1/bookings/change-requests/submit"
    codes = [
        api.post(url, {**body, "accessToken": wrong_token()}, format="json", REMOTE_ADDR=ATTACKER).status_code
        for _ in range(4)
    ]
    assert codes == [404, 404, 404, 429]
    refused = api.post(url, {**body, "accessToken": token}, format="json", REMOTE_ADDR=ATTACKER)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert not row.change_requests.exists()
    accepted = api.post(url, {**body, "accessToken": token}, format="json", REMOTE_ADDR=BOOKER_IP)
    assert accepted.status_code == 201, accepted.json()
