"""Venues, resources (with bookable hours) and resource availability over HTTP
(docs/architecture.md#http-api-conventions).

This module: the resource endpoints, and authentication and tenant isolation across all of them."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import EventStatus, Reservation
from events.services.status import events_set_status
from resources.models import BookableHours, Resource, Role, Venue
from tests.api.conftest import assert_error, bearer_client
from tests.api.resource_helpers import NOWHERE, availability_url, book, is_utc, venue_url
from tests.conftest import future
from tests.factories import BookableHoursFactory, ClosureFactory, ResourceFactory, VenueFactory

RESOURCE_KEYS = {
    "id",
    "venueId",
    "orgId",
    "name",
    "kind",
    "description",
    "capacity",
    "exclusive",
    "requiresApproval",
    "archived",
    "minDurationMinutes",
    "maxDurationMinutes",
    "minNoticeMinutes",
    "maxAdvanceDays",
    "bufferMinutes",
    "bookableHours",
    "createdAt",
    "lastUpdatedAt",
    "units",  # docs/architecture.md#units
    "rates",  # its active rates and products (tests/api/test_rates.py, test_products.py)
    "products",
}


def resource_url(pk=None) -> str:
    return "/api/v1/resources" + (f"/{pk}" if pk else "")


def assert_resource_shape(body: dict) -> None:
    assert set(body) == RESOURCE_KEYS
    for key in ("id", "venueId", "orgId"):
        uuid.UUID(body[key])
    assert isinstance(body["name"], str) and isinstance(body["description"], str)
    assert body["kind"] in {"room", "desk", "equipment", "event_space", "other"}
    for key in ("capacity", "minNoticeMinutes", "bufferMinutes"):
        assert type(body[key]) is int
    for key in ("minDurationMinutes", "maxDurationMinutes", "maxAdvanceDays"):
        assert body[key] is None or type(body[key]) is int
    for key in ("exclusive", "requiresApproval", "archived"):
        assert type(body[key]) is bool
    assert isinstance(body["bookableHours"], list)
    for hours in body["bookableHours"]:
        assert set(hours) == {"weekday", "start", "end"}
        assert type(hours["weekday"]) is int and len(hours["start"]) == 5 and len(hours["end"]) == 5
    assert is_utc(body["createdAt"]) and is_utc(body["lastUpdatedAt"])


# --- resources ----------------------------------------------------------------------------------------


def test_resource_list_and_filters(api, setup, other):
    ResourceFactory(venue=setup.venue, name="Old", archived=True, kind="desk")
    response = api.viewer.get(resource_url())
    assert response.status_code == 200
    body = response.json()
    assert [r["name"] for r in body] == ["Desks", "Hall", "Old", "Room"]
    for item in body:
        assert_resource_shape(item)
    assert [r["name"] for r in api.viewer.get(resource_url(), {"archived": "true"}).json()] == ["Old"]
    assert [r["name"] for r in api.viewer.get(resource_url(), {"kind": "desk"}).json()] == ["Old"]
    assert len(api.viewer.get(resource_url(), {"venueId": str(setup.venue.pk)}).json()) == 4
    assert api.viewer.get(resource_url(), {"orgId": str(other.setup.org.pk)}).json() == []
    assert_error(api.viewer.get(resource_url(), {"kind": "castle"}), 400, "INVALID_CHOICE", "kind")
    assert_error(api.viewer.get(resource_url(), {"venueId": "x"}), 400, "INVALID", "venueId")
    assert_error(api.viewer.get(resource_url(), {"archived": ""}), 400, "REQUIRED", "archived")
    assert_error(api.viewer.get(resource_url(), {"archived": "maybe"}), 400, "INVALID", "archived")


def test_resource_list_query_count_does_not_grow(api, setup, django_assert_num_queries):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert api.viewer.get(resource_url()).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for index in range(20):
        resource = ResourceFactory(venue=setup.venue)
        BookableHoursFactory(resource=resource, weekday=index % 7, start_time="09:00", end_time="17:00")
    with django_assert_num_queries(few):
        assert len(api.viewer.get(resource_url()).json()) == 23


def test_resource_retrieve(api, setup):
    BookableHoursFactory(resource=setup.room, weekday=4, start_time="09:00", end_time="00:00")
    response = api.viewer.get(resource_url(setup.room.pk))
    assert response.status_code == 200 and response["ETag"]
    body = response.json()
    assert_resource_shape(body)
    assert body["bookableHours"] == [{"weekday": 4, "start": "09:00", "end": "00:00"}]
    assert body["venueId"] == str(setup.venue.pk) and body["orgId"] == str(setup.org.pk)
    assert body["capacity"] == 10 and body["exclusive"] is True


FULL = {
    "name": "Studio <script>x</script>",
    "kind": "event_space",
    "description": '<p>Big <a href="javascript:alert(1)" onclick="x()">room</a></p><script>alert(1)</script>',
    "capacity": 40,
    "exclusive": True,
    "requiresApproval": False,
    "archived": False,
    "minDurationMinutes": 30,
    "maxDurationMinutes": 240,
    "minNoticeMinutes": 60,
    "maxAdvanceDays": 90,
    "bufferMinutes": 15,
    "bookableHours": [
        {"weekday": 0, "start": "09:00", "end": "17:00"},
        {"weekday": 5, "start": "10:00", "end": "00:00"},
    ],
}


def test_resource_create(api, setup):
    response = api.admin.post(resource_url(), {"venueId": str(setup.venue.pk), **FULL}, format="json")
    assert response.status_code == 201, response.json()
    assert response["ETag"]
    body = response.json()
    assert_resource_shape(body)
    assert body["name"] == "Studio x"
    assert "<script" not in body["description"] and "javascript:" not in body["description"]
    assert "onclick" not in body["description"] and body["description"].startswith("<p>Big <a")
    for key in (
        "kind",
        "capacity",
        "requiresApproval",
        "minDurationMinutes",
        "maxDurationMinutes",
        "minNoticeMinutes",
        "maxAdvanceDays",
        "bufferMinutes",
        "bookableHours",
    ):
        assert body[key] == FULL[key], key
    assert body["orgId"] == str(setup.org.pk) and body["venueId"] == str(setup.venue.pk)


def test_resource_create_defaults(api, setup):
    body = api.admin.post(resource_url(), {"venueId": str(setup.venue.pk), "name": "Pod"}, format="json").json()
    assert {
        k: body[k]
        for k in (
            "kind",
            "capacity",
            "exclusive",
            "requiresApproval",
            "archived",
            "bookableHours",
            "minDurationMinutes",
            "maxAdvanceDays",
            "bufferMinutes",
            "description",
        )
    } == {
        "kind": "room",
        "capacity": 1,
        "exclusive": True,
        "requiresApproval": True,
        "archived": False,
        "bookableHours": [],
        "minDurationMinutes": None,
        "maxAdvanceDays": None,
        "bufferMinutes": 0,
        "description": "",
    }


@pytest.mark.parametrize(
    "payload, code, field",
    [
        ({"venueId": None}, "REQUIRED", "venueId"),
        ({"venueId": "room-1"}, "INVALID", "venueId"),
        ({"venueId": NOWHERE}, "NOT_FOUND", "venueId"),
        ({"name": None}, "REQUIRED", "name"),
        ({"kind": "castle"}, "INVALID_CHOICE", "kind"),
        ({"kind": None}, "REQUIRED", "kind"),
        ({"capacity": 0}, "MIN_VALUE", "capacity"),
        ({"capacity": -5}, "MIN_VALUE", "capacity"),
        ({"capacity": 10**30}, "MAX_VALUE", "capacity"),
        ({"capacity": 10**400}, "MAX_VALUE", "capacity"),
        ({"capacity": "ten"}, "INVALID", "capacity"),
        ({"capacity": 2.5}, "INVALID", "capacity"),
        ({"capacity": None}, "REQUIRED", "capacity"),
        ({"capacity": [1]}, "INVALID", "capacity"),
        ({"exclusive": "perhaps"}, "INVALID", "exclusive"),
        ({"exclusive": 1}, "INVALID", "exclusive"),
        ({"requiresApproval": "true"}, "INVALID", "requiresApproval"),
        ({"exclusive": None}, "REQUIRED", "exclusive"),
        ({"minDurationMinutes": 0}, "MIN_VALUE", "minDurationMinutes"),
        ({"minDurationMinutes": 120, "maxDurationMinutes": 60}, "INVALID", "maxDurationMinutes"),
        ({"maxAdvanceDays": 10**9}, "MAX_VALUE", "maxAdvanceDays"),
        ({"bufferMinutes": 10**12}, "MAX_VALUE", "bufferMinutes"),
        ({"minNoticeMinutes": None}, "REQUIRED", "minNoticeMinutes"),
        ({"description": ["<p>"]}, "INVALID", "description"),
        ({"bookableHours": "mondays"}, "INVALID", "bookableHours"),
        (
            {"bookableHours": [{"weekday": 7, "start": "09:00", "end": "17:00"}]},
            "MAX_VALUE",
            "bookableHours[0].weekday",
        ),
        (
            {"bookableHours": [{"weekday": -1, "start": "09:00", "end": "17:00"}]},
            "MIN_VALUE",
            "bookableHours[0].weekday",
        ),
        ({"bookableHours": [{"weekday": 1, "start": "9am", "end": "17:00"}]}, "INVALID", "bookableHours[0].start"),
        ({"bookableHours": [{"weekday": 1, "start": "09:00"}]}, "REQUIRED", "bookableHours[0].end"),
        ({"bookableHours": [{"weekday": 1, "start": "25:00", "end": "26:00"}]}, "INVALID", "bookableHours[0].start"),
        (
            {
                "bookableHours": [
                    {"weekday": 1, "start": "09:00", "end": "17:00"},
                    {"weekday": 2, "start": "17:00", "end": "09:00"},
                ]
            },
            "END_BEFORE_START",
            "bookableHours[1].end",
        ),
        ({"bookableHours": [None]}, "REQUIRED", "bookableHours[0]"),
    ],
)
def test_resource_create_bad_input(api, setup, payload, code, field):
    body = {"venueId": str(setup.venue.pk), "name": "Pod", **payload}
    before = Resource.objects.count()
    assert_error(api.admin.post(resource_url(), body, format="json"), 400, code, field)
    assert Resource.objects.count() == before


@pytest.mark.parametrize("raw", ["1e400", "-1e400", "NaN", "Infinity", "1.5", '"1e3"', "true", "{}"])
def test_resource_capacity_odd_numbers(api, setup, raw):
    body = f'{{"venueId": "{setup.venue.pk}", "name": "Pod", "capacity": {raw}}}'
    response = api.admin.post(resource_url(), body, content_type="application/json")
    assert response.status_code == 400, response.json()
    assert_error(response, 400)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MANAGER])
def test_resource_writes_need_admin(api, setup, role):
    client = api[role]
    assert_error(client.post(resource_url(), {"venueId": str(setup.venue.pk), "name": "X"}, format="json"), 403)
    assert_error(client.patch(resource_url(setup.room.pk), {"capacity": 2}, format="json"), 403)
    assert_error(client.delete(resource_url(setup.hall.pk)), 403)
    assert Resource.objects.get(pk=setup.room.pk).capacity == 10


def test_resource_cannot_be_created_in_another_organization(api, setup, other):
    response = other[Role.OWNER].post(resource_url(), {"venueId": str(setup.venue.pk), "name": "Mine"}, format="json")
    assert_error(response, 400, "NOT_FOUND", "venueId")
    response = api.admin.post(resource_url(), {"venueId": str(other.setup.venue.pk), "name": "Mine"}, format="json")
    assert_error(response, 400, "NOT_FOUND", "venueId")
    assert not Resource.objects.filter(name="Mine").exists()


def test_resource_patch_replaces_bookable_hours_as_a_whole(api, setup):
    url = resource_url(setup.room.pk)
    first = api.admin.patch(url, {"bookableHours": FULL["bookableHours"]}, format="json")
    assert first.status_code == 200 and first.json()["bookableHours"] == FULL["bookableHours"]
    response = api.admin.patch(
        url, {"capacity": 12, "minDurationMinutes": None}, format="json", HTTP_IF_MATCH=first["ETag"]
    )
    assert response.status_code == 200
    assert_resource_shape(response.json())
    assert response.json()["capacity"] == 12 and response.json()["bookableHours"] == FULL["bookableHours"]
    replaced = api.admin.patch(
        url, {"bookableHours": [{"weekday": 2, "start": "08:00", "end": "12:00"}]}, format="json"
    )
    assert replaced.json()["bookableHours"] == [{"weekday": 2, "start": "08:00", "end": "12:00"}]
    assert api.admin.patch(url, {"bookableHours": []}, format="json").json()["bookableHours"] == []
    assert BookableHours.objects.filter(resource=setup.room).count() == 0


def test_resource_patch_checks_rules_against_stored_values(api, setup):
    setup.room.max_duration_minutes = 60
    setup.room.save()
    response = api.admin.patch(resource_url(setup.room.pk), {"minDurationMinutes": 90}, format="json")
    assert_error(response, 400, "INVALID", "maxDurationMinutes")


def test_resource_patch_stale_etag(api, setup):
    etag = api.admin.get(resource_url(setup.room.pk))["ETag"]
    assert api.admin.patch(resource_url(setup.room.pk), {"name": "Room A"}, format="json").status_code == 200
    assert_error(
        api.admin.patch(resource_url(setup.room.pk), {"name": "Room B"}, format="json", HTTP_IF_MATCH=etag),
        412,
        "PRECONDITION_FAILED",
    )
    assert_error(api.admin.delete(resource_url(setup.room.pk), HTTP_IF_MATCH=etag), 412)
    # Bad input is reported before a stale ETag.
    assert_error(
        api.admin.patch(resource_url(setup.room.pk), {"capacity": 0}, format="json", HTTP_IF_MATCH=etag),
        400,
        "MIN_VALUE",
        "capacity",
    )
    assert Resource.objects.get(pk=setup.room.pk).name == "Room A"


def test_resource_moves_between_venues_of_its_organization_only(api, setup, other):
    annex = VenueFactory(organization=setup.org, timezone="Europe/Paris")
    response = api.admin.patch(resource_url(setup.hall.pk), {"venueId": str(annex.pk)}, format="json")
    assert response.status_code == 200 and response.json()["venueId"] == str(annex.pk)
    response = api.admin.patch(resource_url(setup.hall.pk), {"venueId": str(other.setup.venue.pk)}, format="json")
    assert_error(response, 400, "NOT_FOUND", "venueId")
    assert Resource.objects.get(pk=setup.hall.pk).venue == annex


def test_making_a_shared_resource_exclusive_needs_its_bookings_apart(api, setup):
    first = book(setup, future(hour=10), future(hour=12), setup.desks)
    second = book(setup, future(hour=11), future(hour=13), setup.desks)
    body = assert_error(
        api.admin.patch(resource_url(setup.desks.pk), {"exclusive": True}, format="json"),
        409,
        "BOOKING_CONFLICT",
        "exclusive",
    )
    assert sorted(body["errors"][0]["conflictingEventIds"]) == sorted([str(first.pk), str(second.pk)])
    body = assert_error(
        api.admin.patch(resource_url(setup.desks.pk), {"capacity": 1}, format="json"),
        409,
        "CAPACITY_EXCEEDED",
        "capacity",
    )
    assert Resource.objects.get(pk=setup.desks.pk).capacity == 3
    assert api.admin.patch(resource_url(setup.desks.pk), {"capacity": 2}, format="json").status_code == 200
    events_set_status(events=[second], status=EventStatus.CANCELED)
    response = api.admin.patch(resource_url(setup.desks.pk), {"exclusive": True}, format="json")
    assert response.status_code == 200 and response.json()["exclusive"] is True
    assert Reservation.objects.get(event=first).exclusive is True


def test_resource_delete(api, setup):
    spare = ResourceFactory(venue=setup.venue)
    BookableHoursFactory(resource=spare, weekday=0, start_time="09:00", end_time="17:00")
    etag = api.admin.get(resource_url(spare.pk))["ETag"]
    assert api.admin.delete(resource_url(spare.pk), HTTP_IF_MATCH=etag).status_code == 204
    assert not Resource.objects.filter(pk=spare.pk).exists()
    assert_error(api.admin.get(resource_url(spare.pk)), 404)
    assert_error(api.admin.delete(resource_url(spare.pk)), 404)


def test_resource_in_use_is_not_deleted(api, setup):
    booked = ResourceFactory(venue=setup.venue)
    book(setup, future(hour=10), future(hour=11), booked)
    assert_error(api.admin.delete(resource_url(booked.pk)), 409, "IN_USE")
    closed = ResourceFactory(venue=setup.venue)
    ClosureFactory(organization=setup.org).resources.add(closed)  # without it, the closure would close everything
    assert_error(api.admin.delete(resource_url(closed.pk)), 409, "IN_USE")
    assert_error(api.admin.delete(resource_url(setup.room.pk)), 409, "IN_USE")  # offered by a module
    assert Resource.objects.filter(pk__in=[booked.pk, closed.pk, setup.room.pk]).count() == 3


# --- authentication and tenant isolation --------------------------------------------------------------


def _calls(setup):
    body_venue = {"orgId": str(setup.org.pk), "name": "X"}
    body_resource = {"venueId": str(setup.venue.pk), "name": "X"}
    window = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}
    return [
        ("get", venue_url(), None),
        ("post", venue_url(), body_venue),
        ("get", venue_url(setup.venue.pk), None),
        ("patch", venue_url(setup.venue.pk), {"name": "Y"}),
        ("delete", venue_url(setup.venue.pk), None),
        ("get", resource_url(), None),
        ("post", resource_url(), body_resource),
        ("get", resource_url(setup.room.pk), None),
        ("patch", resource_url(setup.room.pk), {"name": "Y"}),
        ("delete", resource_url(setup.hall.pk), None),
        ("get", availability_url(setup.room.pk), window),
    ]


@pytest.mark.parametrize("index", range(11))
def test_every_endpoint_needs_a_valid_token(api, setup, index):
    method, url, data = _calls(setup)[index]
    for client in (api.public, bearer_client()):
        if client is not api.public:
            client.credentials(HTTP_AUTHORIZATION="Bearer allot_not-a-real-token")
        response = getattr(client, method)(url, data, format="json") if method != "get" else client.get(url, data)
        body = assert_error(response, 401, "NOT_AUTHENTICATED")
        assert body["errors"][0]["field"] == ""
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("index", [1, 2, 3, 4, 6, 7, 8, 9, 10])
def test_another_organization_sees_nothing_of_ours(api, setup, other, index):
    method, url, data = _calls(setup)[index]
    client = other[Role.OWNER]
    response = getattr(client, method)(url, data, format="json") if method != "get" else client.get(url, data)
    assert response.status_code in (400, 404), response.json()
    if response.status_code == 400:  # creating a resource in one of our venues
        assert_error(response, 400, "NOT_FOUND", "venueId")
    else:
        assert_error(response, 404, "NOT_FOUND")
    assert Venue.objects.filter(organization=setup.org).count() == 1
    assert Venue.objects.get(pk=setup.venue.pk).name == setup.venue.name
    assert Resource.objects.filter(venue__organization=setup.org).count() == 3
    assert Resource.objects.get(pk=setup.room.pk).name == "Room"


@pytest.mark.parametrize(
    "method, kind",
    [
        ("get", "venue"),
        ("patch", "venue"),
        ("delete", "venue"),
        ("get", "resource"),
        ("patch", "resource"),
        ("delete", "resource"),
    ],
)
def test_nonexistent_and_malformed_ids_are_not_found(api, setup, method, kind):
    url = venue_url if kind == "venue" else resource_url
    assert_error(getattr(api.admin, method)(url(NOWHERE), {}, format="json"), 404, "NOT_FOUND")
    assert getattr(api.admin, method)(url("12345"), {}, format="json").status_code == 404
