"""Venues, resources (with bookable hours) and resource availability over HTTP
(docs/architecture.md#http-api-conventions)."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import EventStatus, Reservation
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from events.services.status import events_set_status
from resources.models import BookableHours, Resource, Role, Venue
from tests.api.conftest import assert_error, bearer_client
from tests.conftest import future
from tests.factories import BookableHoursFactory, ClosureFactory, ResourceFactory, UserFactory, VenueFactory

VENUE_KEYS = {"id", "orgId", "name", "address", "timezone", "createdAt", "lastUpdatedAt"}
RESOURCE_KEYS = {
    "id", "venueId", "orgId", "name", "kind", "description", "capacity", "exclusive", "requiresApproval", "archived",
    "minDurationMinutes", "maxDurationMinutes", "minNoticeMinutes", "maxAdvanceDays", "bufferMinutes",
    "bookableHours", "createdAt", "lastUpdatedAt",
    "units",  # docs/architecture.md#units
}
NOWHERE = "00000000-0000-4000-8000-000000000000"


def venue_url(pk=None) -> str:
    return "/api/v1/venues" + (f"/{pk}" if pk else "")


def resource_url(pk=None) -> str:
    return "/api/v1/resources" + (f"/{pk}" if pk else "")


def availability_url(pk) -> str:
    return f"/api/v1/resources/{pk}/availability"


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def is_utc(value) -> bool:
    return isinstance(value, str) and value.endswith("Z") and datetime.fromisoformat(value) is not None


def book(setup, start, end, *resources, status=EventStatus.CONFIRMED, title="Booked"):
    spec = EventSpec(title=title, start=start, end=end, resource_ids=[r.pk for r in resources or [setup.room]])
    return events_save(organization=setup.org, specs=[spec], status=status)[0]


def assert_venue_shape(body: dict) -> None:
    assert set(body) == VENUE_KEYS
    uuid.UUID(body["id"]), uuid.UUID(body["orgId"])
    assert all(isinstance(body[k], str) for k in ("name", "address", "timezone"))
    assert is_utc(body["createdAt"]) and is_utc(body["lastUpdatedAt"])


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
    response = api.admin.post(venue_url(), {"orgId": str(setup.org.pk), "name": "Annex <b>North</b>",
                                            "address": "1 High St", "timezone": "Europe/Paris"}, format="json")
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


@pytest.mark.parametrize("payload, code, field", [
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
])
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
    assert_error(client.post(venue_url(), {"orgId": str(setup.org.pk), "name": "X"}, format="json"), 403,
                 "PERMISSION_DENIED")
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
    response = api.admin.patch(venue_url(setup.venue.pk), {"timezone": "Asia/Tokyo", "orgId": NOWHERE},
                               format="json", HTTP_IF_MATCH=before["ETag"])
    assert response.status_code == 200, response.json()
    assert_venue_shape(response.json())
    assert response.json()["timezone"] == "Asia/Tokyo" and response.json()["name"] == setup.venue.name
    assert response.json()["orgId"] == str(setup.org.pk)  # the organization never changes
    assert response["ETag"] != before["ETag"]
    # The old ETag is stale now.
    stale = api.admin.patch(venue_url(setup.venue.pk), {"name": "Late"}, format="json", HTTP_IF_MATCH=before["ETag"])
    assert_error(stale, 412, "PRECONDITION_FAILED", "If-Match")
    assert Venue.objects.get(pk=setup.venue.pk).name == setup.venue.name
    assert api.admin.patch(venue_url(setup.venue.pk), {"name": "Any"}, format="json",
                           HTTP_IF_MATCH="*").status_code == 200
    assert_error(api.admin.patch(venue_url(setup.venue.pk), {"timezone": "Nowhere"}, format="json"), 400,
                 "INVALID", "timezone")
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
    "name": "Studio <script>x</script>", "kind": "event_space",
    "description": '<p>Big <a href="javascript:alert(1)" onclick="x()">room</a></p><script>alert(1)</script>',
    "capacity": 40, "exclusive": True, "requiresApproval": False, "archived": False,
    "minDurationMinutes": 30, "maxDurationMinutes": 240, "minNoticeMinutes": 60, "maxAdvanceDays": 90,
    "bufferMinutes": 15,
    "bookableHours": [{"weekday": 0, "start": "09:00", "end": "17:00"},
                      {"weekday": 5, "start": "10:00", "end": "00:00"}],
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
    for key in ("kind", "capacity", "requiresApproval", "minDurationMinutes", "maxDurationMinutes",
                "minNoticeMinutes", "maxAdvanceDays", "bufferMinutes", "bookableHours"):
        assert body[key] == FULL[key], key
    assert body["orgId"] == str(setup.org.pk) and body["venueId"] == str(setup.venue.pk)


def test_resource_create_defaults(api, setup):
    body = api.admin.post(resource_url(), {"venueId": str(setup.venue.pk), "name": "Pod"}, format="json").json()
    assert {k: body[k] for k in ("kind", "capacity", "exclusive", "requiresApproval", "archived", "bookableHours",
                                 "minDurationMinutes", "maxAdvanceDays", "bufferMinutes", "description")} == {
        "kind": "room", "capacity": 1, "exclusive": True, "requiresApproval": True, "archived": False,
        "bookableHours": [], "minDurationMinutes": None, "maxAdvanceDays": None, "bufferMinutes": 0,
        "description": "",
    }


@pytest.mark.parametrize("payload, code, field", [
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
    ({"bookableHours": [{"weekday": 7, "start": "09:00", "end": "17:00"}]}, "MAX_VALUE", "bookableHours[0].weekday"),
    ({"bookableHours": [{"weekday": -1, "start": "09:00", "end": "17:00"}]}, "MIN_VALUE", "bookableHours[0].weekday"),
    ({"bookableHours": [{"weekday": 1, "start": "9am", "end": "17:00"}]}, "INVALID", "bookableHours[0].start"),
    ({"bookableHours": [{"weekday": 1, "start": "09:00"}]}, "REQUIRED", "bookableHours[0].end"),
    ({"bookableHours": [{"weekday": 1, "start": "25:00", "end": "26:00"}]}, "INVALID", "bookableHours[0].start"),
    ({"bookableHours": [{"weekday": 1, "start": "09:00", "end": "17:00"},
                        {"weekday": 2, "start": "17:00", "end": "09:00"}]}, "END_BEFORE_START", "bookableHours[1].end"),
    ({"bookableHours": [None]}, "REQUIRED", "bookableHours[0]"),
])
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
    response = api.admin.patch(url, {"capacity": 12, "minDurationMinutes": None}, format="json",
                               HTTP_IF_MATCH=first["ETag"])
    assert response.status_code == 200
    assert_resource_shape(response.json())
    assert response.json()["capacity"] == 12 and response.json()["bookableHours"] == FULL["bookableHours"]
    replaced = api.admin.patch(url, {"bookableHours": [{"weekday": 2, "start": "08:00", "end": "12:00"}]},
                               format="json")
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
    assert_error(api.admin.patch(resource_url(setup.room.pk), {"name": "Room B"}, format="json", HTTP_IF_MATCH=etag),
                 412, "PRECONDITION_FAILED")
    assert_error(api.admin.delete(resource_url(setup.room.pk), HTTP_IF_MATCH=etag), 412)
    # Bad input is reported before a stale ETag.
    assert_error(api.admin.patch(resource_url(setup.room.pk), {"capacity": 0}, format="json", HTTP_IF_MATCH=etag),
                 400, "MIN_VALUE", "capacity")
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
    body = assert_error(api.admin.patch(resource_url(setup.desks.pk), {"exclusive": True}, format="json"),
                        409, "BOOKING_CONFLICT", "exclusive")
    assert sorted(body["errors"][0]["conflictingEventIds"]) == sorted([str(first.pk), str(second.pk)])
    body = assert_error(api.admin.patch(resource_url(setup.desks.pk), {"capacity": 1}, format="json"),
                        409, "CAPACITY_EXCEEDED", "capacity")
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


# --- availability -------------------------------------------------------------------------------------


def test_availability(api, setup):
    setup.room.buffer_minutes = 15
    setup.room.save()
    start, end = future(hour=0), future(days=8, hour=0)
    confirmed = book(setup, future(hour=10), future(hour=11))
    hold = book(setup, future(hour=14), future(hour=15), status=EventStatus.TENTATIVE)
    canceled = book(setup, future(hour=16), future(hour=17))
    events_set_status(events=[canceled], status=EventStatus.CANCELED)
    book(setup, future(days=9, hour=10), future(days=9, hour=11))  # outside the window
    book(setup, future(hour=10), future(hour=11), setup.hall)  # another resource
    closure = ClosureFactory(organization=setup.org, start=future(hour=18), end=future(hour=20), message="Cleaning")
    ClosureFactory(organization=setup.org, start=future(hour=18), end=future(hour=20)).resources.add(setup.hall)
    response = api.viewer.get(availability_url(setup.room.pk), {"start": z(start), "end": z(end)})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"resourceId", "busy", "closures"} and body["resourceId"] == str(setup.room.pk)
    assert body["busy"] == [
        {"start": z(confirmed.start), "end": z(confirmed.end),
         "occupiedUntil": z(confirmed.end + timedelta(minutes=15)), "eventId": str(confirmed.pk), "status": 0},
        {"start": z(hold.start), "end": z(hold.end), "occupiedUntil": z(hold.end + timedelta(minutes=15)),
         "eventId": str(hold.pk), "status": 1},
    ]
    assert body["closures"] == [{"id": str(closure.pk), "start": z(closure.start), "end": z(closure.end),
                                 "message": "Cleaning"}]


def test_availability_window_is_half_open_and_includes_the_buffer(api, setup):
    setup.room.buffer_minutes = 30
    setup.room.save()
    event = book(setup, future(hour=10), future(hour=11))

    def busy(start, end):
        response = api.viewer.get(availability_url(setup.room.pk), {"start": z(start), "end": z(end)})
        return [b["eventId"] for b in response.json()["busy"]]

    assert busy(future(hour=9), future(hour=10)) == []  # ends where the event starts
    assert busy(future(hour=9), future(hour=10, minute=1)) == [str(event.pk)]
    assert busy(future(hour=11, minute=15), future(hour=12)) == [str(event.pk)]  # inside the buffer
    assert busy(future(hour=11, minute=30), future(hour=12)) == []  # free again after the buffer


def test_availability_shifts_yearly_closures_into_the_window(api, setup):
    christmas = datetime(2020, 12, 25, tzinfo=UTC)
    closure = ClosureFactory(organization=setup.org, start=christmas, end=christmas + timedelta(days=1),
                             repeats_yearly=True, message="Christmas")
    response = api.viewer.get(availability_url(setup.room.pk),
                              {"start": "2027-12-01T00:00:00Z", "end": "2028-01-01T00:00:00Z"})
    assert response.json()["closures"] == [{"id": str(closure.pk), "start": "2027-12-25T00:00:00Z",
                                            "end": "2027-12-26T00:00:00Z", "message": "Christmas"}]
    response = api.viewer.get(availability_url(setup.room.pk),
                              {"start": "2027-12-01T00:00:00Z", "end": "2028-12-01T00:00:00Z"})
    assert [c["start"] for c in response.json()["closures"]] == ["2027-12-25T00:00:00Z"]
    response = api.viewer.get(availability_url(setup.room.pk),
                              {"start": "2027-01-01T00:00:00Z", "end": "2027-12-01T00:00:00Z"})
    assert response.json()["closures"] == []


def test_availability_reads_naive_times_in_the_venue_timezone(api, setup):
    event = book(setup, datetime(2030, 7, 1, 10, tzinfo=UTC), datetime(2030, 7, 1, 11, tzinfo=UTC))
    # 10:00 UTC is 11:00 in London (summer): a naive window 11:00-12:00 is the event's hour.
    response = api.viewer.get(availability_url(setup.room.pk), {"start": "2030-07-01T11:00", "end": "2030-07-01T12:00"})
    assert [b["eventId"] for b in response.json()["busy"]] == [str(event.pk)]
    response = api.viewer.get(availability_url(setup.room.pk), {"start": "2030-07-01T09:00", "end": "2030-07-01T11:00"})
    assert response.json()["busy"] == []


@pytest.mark.parametrize("params, code, field", [
    ({"end": "2030-01-02T00:00:00Z"}, "REQUIRED", "start"),
    ({"start": "2030-01-01T00:00:00Z"}, "REQUIRED", "end"),
    ({}, "REQUIRED", "start"),
    ({"start": "yesterday", "end": "2030-01-02T00:00:00Z"}, "INVALID", "start"),
    ({"start": "2030-01-01T00:00:00Zjunk", "end": "2030-01-02T00:00:00Z"}, "INVALID", "start"),
    ({"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "END_BEFORE_START", "end"),
    ({"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"}, "END_BEFORE_START", "end"),
    ({"start": "2030-01-01T00:00:00Z", "end": "2031-01-02T00:00:01Z"}, "WINDOW_TOO_LONG", "end"),
    ({"start": "0001-01-01T00:00:00+01:00", "end": "2030-01-02T00:00:00Z"}, "OUT_OF_RANGE", "start"),
    ({"start": "9999-12-31T23:00:00-05:00", "end": "2030-01-02T00:00:00Z"}, "OUT_OF_RANGE", "start"),
    ({"start": "2030-01-01T00:00:00Z", "end": "99999-01-01T00:00:00Z"}, "INVALID", "end"),
    ({"start": "2030-13-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}, "INVALID", "start"),
])
def test_availability_bad_window(api, setup, params, code, field):
    assert_error(api.viewer.get(availability_url(setup.room.pk), params), 400, code, field)


def test_availability_accepts_any_offset(api, setup):
    event = book(setup, datetime(2030, 7, 1, 10, tzinfo=UTC), datetime(2030, 7, 1, 11, tzinfo=UTC))
    response = api.viewer.get(availability_url(setup.room.pk),
                              {"start": "2030-07-02T06:00:00+20:00", "end": "2030-07-01T11:00:00-23:00"})
    assert [b["eventId"] for b in response.json()["busy"]] == [str(event.pk)]


def test_availability_window_of_366_days_is_allowed(api, setup):
    response = api.viewer.get(availability_url(setup.room.pk),
                              {"start": "2030-01-01T00:00:00Z", "end": "2031-01-02T00:00:00Z"})
    assert response.status_code == 200


def test_availability_is_a_fixed_number_of_queries(api, setup, django_assert_num_queries):
    params = {"start": z(future(days=1)), "end": z(future(days=30))}
    ClosureFactory(organization=setup.org, start=future(days=2), end=future(days=3))
    with CaptureQueriesContext(connection) as ctx:
        api.viewer.get(availability_url(setup.room.pk), params)
    for day in range(2, 22):
        book(setup, future(days=day, hour=10), future(days=day, hour=11))
        ClosureFactory(organization=setup.org, start=future(days=day, hour=20), end=future(days=day, hour=21))
    with django_assert_num_queries(len(ctx.captured_queries)):
        assert len(api.viewer.get(availability_url(setup.room.pk), params).json()["busy"]) == 20


def test_availability_errors(api, setup, other):
    params = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}
    assert_error(api.public.get(availability_url(setup.room.pk), params), 401, "NOT_AUTHENTICATED")
    assert_error(other[Role.OWNER].get(availability_url(setup.room.pk), params), 404, "NOT_FOUND")
    assert_error(api.viewer.get(availability_url(NOWHERE), params), 404)
    assert api.viewer.get(availability_url("not-a-uuid"), params).status_code == 404


# --- authentication and tenant isolation --------------------------------------------------------------


def _calls(setup):
    body_venue = {"orgId": str(setup.org.pk), "name": "X"}
    body_resource = {"venueId": str(setup.venue.pk), "name": "X"}
    window = {"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z"}
    return [
        ("get", venue_url(), None), ("post", venue_url(), body_venue),
        ("get", venue_url(setup.venue.pk), None), ("patch", venue_url(setup.venue.pk), {"name": "Y"}),
        ("delete", venue_url(setup.venue.pk), None),
        ("get", resource_url(), None), ("post", resource_url(), body_resource),
        ("get", resource_url(setup.room.pk), None), ("patch", resource_url(setup.room.pk), {"name": "Y"}),
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


@pytest.mark.parametrize("method, kind", [("get", "venue"), ("patch", "venue"), ("delete", "venue"),
                                          ("get", "resource"), ("patch", "resource"), ("delete", "resource")])
def test_nonexistent_and_malformed_ids_are_not_found(api, setup, method, kind):
    url = venue_url if kind == "venue" else resource_url
    assert_error(getattr(api.admin, method)(url(NOWHERE), {}, format="json"), 404, "NOT_FOUND")
    assert getattr(api.admin, method)(url("12345"), {}, format="json").status_code == 404
