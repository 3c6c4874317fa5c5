"""Two confirmations of one import at once (a double click; real threads on their own connections, released
together by race()): the confirmations' advisory lock makes them run one after the other, so the rows are
created once and the other confirmation shows them as duplicates; and a resource confirmation racing a venue's
update takes its locks in the same order, so both finish (docs/architecture.md#imports)."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import Client

from resources import services
from resources.models import Resource, Role, Venue
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


def test_a_resource_confirmation_and_a_venue_update_at_once_both_finish(monkeypatch):
    # venue_update locks its venue, then updates the organization (config_changed); a confirmation that locked
    # the organization first and then inserted under the venue (FOR KEY SHARE) waited in the reverse order: a
    # deadlock, and one of the two failed. Now the confirmation holds the venues before it writes anything.
    setup = Setup()
    hall = VenueFactory(organization=setup.org, name="Main hall")
    VenueFactory(organization=setup.org, name="Annex")
    user = UserFactory()
    MembershipFactory(user=user, organization=setup.org, role=Role.ADMIN)
    client = Client(raise_request_exception=True)
    client.force_login(user)
    rows = [["venue", "name"], ["Annex", "R1"], ["Main hall", "R2"], ["Main hall", "R3"]]
    payload = upload(client, "resources.resource", setup.org, csv_file(rows)).context["payload"]
    venue_saved = threading.Event()
    real_save = Venue.save

    def slow_save(self, *args, **kwargs):  # holds the venue's lock a while before updating the organization
        real_save(self, *args, **kwargs)
        venue_saved.set()
        time.sleep(0.5)

    def slow_config_changed(*, organization_id):  # the confirmation: the first row's org update, then a pause
        real_config_changed(organization_id=organization_id)
        time.sleep(0.3)

    real_config_changed = services.config_changed
    monkeypatch.setattr(Venue, "save", slow_save)
    monkeypatch.setattr(services, "config_changed", slow_config_changed)

    def work(i):
        if i == 0:
            return services.venue_update(venue=Venue.objects.get(pk=hall.pk), changes={"address": "1 Main St"}).pk
        venue_saved.wait(timeout=10)  # venue_update holds the venue now and is about to update the organization
        return confirm(client, "resources.resource", payload).status_code

    outcomes = race(2, work)

    assert outcomes == [("ok", hall.pk), ("ok", 302)]
    assert Resource.objects.filter(venue__organization=setup.org, name__in=["R1", "R2", "R3"]).count() == 3
    assert Venue.objects.get(pk=hall.pk).address == "1 Main St"


def test_a_venue_update_during_a_resource_confirmation_waits_for_it(monkeypatch):
    # The other way round: the confirmation has begun (a row created under the Annex, the organization
    # updated); venue_update of the Main hall, which the next row needs, must wait rather than deadlock.
    setup = Setup()
    VenueFactory(organization=setup.org, name="Annex")
    hall = VenueFactory(organization=setup.org, name="Main hall")
    user = UserFactory()
    MembershipFactory(user=user, organization=setup.org, role=Role.ADMIN)
    client = Client(raise_request_exception=True)
    client.force_login(user)
    rows = [["venue", "name"], ["Annex", "R1"], ["Main hall", "R2"]]
    payload = upload(client, "resources.resource", setup.org, csv_file(rows)).context["payload"]
    first_row = threading.Event()
    real_config_changed = services.config_changed

    def slow_config_changed(*, organization_id):
        real_config_changed(organization_id=organization_id)
        if threading.current_thread().name == "race-0" and not first_row.is_set():
            first_row.set()
            time.sleep(0.8)  # the organization's row is this transaction's now; venue_update starts meanwhile

    monkeypatch.setattr(services, "config_changed", slow_config_changed)

    def work(i):
        if i == 0:
            return confirm(client, "resources.resource", payload).status_code
        first_row.wait(timeout=10)
        return services.venue_update(venue=Venue.objects.get(pk=hall.pk), changes={"address": "1 Main St"}).pk

    outcomes = race(2, work)

    assert outcomes == [("ok", 302), ("ok", hall.pk)]
    assert Resource.objects.filter(venue__organization=setup.org, name__in=["R1", "R2"]).count() == 2
