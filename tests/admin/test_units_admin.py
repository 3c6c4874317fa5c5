"""Units (desks, seats) in the staff admin: edited inline on the resource's page by the organization's admins,
never another organization's; the booking page shows the unit asked for, the units held and the visitors."""

from __future__ import annotations

import pytest
from django.test import Client

from bookings.lifecycle.decide import booking_approve
from resources.models import ResourceUnit, Role

from ..conftest import Setup
from ..factories import OrganizationFactory, ResourceUnitFactory
from .config_helpers import add_rows, form_data, inline_rows, url


@pytest.fixture
def other(db) -> Setup:
    return Setup()


def test_admin_adds_units_on_the_resource_page(setup: Setup, member) -> None:
    _, client = member(Role.ADMIN)
    change = url("resources.resource", "change", setup.desks)
    data = add_rows(
        form_data(client.get(change)),
        "units",
        [
            {"name": "Desk <b>1</b>", "order": "1", "archived": False},
            {"name": "Desk 2", "order": "0", "archived": False},
        ],
    )
    response = client.post(change, data)
    assert response.status_code == 302, response.context and [
        inline.formset.errors for inline in response.context["inline_admin_formsets"]
    ]
    assert list(setup.desks.units.values_list("name", "order")) == [("Desk 2", 0), ("Desk 1", 1)]


def test_unit_names_are_unique_per_resource(setup: Setup, member) -> None:
    ResourceUnitFactory(resource=setup.desks, name="Desk 1")
    ResourceUnitFactory(resource=setup.room, name="Seat 1")
    _, client = member(Role.ADMIN)
    change = url("resources.resource", "change", setup.desks)
    data = add_rows(form_data(client.get(change)), "units", [{"name": "Desk 1", "order": "2"}])
    assert client.post(change, data).status_code == 200
    assert setup.desks.units.count() == 1
    # The same name on another resource is fine.
    data = add_rows(form_data(client.get(change)), "units", [{"name": "Seat 1", "order": "2"}])
    assert client.post(change, data).status_code == 302


def test_a_viewer_sees_units_without_inputs(setup: Setup, member) -> None:
    ResourceUnitFactory(resource=setup.desks, name="Window desk")
    _, client = member(Role.VIEWER)
    page = client.get(url("resources.resource", "change", setup.desks))
    assert page.status_code == 200 and b"Window desk" in page.content
    assert b'name="units-0-name"' not in page.content


def test_another_organizations_resource_and_units_are_not_found(setup: Setup, other: Setup, member) -> None:
    theirs = ResourceUnitFactory(resource=other.desks, name="Their desk")
    _, client = member(Role.OWNER, organization=OrganizationFactory())
    assert client.get(url("resources.resource", "change", other.desks)).status_code == 404
    _, own = member(Role.ADMIN)
    # Posting their unit's id as a row of our resource changes nothing of theirs.
    change = url("resources.resource", "change", setup.desks)
    data = form_data(own.get(change))
    data.update(
        {
            "units-TOTAL_FORMS": "1",
            "units-0-id": str(theirs.pk),
            "units-0-name": "Stolen",
            "units-0-order": "0",
            "units-0-resource": str(setup.desks.pk),
        }
    )
    own.post(change, data)
    theirs.refresh_from_db()
    assert (theirs.name, theirs.resource_id) == ("Their desk", other.desks.pk)
    assert own.get(url("resources.resource", "change", other.desks)).status_code == 404


def test_a_booked_unit_cannot_be_deleted(setup: Setup, admin_client: Client) -> None:
    unit = ResourceUnitFactory(resource=setup.desks, name="Desk 1")
    ev = setup.event(resources=[setup.desks], unitId=str(unit.pk))
    setup.submit(ev)
    change = url("resources.resource", "change", setup.desks)
    data = form_data(admin_client.get(change))
    data["units-0-DELETE"] = "on"
    response = admin_client.post(change, data)
    assert response.status_code == 200
    assert inline_rows(response, "units")[0].errors or response.context["inline_admin_formsets"]
    assert ResourceUnit.objects.filter(pk=unit.pk).exists()


def test_the_booking_page_shows_unit_and_visitors(setup: Setup, manager_client: Client) -> None:
    a = ResourceUnitFactory(resource=setup.desks, name="Desk A", order=0)
    b = ResourceUnitFactory(resource=setup.desks, name="Desk B", order=1)
    result = setup.submit(
        setup.event(resources=[setup.desks], unitId=str(b.pk)),
        setup.event(resources=[setup.desks], title="Second"),  # the same time: gets Desk A
        visitors=[{"name": "Grace Hopper", "email": "grace@example.com"}],
    )
    booking_approve(booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=None)
    page = manager_client.get(url("bookings.booking", "change", result.booking)).content.decode()
    assert "asked for Desk B" in page and "holds Desk B" in page and "holds Desk A" in page
    assert "Grace Hopper &lt;grace@example.com&gt; · invited" in page
    assert a.reservations.count() == 1
