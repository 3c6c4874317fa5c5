"""Admin test fixtures: logged-in Django test clients per role, on the shared booking setup."""

import pytest
from django.test import Client

from resources.models import Role

from ..conftest import Setup
from ..factories import MembershipFactory, UserFactory


def admin_client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def member(setup):
    """member(role) → (user, logged-in client) of a new member of setup.org with that role."""

    def make(role=Role.MANAGER, organization=None):
        user = UserFactory()
        MembershipFactory(user=user, organization=organization or setup.org, role=role)
        return user, admin_client_for(user)

    return make


@pytest.fixture
def manager_client(setup):
    return admin_client_for(setup.manager)


@pytest.fixture
def module_admin_is_member(setup: Setup) -> None:
    """For the configuration admin tests (test_config_admin*.py, by their `pytestmark`)."""
    # The module's admin user must be a member for its form to validate (as the API requires).
    MembershipFactory(user=setup.admin, organization=setup.org, role=Role.ADMIN)


@pytest.fixture
def other(db) -> Setup:
    """A second organization with everything the first one has."""
    return Setup()
