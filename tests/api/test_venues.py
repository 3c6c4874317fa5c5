"""Venues, resources (with bookable hours) and resource availability over HTTP
(docs/architecture.md#http-api-conventions).

This module: the venue endpoints."""

import json
import uuid

import pytest

from events.models import EventStatus
from events.services.status import events_set_status
from resources.models import Resource, Role, Venue
from tests.api.conftest import assert_error, bearer_client
from tests.api.resource_helpers import NOWHERE, book, is_utc, venue_url
from tests.conftest import future
from tests.factories import BookableHoursFactory, ResourceFactory, UserFactory, VenueFactory

VENUE_KEYS = {"id", "orgId", "name", "address", "timezone", "createdAt", "lastUpdatedAt"}


def assert_venue_shape(body: dict) -> None:
    assert set(body) == VENUE_KEYS
    uuid.UUID(body["id"]), uuid.UUID(body["orgId"])
    assert all(isinstance(body[k], str) for k in ("name", "address", "timezone"))
    assert is_utc(body["createdAt"]) and is_utc(body["lastUpdatedAt"])


# --- venues -------------------------------------------------------------------------------------------


def test_venue_list_shows_only_my_organizations(api, setup, other):
    response = api.viewer.get(venue_url())
    assert response.status_code == 200
    body = response.json()
    assert [v["id"] for v in body] == [str(setup.venue.pk)]
    assert_venue_shape(body[0])
    assert body[0]["orgId"] == str(setup.org.pk) and body[0]["timezone"] == "Europe/London"
    assert [v["id"] for v in other[Role.OWNER].get(venue_url()).json()] == [str(other.setup.venue.pk)]


def test_venue_list_filters_by_organization(api, setup):
    assert len(api.viewer.get(venue_url(), {"orgId": str(setup.org.pk)}).json()) == 1
    assert api.viewer.get(venue_url(), {"orgId": NOWHERE}).json() == []
    assert_error(api.viewer.get(venue_url(), {"orgId": "nope"}), 400, "INVALID", "orgId")
    assert_error(api.viewer.get(venue_url(), {"orgId": ""}), 400, "REQUIRED", "orgId")


def test_venue_retrieve_with_etag(api, setup):
    response = api.viewer.get(venue_url(setup.venue.pk))
    assert response.status_code == 200
    assert_venue_shape(response.json())
    assert response.json()["name"] == setup.venue.name
    assert response["ETag"].startswith('"')


def test_venue_create(api, setup):
    response = api.admin.post(
        venue_url(),
        {"orgId": str(setup.org.pk), "name": "Annex <b>North</b>", "address": "1 High St", "timezone": "Europe/Paris"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert_venue_shape(body)
    assert body["name"] == "Annex North" and body["timezone"] == "Europe/Paris" and body["address"] == "1 High St"
    venue = Venue.objects.get(pk=body["id"])
    assert venue.organization == setup.org and response["ETag"]


def test_venue_create_without_timezone_follows_the_organization(api, setup):
    setup.org.timezone = "America/New_York"
    setup.org.save()
    body = api.admin.post(venue_url(), {"orgId": str(setup.org.pk), "name": "Loft"}, format="json").json()
    assert body["timezone"] == "America/New_York" and body["address"] == ""
    assert Venue.objects.get(pk=body["id"]).timezone == ""


@pytest.mark.parametrize(
    "payload, code, field",
    [
        ({"name": "X"}, "REQUIRED", "orgId"),
        ({"orgId": "not-a-uuid", "name": "X"}, "INVALID", "orgId"),
        ({"orgId": 12, "name": "X"}, "INVALID", "orgId"),
        ({"name": None}, "REQUIRED", "name"),
        ({}, "REQUIRED", "name"),
        ({"name": "   "}, "REQUIRED", "name"),
        ({"name": "<b></b>"}, "REQUIRED", "name"),
        ({"name": ["a"]}, "INVALID", "name"),
        ({"name": {"a": 1}}, "INVALID", "name"),
        ({"name": "x" * 201}, "MAX_LENGTH", "name"),
        ({"name": "X", "timezone": "Mars/Olympus"}, "INVALID", "timezone"),
        ({"name": "X", "timezone": "../../etc/passwd"}, "INVALID", "timezone"),
        ({"name": "X", "timezone": 5}, "INVALID", "timezone"),
        ({"name": "X\x00"}, "NULL_CHARACTERS_NOT_ALLOWED", "name"),
        ({"name": "X\ud800"}, "INVALID", "name"),
        ({"name": "X", "address": "\udfff"}, "INVALID", "address"),
    ],
)
def test_venue_create_bad_input(api, setup, payload, code, field):
    payload = {"orgId": str(setup.org.pk), **payload} if "orgId" not in payload and field != "orgId" else payload
    # Raw JSON: the test client cannot encode a lone surrogate, a client in another language can.
    response = api.admin.post(venue_url(), json.dumps(payload), content_type="application/json")
    assert_error(response, 400, code, field)
    assert Venue.objects.count() == 1


def test_venue_create_body_must_be_an_object(api, setup):
    assert_error(api.admin.post(venue_url(), [1, 2], format="json"), 400, "INVALID")
    response = api.admin.post(venue_url(), "{not json", content_type="application/json")
    assert_error(response, 400, "PARSE_ERROR")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MANAGER])
def test_venue_writes_need_admin(api, setup, role):
    client = api[role]
    assert_error(
        client.post(venue_url(), {"orgId": str(setup.org.pk), "name": "X"}, format="json"), 403, "PERMISSION_DENIED"
    )
    assert_error(client.patch(venue_url(setup.venue.pk), {"name": "X"}, format="json"), 403)
    assert_error(client.delete(venue_url(setup.venue.pk)), 403)
    assert Venue.objects.get(pk=setup.venue.pk).name == setup.venue.name


def test_owner_may_configure(api, setup):
    response = api[Role.OWNER].patch(venue_url(setup.venue.pk), {"name": "Main"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Main"


def test_superuser_sees_and_configures_every_organization(api, setup, other):
    root = bearer_client(UserFactory(is_superuser=True))
    assert len(root.get(venue_url()).json()) == 2
    response = root.post(venue_url(), {"orgId": str(other.setup.org.pk), "name": "Their annex"}, format="json")
    assert response.status_code == 201
    assert_error(root.post(venue_url(), {"orgId": NOWHERE, "name": "X"}, format="json"), 404)


def test_venue_patch(api, setup):
    before = api.admin.get(venue_url(setup.venue.pk))
    response = api.admin.patch(
        venue_url(setup.venue.pk),
        {"timezone": "Asia/Tokyo", "orgId": NOWHERE},
        format="json",
        HTTP_IF_MATCH=before["ETag"],
    )
    assert response.status_code == 200, response.json()
    assert_venue_shape(response.json())
    assert response.json()["timezone"] == "Asia/Tokyo" and response.json()["name"] == setup.venue.name
    assert response.json()["orgId"] == str(setup.org.pk)  # the organization never changes
    assert response["ETag"] != before["ETag"]
    # The old ETag is stale now.
    stale = api.admin.patch(venue_url(setup.venue.pk), {"name": "Late"}, format="json", HTTP_IF_MATCH=before["ETag"])
    assert_error(stale, 412, "PRECONDITION_FAILED", "If-Match")
    assert Venue.objects.get(pk=setup.venue.pk).name == setup.venue.name
    assert (
        api.admin.patch(venue_url(setup.venue.pk), {"name": "Any"}, format="json", HTTP_IF_MATCH="*").status_code == 200
    )
    assert_error(
        api.admin.patch(venue_url(setup.venue.pk), {"timezone": "Nowhere"}, format="json"), 400, "INVALID", "timezone"
    )
    assert_error(api.admin.patch(venue_url(setup.venue.pk), {"name": ""}, format="json"), 400, "REQUIRED", "name")


def test_venue_delete(api, setup):
    venue = VenueFactory(organization=setup.org)
    spare = ResourceFactory(venue=venue)
    BookableHoursFactory(resource=spare, weekday=0, start_time="09:00", end_time="17:00")
    etag = api.admin.get(venue_url(venue.pk))["ETag"]
    assert_error(api.admin.delete(venue_url(venue.pk), HTTP_IF_MATCH='"stale"'), 412)
    assert api.admin.delete(venue_url(venue.pk), HTTP_IF_MATCH=etag).status_code == 204
    assert not Venue.objects.filter(pk=venue.pk).exists() and not Resource.objects.filter(pk=spare.pk).exists()
    assert_error(api.admin.get(venue_url(venue.pk)), 404)


def test_venue_whose_resources_are_booked_is_not_deleted(api, setup):
    venue = VenueFactory(organization=setup.org)
    booked = ResourceFactory(venue=venue)
    event = book(setup, future(hour=10), future(hour=11), booked)
    events_set_status(events=[event], status=EventStatus.CANCELED)  # even a canceled event keeps its record
    body = assert_error(api.admin.delete(venue_url(venue.pk)), 409, "IN_USE")
    assert "reservations" in body["error"]
    assert Venue.objects.filter(pk=venue.pk).exists() and Resource.objects.filter(pk=booked.pk).exists()
    # setup's venue: its resources are offered by a booking module.
    assert_error(api.admin.delete(venue_url(setup.venue.pk)), 409, "IN_USE")
    assert Resource.objects.filter(venue=setup.venue).count() == 3
