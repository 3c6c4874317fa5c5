"""API tokens (core.api.auth): a valid token signs in with one query for the token and its user; an expired
one is refused (401) and deleted, whatever other tokens its user has."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

ME = "/api/v1/venues"


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_valid_token_costs_one_query_however_many_tokens_its_user_has(db):
    user = UserFactory()
    MembershipFactory(user=user, organization=OrganizationFactory())
    for _ in range(3):
        AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    _, token = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    with CaptureQueriesContext(connection) as ctx:
        assert _client(token).get(ME).status_code == 200
    assert sum("knox_authtoken" in q["sql"] for q in ctx.captured_queries) == 1


def test_an_expired_token_is_refused_and_deleted_and_the_users_valid_token_stays(db):
    user = UserFactory()
    MembershipFactory(user=user, organization=OrganizationFactory())
    valid, other = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    expired, token = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    AuthToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert _client(token).get(ME).status_code == 401
    assert list(AuthToken.objects.filter(user=user)) == [valid]
    assert _client(other).get(ME).status_code == 200
