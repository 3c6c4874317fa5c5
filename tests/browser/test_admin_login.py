"""Smoke test of the browser set-up: a manager signs in to the admin through the real login page."""

import re

import pytest
from playwright.sync_api import expect

from resources.models import Role

from ..factories import MembershipFactory, OrganizationFactory, UserFactory
from .conftest import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def manager(transactional_db):
    """A staff user who manages one organization (password "pw-123456", from UserFactory)."""
    user = UserFactory(username="browser-manager")
    MembershipFactory(user=user, organization=OrganizationFactory(name="Browser Test Org"), role=Role.MANAGER)
    return user


def test_manager_signs_in_to_the_admin(page, admin_login, manager):
    # Lands on the password-change page rather than the index: the index (the "Today's work" queue) is
    # custom and changing; this page is stock admin, so the smoke test only breaks when logging in does.
    admin_login("browser-manager", "pw-123456", next_url="/admin/password_change/")

    expect(page).to_have_url(re.compile(r"/admin/password_change/$"))
    expect(page.locator("#site-name")).to_have_text("Allot")
    expect(page.locator("h1")).to_have_text("Password change")
    expect(page.locator("#user-tools")).to_contain_text("browser-manager")
    expect(page.locator("#logout-form")).to_be_attached()
    expect(page.locator("#id_old_password")).to_be_visible()
    screenshot(page, "admin-login-manager")


def test_wrong_password_shows_the_error(page, admin_login, manager):
    admin_login("browser-manager", "not-the-password")

    expect(page).to_have_url(re.compile(r"/admin/login/"))
    expect(page.locator(".errornote")).to_contain_text("Please enter the correct username and password")
    expect(page.locator("#id_username")).to_have_value("browser-manager")
    screenshot(page, "admin-login-wrong-password")
