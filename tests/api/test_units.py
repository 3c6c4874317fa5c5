"""/api/v1/units (docs/architecture.md#units): the exact shape, the resource filter, roles, tenant isolation,
names unique per resource, and DELETE that archives a unit a reservation or a request names."""

from __future__ import annotations

import pytest

from bookings.lifecycle.decide import booking_approve
from core.api.etags import etag_of
from core.time import iso
from events.models import Reservation
from resources.models import ResourceUnit, Role
from tests.api.catalog_helpers import WRITERS, errors, patch, post, queries, url, version
from tests.api.conftest import assert_error
from tests.factories import ResourceUnitFactory

pytestmark = pytest.mark.django_db
UNITS = "units"


@pytest.fixture
def desk(setup) -> ResourceUnit:
    return ResourceUnitFactory(resource=setup.desks, name="Desk 1", order=1)


def expected(unit: ResourceUnit) -> dict:
    unit.refresh_from_db()
    return {
        "id": str(unit.pk),
        "resourceId": str(unit.resource_id),
        "name": unit.name,
        "order": unit.order,
        "archived": unit.archived,
        "createdAt": iso(unit.created_at),
        "lastUpdatedAt": iso(unit.updated_at),
    }


def test_the_list_has_the_exact_shape_and_its_filters(api, setup, other, desk):
    window = ResourceUnitFactory(resource=setup.desks, name="Window", order=0)
    seat = ResourceUnitFactory(resource=setup.hall, name="Seat A", archived=True)
    ResourceUnitFactory(resource=other.setup.desks)

    assert api.viewer.get(url(UNITS)).json() == [expected(window), expected(desk), expected(seat)]
    get = api.viewer.get
    assert [u["name"] for u in get(url(UNITS), {"resourceId": str(setup.desks.pk)}).json()] == ["Window", "Desk 1"]
    assert [u["name"] for u in get(url(UNITS), {"archived": "true"}).json()] == ["Seat A"]
    assert get(url(UNITS), {"resourceId": str(other.setup.desks.pk)}).json() == []
    assert_error(get(url(UNITS), {"resourceId": ""}), 400, "REQUIRED", "resourceId")


def test_the_list_takes_the_same_queries_for_1_and_for_5_units(api, setup, desk, django_assert_num_queries):
    few, body = queries(api.viewer, url(UNITS))
    assert len(body) == 1
    for n in range(4):
        ResourceUnitFactory(resource=setup.hall if n % 2 else setup.desks)
    with django_assert_num_queries(few):
        assert len(api.viewer.get(url(UNITS)).json()) == 5


@pytest.mark.parametrize("role", list(Role))
def test_only_admins_write(api, setup, desk, role):
    before = version(setup.org)
    created = post(api[role], url(UNITS), {"resourceId": str(setup.desks.pk), "name": "Desk <b>2</b>", "order": 2})
    changed = patch(api[role], url(UNITS, desk.pk), {"archived": True})
    deleted = api[role].delete(url(UNITS, desk.pk))
    if not WRITERS[role]:
        for response in (created, changed, deleted):
            assert_error(response, 403, "PERMISSION_DENIED")
        assert list(ResourceUnit.objects.values_list("name", "archived")) == [("Desk 1", False)]
        assert version(setup.org) == before
        return
    assert created.status_code == 201, created.json()
    new = ResourceUnit.objects.get(name="Desk 2")  # markup stripped
    assert created.json() == expected(new) and created["ETag"] == etag_of(new)
    assert changed.status_code == 200 and changed.json()["archived"] is True
    assert deleted.status_code == 204 and not ResourceUnit.objects.filter(pk=desk.pk).exists()
    assert version(setup.org) != before


def test_another_organizations_unit_is_not_found(api, setup, other, desk):
    theirs = other[Role.OWNER]
    assert_error(theirs.get(url(UNITS, desk.pk)), 404, "NOT_FOUND")
    assert_error(patch(theirs, url(UNITS, desk.pk), {"name": "Mine"}), 404, "NOT_FOUND")
    assert_error(theirs.delete(url(UNITS, desk.pk)), 404, "NOT_FOUND")
    assert errors(post(theirs, url(UNITS), {"resourceId": str(setup.desks.pk), "name": "Mine"})) == [
        ("resourceId", "NOT_FOUND")
    ]
    assert list(ResourceUnit.objects.values_list("name", flat=True)) == ["Desk 1"]


@pytest.mark.parametrize(
    "body, field, code",
    [
        ({"name": "Desk 1"}, "name", "NOT_UNIQUE"),
        ({"name": " "}, "name", "REQUIRED"),
        ({"order": -1}, "order", "MIN_VALUE"),
        ({"order": 2_147_483_648}, "order", "MAX_VALUE"),
        ({"archived": "false"}, "archived", "INVALID"),
    ],
)
def test_each_refusal_names_its_field_and_code(api, setup, desk, body, field, code):
    response = post(api.admin, url(UNITS), {"resourceId": str(setup.desks.pk), "name": "Desk 2", **body})
    assert_error(response, 400, code, field)
    assert ResourceUnit.objects.count() == 1


def test_a_rename_to_a_taken_name_is_refused_and_the_resource_is_fixed(api, setup, desk):
    other_desk = ResourceUnitFactory(resource=setup.desks, name="Desk 2")
    assert_error(patch(api.admin, url(UNITS, other_desk.pk), {"name": "Desk 1"}), 400, "NOT_UNIQUE", "name")
    assert_error(
        patch(api.admin, url(UNITS, desk.pk), {"resourceId": str(setup.hall.pk)}), 400, "IMMUTABLE_FIELD", "resourceId"
    )
    assert list(ResourceUnit.objects.order_by("name").values_list("name", "resource")) == [
        ("Desk 1", setup.desks.pk),
        ("Desk 2", setup.desks.pk),
    ]


def test_delete_archives_a_unit_that_was_booked_or_requested(api, setup, desk):
    setup.module.hold_pending_slots = False  # a request holds nothing: its unit has no reservation until approval
    setup.module.save()
    requested = ResourceUnitFactory(resource=setup.desks, name="Requested")
    booked = ResourceUnitFactory(resource=setup.desks, name="Booked")
    setup.submit(setup.event(resources=[setup.desks], unitId=str(requested.pk)))
    held = setup.submit(setup.event(resources=[setup.desks], unitId=str(booked.pk)), email="b@example.com").booking
    booking_approve(booking_id=held.pk, actor=setup.staff, client_last_updated_at=None)
    assert not Reservation.objects.filter(unit=requested).exists() and Reservation.objects.filter(unit=booked).exists()

    assert api.admin.delete(url(UNITS, desk.pk)).status_code == 204
    for unit in (requested, booked):
        response = api.admin.delete(url(UNITS, unit.pk))
        assert response.status_code == 200 and response.json() == expected(unit)
        assert response.json()["archived"] is True
    assert list(ResourceUnit.objects.order_by("name").values_list("name", "archived")) == [
        ("Booked", True),
        ("Requested", True),
    ]
