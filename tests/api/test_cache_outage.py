"""The shared cache (Redis) unreachable: the throttles let requests through and log it, so a booker's
submit and private link keep working; nothing else a request needs lives in the cache."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.api.booking_helpers import SUBMIT, post, submit_body

UNREACHABLE = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


@pytest.fixture
def redis_down():
    # Undone when this fixture ends, before the autouse fixtures clear the (then reachable) cache.
    with override_settings(CACHES=UNREACHABLE):
        yield


def test_a_public_submit_is_taken_while_the_cache_is_down(api, setup, redis_down, caplog):
    response = post(api.public, SUBMIT, submit_body(setup))
    assert response.status_code == 201, response.json()
    assert "the cache cannot be reached" in caplog.text


def test_a_wrong_private_link_is_still_a_404_while_the_cache_is_down(client, setup, redis_down):
    assert client.get("/b/not-a-real-token/").status_code == 404
