"""/api/v1/portals: shape, random slugs, write-only password, status enum, roles, tenants, ETags."""

import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import Portal, PortalStatus
from resources.models import Role
from tests.api.conftest import assert_error
from tests.factories import BookingModuleFactory, PortalFactory

URL = "/api/v1/portals"
PORTAL_KEYS = {
    "id",
    "orgId",
    "name",
    "slug",
    "description",
    "status",
    "hasPassword",
    "moduleIds",
    "createdAt",
    "lastUpdatedAt",
}


def detail(portal) -> str:
    return f"{URL}/{getattr(portal, 'pk', portal)}"


def create(client, setup, **body):
    return client.post(URL, {"orgId": str(setup.org.pk), "name": "Front desk", **body}, format="json")


def test_retrieve_has_the_exact_shape(api, setup):
    response = api.viewer.get(detail(setup.portal))
    assert response.status_code == 200 and response["ETag"]
    p = setup.portal
    assert response.json() == {
        "id": str(p.pk),
        "orgId": str(setup.org.pk),
        "name": p.name,
        "slug": p.slug,
        "description": "",
        "status": 0,
        "hasPassword": False,
        "moduleIds": [str(setup.module.pk)],
        "createdAt": response.json()["createdAt"],
        "lastUpdatedAt": response.json()["lastUpdatedAt"],
    }
    assert response.json()["createdAt"].endswith("Z")


def test_list_and_filters(api, setup, other):
    draft = PortalFactory(organization=setup.org, status=PortalStatus.DRAFT, name="Z draft")
    body = api.viewer.get(URL).json()
    assert [p["id"] for p in body] == [str(setup.portal.pk), str(draft.pk)]
    assert set(body[0]) == PORTAL_KEYS
    assert [p["id"] for p in api.viewer.get(URL, {"status": 1}).json()] == [str(draft.pk)]
    assert [p["id"] for p in api.viewer.get(URL, {"status": 0}).json()] == [str(setup.portal.pk)]
    assert api.viewer.get(URL, {"orgId": str(other.setup.org.pk)}).json() == []
    assert_error(api.viewer.get(URL, {"status": 7}), 400, "INVALID_CHOICE", "status")


def test_create_defaults_to_a_random_slug_and_draft(api, setup):
    response = create(api.admin, setup, description="<p>Welcome<img src=x onerror=alert(1)></p>")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == PORTAL_KEYS and response["ETag"]
    assert re.fullmatch(r"[a-z0-9]{6}", body["slug"])
    assert body["status"] == 1 and body["hasPassword"] is False and body["moduleIds"] == []
    assert body["description"] == "<p>Welcome</p>"
    assert Portal.objects.get(pk=body["id"]).status == PortalStatus.DRAFT


def test_password_is_write_only_and_hashed(api, setup):
    response = create(api.admin, setup, slug="secret-desk", status=0, password="open sesame")
    assert response.status_code == 201
    body = response.json()
    assert "password" not in body and body["hasPassword"] is True and body["status"] == 0
    portal = Portal.objects.get(pk=body["id"])
    assert portal.password != "open sesame" and portal.check_password("open sesame")
    # Leaving it out keeps it; "" and null clear it.
    assert api.admin.patch(detail(portal), {"name": "Renamed"}, format="json").json()["hasPassword"] is True
    assert api.admin.patch(detail(portal), {"password": ""}, format="json").json()["hasPassword"] is False
    api.admin.patch(detail(portal), {"password": "again"}, format="json")
    assert api.admin.patch(detail(portal), {"password": None}, format="json").json()["hasPassword"] is False


def test_patch(api, setup):
    response = api.admin.patch(
        detail(setup.portal),
        {"status": 1, "slug": "new-slug", "name": "N", "orgId": str(uuid.uuid4()), "moduleIds": []},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["slug"], body["name"]) == (1, "new-slug", "N")
    assert body["orgId"] == str(setup.org.pk) and body["moduleIds"] == [str(setup.module.pk)]  # read-only


def test_slug_is_unique_everywhere(api, setup, other):
    assert_error(create(api.admin, setup, slug=setup.portal.slug), 400, "NOT_UNIQUE", "slug")
    # Public URLs carry the slug alone, so another organization's portal takes it too.
    assert_error(create(other.admin, other.setup, slug=setup.portal.slug), 400, "NOT_UNIQUE", "slug")
    mine = PortalFactory(organization=setup.org)
    assert_error(api.admin.patch(detail(mine), {"slug": setup.portal.slug}, format="json"), 400, "NOT_UNIQUE", "slug")


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        ({"name": ""}, "REQUIRED", "name"),
        ({"slug": "a b"}, "INVALID", "slug"),
        ({"slug": ""}, "REQUIRED", "slug"),
        ({"status": 2}, "INVALID_CHOICE", "status"),
        ({"status": "LIVE"}, "INVALID_CHOICE", "status"),
        ({"status": True}, "INVALID_CHOICE", "status"),
        ({"password": "x" * 129}, "MAX_LENGTH", "password"),
        ({"description": ["x"]}, "INVALID", "description"),
    ],
)
def test_bad_input_is_400(api, setup, body, code, path):
    assert_error(create(api.admin, setup, **body), 400, code, path)
    assert_error(api.admin.patch(detail(setup.portal), body, format="json"), 400, code, path)


def test_roles(api, setup):
    anonymous = api.public
    for response in (
        anonymous.get(URL),
        anonymous.get(detail(setup.portal)),
        create(anonymous, setup),
        anonymous.patch(detail(setup.portal), {}, format="json"),
        anonymous.delete(detail(setup.portal)),
    ):
        assert_error(response, 401)
    for role in (Role.VIEWER, Role.MANAGER):
        client = api[role]
        assert client.get(detail(setup.portal)).status_code == 200
        assert_error(create(client, setup), 403, "PERMISSION_DENIED")
        assert_error(client.patch(detail(setup.portal), {"name": "X"}, format="json"), 403)
        assert_error(client.delete(detail(setup.portal)), 403)
    assert create(api[Role.OWNER], setup).status_code == 201


def test_other_organization_gets_404(api, setup, other):
    assert str(setup.portal.pk) not in [p["id"] for p in other.admin.get(URL).json()]
    assert_error(other.admin.get(detail(setup.portal)), 404, "NOT_FOUND")
    assert_error(other.admin.patch(detail(setup.portal), {"name": "Mine"}, format="json"), 404)
    assert_error(other.admin.delete(detail(setup.portal)), 404)
    assert_error(create(other.admin, setup), 404)
    assert not Portal.objects.filter(name__in=["Mine", "Front desk"]).exists()
    for pk in (uuid.uuid4(),):
        assert_error(api.admin.get(detail(pk)), 404)
        assert_error(api.admin.patch(detail(pk), {}, format="json"), 404)
        assert_error(api.admin.delete(detail(pk)), 404)


def test_delete_unlinks_modules_and_keeps_bookings(api, setup):
    booking = setup.submit().booking
    assert api.admin.delete(detail(setup.portal)).status_code == 204
    assert not Portal.objects.filter(pk=setup.portal.pk).exists()
    assert setup.module.portals.count() == 0
    booking.refresh_from_db()
    assert booking.portal_id is None


def test_if_match(api, setup):
    etag = api.admin.get(detail(setup.portal))["ETag"]
    response = api.admin.patch(detail(setup.portal), {"name": "A"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200 and response["ETag"] != etag
    assert_error(api.admin.patch(detail(setup.portal), {"name": "B"}, format="json", HTTP_IF_MATCH=etag), 412)
    assert_error(api.admin.delete(detail(setup.portal), HTTP_IF_MATCH=etag), 412)
    assert api.admin.delete(detail(setup.portal), HTTP_IF_MATCH=response["ETag"]).status_code == 204


def test_list_query_count_does_not_grow(api, setup, django_assert_num_queries):
    def add(n):
        for _ in range(n):
            portal = PortalFactory(organization=setup.org)
            BookingModuleFactory(organization=setup.org, portals=[portal])

    add(2)
    with CaptureQueriesContext(connection) as small:
        assert len(api.viewer.get(URL).json()) == 3
    add(27)
    with django_assert_num_queries(len(small.captured_queries)):
        body = api.viewer.get(URL).json()
    assert len(body) == 30 and all(len(p["moduleIds"]) == 1 for p in body)
