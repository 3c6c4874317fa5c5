"""API test helpers: clients authenticated with real Bearer tokens, per role, and a second organization
whose objects must stay invisible."""

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from resources.models import Role
from tests.conftest import Setup
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()  # throttling counts live in the cache; each test starts from zero
    yield
    cache.clear()


def bearer_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, token = AuthToken.objects.create(user=user, expiry=None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


class Api:
    """Clients for one Setup's organization, one per role, plus the public (anonymous)."""

    def __init__(self, setup: Setup):
        self.setup = setup
        self.public = APIClient()
        self.clients = {}
        self.users = {}
        for role in Role:
            user = setup.manager if role == Role.MANAGER else UserFactory()
            if role != Role.MANAGER:
                MembershipFactory(user=user, organization=setup.org, role=role)
            self.users[role] = user
            self.clients[role] = bearer_client(user)

    def __getitem__(self, role) -> APIClient:
        return self.clients[role]

    @property
    def manager(self) -> APIClient:
        return self.clients[Role.MANAGER]

    @property
    def admin(self) -> APIClient:
        return self.clients[Role.ADMIN]

    @property
    def viewer(self) -> APIClient:
        return self.clients[Role.VIEWER]


@pytest.fixture
def api(setup) -> Api:
    return Api(setup)


@pytest.fixture
def other(db) -> Api:
    """Another organization with its own owner: its token must see nothing of `setup`'s."""
    return Api(Setup())


def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """The API's error body (docs/architecture.md#http-api-conventions), with the given status and (optionally) an error
    of that code/field."""
    assert response.status_code == status, (response.status_code, getattr(response, "data", None))
    body = response.json()
    assert set(body) == {"status", "error", "errors"}, body
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]
    if code is not None:
        pairs = [(e["field"], e["code"]) for e in body["errors"]]
        if field is None:
            assert code in [c for _, c in pairs], pairs
        else:
            assert (field, code) in pairs, pairs
    return body
