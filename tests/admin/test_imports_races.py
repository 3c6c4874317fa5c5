"""Two confirmations of one import at once (a double click; real threads on their own connections, released
together by race()): the organization's row lock makes them run one after the other, so the rows are created
once and the other confirmation shows them as duplicates (docs/architecture.md#imports)."""

from __future__ import annotations

import pytest
from django.test import Client

from resources.models import Role
from tests.conftest import Setup, postgres_only, race
from tests.factories import MembershipFactory, UserFactory, VenueFactory

from .imports_helpers import IMPORTABLES, confirm, csv_file, upload

pytestmark = [pytest.mark.django_db(transaction=True), postgres_only]


@pytest.mark.parametrize("app_model", ["resources.resource", "bookings.customer"])
def test_two_confirmations_at_once_create_the_rows_once(app_model):
    # Contacts with an email are also kept unique by the database; these two rely on the lock alone.
    setup = Setup()
    VenueFactory(organization=setup.org, name="Main hall")
    spec = IMPORTABLES[app_model]
    user = UserFactory()
    MembershipFactory(user=user, organization=setup.org, role=Role.ADMIN)
    client = Client()
    client.force_login(user)
    payload = upload(client, app_model, setup.org, csv_file([spec.header, *spec.good])).context["payload"]
    before = spec.count(setup.org)

    outcomes = race(2, lambda i: confirm(client, app_model, payload).status_code)

    assert sorted(outcomes) == [("ok", 200), ("ok", 302)]
    assert spec.count(setup.org) == before + 2
