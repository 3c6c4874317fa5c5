"""Events over HTTP (docs/architecture.md#http-api-conventions): the calendar's list with its overlapping window, and
the manager's writes with booking rules, conflicts, status changes, ETags and tenant isolation."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import Event, EventStatus, Reservation
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from resources.models import Role
from tests.api.conftest import assert_error, bearer_client
from tests.conftest import future
from tests.factories import BookableHoursFactory, ClosureFactory, EventFactory, ResourceFactory, VenueFactory

EVENT_KEYS = {
    "id",
    "orgId",
    "title",
    "description",
    "start",
    "end",
    "status",
    "resourceIds",
    "bookingId",
    "seriesId",
    "createdAt",
    "lastUpdatedAt",
    "startLocal",
    "endLocal",
    "timezone",
    "price",
    "units",  # docs/architecture.md#units
}
NOWHERE = "00000000-0000-4000-8000-000000000000"
URL = "/api/v1/events"


def url(pk=None) -> str:
    return URL + (f"/{pk}" if pk else "")


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def body(setup, start=None, end=None, resources=None, **extra) -> dict:
    start = start or future(hour=10)
    end = end or start + timedelta(hours=1)
    return {
        "orgId": str(setup.org.pk),
        "title": "Planning",
        "start": z(start),
        "end": z(end),
        "resourceIds": [str(r.pk) for r in resources or [setup.room]],
        **extra,
    }


def book(setup, start, end, *resources, status=EventStatus.CONFIRMED, title="Booked") -> Event:
    spec = EventSpec(title=title, start=start, end=end, resource_ids=[r.pk for r in resources or [setup.room]])
    return events_save(organization=setup.org, specs=[spec], status=status)[0]


def assert_event_shape(data: dict) -> None:
    assert set(data) == EVENT_KEYS
    for key in ("id", "orgId"):
        uuid.UUID(data[key])
    for key in ("bookingId", "seriesId"):
        assert data[key] is None or uuid.UUID(data[key])
    assert isinstance(data["title"], str) and isinstance(data["description"], str)
    assert data["status"] in (0, 1, 2) and type(data["status"]) is int
    assert isinstance(data["resourceIds"], list) and all(uuid.UUID(r) for r in data["resourceIds"])
    for key in ("start", "end", "createdAt", "lastUpdatedAt"):
        assert data[key].endswith("Z") and datetime.fromisoformat(data[key])
    for key in ("startLocal", "endLocal"):
        assert datetime.fromisoformat(data[key]).tzinfo is None
    assert isinstance(data["timezone"], str)


# --- create -------------------------------------------------------------------------------------------


def test_create(api, setup):
    start = datetime(2030, 7, 1, 9, tzinfo=UTC)
    payload = body(setup, start, resources=[setup.room, setup.hall], description="<p>Agenda</p><script>x</script>")
    response = api.manager.post(URL, payload, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert_event_shape(data)
    assert response["ETag"]
    event = Event.objects.get(pk=data["id"])
    assert data == {
        "id": str(event.pk),
        "orgId": str(setup.org.pk),
        "title": "Planning",
        "description": "<p>Agenda</p>",
        "start": "2030-07-01T09:00:00Z",
        "end": "2030-07-01T10:00:00Z",
        "status": 0,
        "resourceIds": [str(setup.room.pk), str(setup.hall.pk)],
        "bookingId": None,
        "seriesId": None,
        "price": None,
        "createdAt": data["createdAt"],
        "lastUpdatedAt": data["lastUpdatedAt"],
        "startLocal": "2030-07-01T10:00:00",
        "endLocal": "2030-07-01T11:00:00",
        "timezone": "Europe/London",
        "units": [],
    }
    assert set(Reservation.objects.filter(event=event, active=True).values_list("resource_id", flat=True)) == {
        setup.room.pk,
        setup.hall.pk,
    }


def test_create_tentative_hold_blocks_the_resource(api, setup):
    data = api.manager.post(URL, body(setup, status=1), format="json").json()
    assert data["status"] == 1
    response = api.manager.post(URL, body(setup), format="json")
    body_ = assert_error(response, 409, "BOOKING_CONFLICT", "resourceIds")
    assert body_["errors"][0]["conflictingEventIds"] == [data["id"]]


def test_create_strips_markup_from_the_title(api, setup):
    response = api.manager.post(
        URL, body(setup, title='<img src=x onerror="alert(1)">Board <b>meeting</b>'), format="json"
    )
    assert response.json()["title"] == "Board meeting"


def test_create_reads_naive_times_in_the_first_resources_venue(api, setup):
    tokyo = VenueFactory(organization=setup.org, timezone="Asia/Tokyo")
    booth = ResourceFactory(venue=tokyo)
    payload = body(setup, resources=[booth])
    payload.update(start="2030-07-01T09:00:00", end="2030-07-01T10:00:00")
    data = api.manager.post(URL, payload, format="json").json()
    assert data["start"] == "2030-07-01T00:00:00Z" and data["timezone"] == "Asia/Tokyo"
    assert data["startLocal"] == "2030-07-01T09:00:00"
    payload.update(start="2030-07-01T12:00:00+02:00", end="2030-07-01T13:00:00+02:00")
    assert api.manager.post(URL, payload, format="json").json()["start"] == "2030-07-01T10:00:00Z"


def test_create_conflicts(api, setup):
    taken = book(setup, future(hour=10), future(hour=12))
    response = api.manager.post(URL, body(setup, future(hour=11)), format="json")
    data = assert_error(response, 409, "BOOKING_CONFLICT", "resourceIds")
    assert data["errors"][0]["conflictingEventIds"] == [str(taken.pk)]
    assert data["errors"][0]["resourceId"] == str(setup.room.pk)
    # Conflicts are never overridden.
    assert_error(api.manager.post(URL, body(setup, future(hour=11), overrideRules=True), format="json"), 409)
    # Adjacent is free.
    assert api.manager.post(URL, body(setup, future(hour=12)), format="json").status_code == 201


def test_create_capacity_exceeded_on_a_shared_resource(api, setup):
    held = [book(setup, future(hour=10), future(hour=11), setup.desks) for _ in range(3)]
    response = api.manager.post(URL, body(setup, resources=[setup.desks]), format="json")
    data = assert_error(response, 409, "CAPACITY_EXCEEDED", "resourceIds")
    assert sorted(data["errors"][0]["conflictingEventIds"]) == sorted(str(e.pk) for e in held)


def test_create_checks_the_booking_rules(api, setup):
    setup.room.min_duration_minutes = 90
    setup.room.save()
    BookableHoursFactory(resource=setup.hall, weekday=future().weekday(), start_time="12:00", end_time="18:00")
    payload = body(setup, resources=[setup.room, setup.hall])
    data = assert_error(api.manager.post(URL, payload, format="json"), 400, "TOO_SHORT", "end")
    codes = {(e["code"], e["resourceId"]) for e in data["errors"]}
    assert codes == {("TOO_SHORT", str(setup.room.pk)), ("OUTSIDE_BOOKABLE_HOURS", str(setup.hall.pk))}
    assert not Event.objects.exists()
    # Staff may override the rules.
    response = api.manager.post(URL, {**payload, "overrideRules": True}, format="json")
    assert response.status_code == 201


def test_create_in_the_past_and_in_a_closure(api, setup):
    past = datetime.now(UTC) - timedelta(days=1)
    assert_error(api.manager.post(URL, body(setup, past), format="json"), 400, "IN_THE_PAST", "start")
    ClosureFactory(organization=setup.org, start=future(hour=0), end=future(hour=23), message="Works")
    assert_error(api.manager.post(URL, body(setup), format="json"), 400, "RESOURCE_CLOSED", "start")
    setup.hall.archived = True
    setup.hall.save()
    response = api.manager.post(URL, body(setup, future(days=3), resources=[setup.hall]), format="json")
    assert_error(response, 400, "RESOURCE_ARCHIVED", "resourceIds")


@pytest.mark.parametrize(
    "change, code, field",
    [
        ({"title": None}, "REQUIRED", "title"),
        ({"title": ""}, "REQUIRED", "title"),
        ({"title": "x" * 301}, "MAX_LENGTH", "title"),
        ({"title": {"a": 1}}, "INVALID", "title"),
        ({"start": None}, "REQUIRED", "start"),
        ({"start": "tomorrow"}, "INVALID", "start"),
        ({"start": 1700000000}, "INVALID", "start"),
        ({"start": "10000-01-01T00:00:00Z"}, "INVALID", "start"),
        ({"start": "0001-01-01T00:00:00+05:00"}, "OUT_OF_RANGE", "start"),
        ({"start": "9999-12-31T23:30:00Z", "end": "9999-12-31T23:59:00Z"}, "OUT_OF_RANGE", "start"),
        ({"end": "2030-13-01T00:00:00Z"}, "INVALID", "end"),
        ({"resourceIds": []}, "REQUIRED", "resourceIds"),
        ({"resourceIds": None}, "REQUIRED", "resourceIds"),
        ({"resourceIds": "room"}, "INVALID", "resourceIds"),
        ({"resourceIds": ["room"]}, "INVALID", "resourceIds[0]"),
        ({"resourceIds": [7]}, "INVALID", "resourceIds[0]"),
        ({"resourceIds": [NOWHERE]}, "NOT_FOUND", "resourceIds"),
        ({"resourceIds": [NOWHERE] * 51}, "MAX_LENGTH", "resourceIds"),
        ({"orgId": None}, "REQUIRED", "orgId"),
        ({"orgId": "org"}, "INVALID", "orgId"),
        ({"orgId": 5}, "INVALID", "orgId"),
        ({"status": 2}, "INVALID_CHOICE", "status"),
        ({"status": 9}, "INVALID_CHOICE", "status"),
        ({"status": "CONFIRMED"}, "INVALID_CHOICE", "status"),
        ({"status": None}, "REQUIRED", "status"),
        ({"overrideRules": "maybe"}, "INVALID", "overrideRules"),
        ({"overrideRules": 1}, "INVALID", "overrideRules"),
        ({"overrideRules": None}, "REQUIRED", "overrideRules"),
        ({"description": 12.5}, "INVALID", "description"),  # the schema says text: a number is refused
    ],
)
def test_create_bad_input(api, setup, change, code, field):
    response = api.manager.post(URL, json.dumps({**body(setup), **change}), content_type="application/json")
    if code is None:
        assert response.status_code == 201
        return
    assert_error(response, 400, code, field)
    assert not Event.objects.exists()


def test_create_end_before_start(api, setup):
    for end in (future(hour=9), future(hour=10)):
        response = api.manager.post(URL, body(setup, future(hour=10), end), format="json")
        assert_error(response, 400, "END_BEFORE_START", "end")
    # Also with the rules overridden.
    response = api.manager.post(URL, body(setup, future(hour=10), future(hour=9), overrideRules=True), format="json")
    assert_error(response, 400, "END_BEFORE_START", "end")


def test_create_body_must_be_a_json_object(api, setup):
    assert_error(api.manager.post(URL, [body(setup)], format="json"), 400, "INVALID")
    assert_error(api.manager.post(URL, "{", content_type="application/json"), 400, "PARSE_ERROR")
    response = api.manager.post(URL, "title=x", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_duplicate_resource_ids_count_once(api, setup):
    response = api.manager.post(URL, body(setup, resources=[setup.room, setup.room]), format="json")
    assert response.status_code == 201 and response.json()["resourceIds"] == [str(setup.room.pk)]


def test_create_only_with_resources_of_the_organization(api, setup, other):
    response = api.manager.post(URL, body(setup, resources=[setup.room, other.setup.room]), format="json")
    data = assert_error(response, 400, "NOT_FOUND", "resourceIds")
    assert [e["resourceId"] for e in data["errors"]] == [str(other.setup.room.pk)]
    assert not Event.objects.exists()


def test_create_needs_manager(api, setup):
    assert_error(api.viewer.post(URL, body(setup), format="json"), 403, "PERMISSION_DENIED")
    for role in (Role.MANAGER, Role.ADMIN, Role.OWNER):
        response = api[role].post(URL, body(setup, future(days=7 + list(Role).index(role))), format="json")
        assert response.status_code == 201, role


def test_create_in_another_organization_is_not_found(api, setup, other):
    assert_error(other[Role.OWNER].post(URL, body(setup), format="json"), 404, "NOT_FOUND")
    assert_error(api.manager.post(URL, body(setup, orgId=NOWHERE), format="json"), 404)
    assert not Event.objects.exists()


# --- list ---------------------------------------------------------------------------------------------


def test_list_shape_and_order(api, setup, other):
    late = book(setup, future(hour=15), future(hour=16), setup.hall, setup.room)
    early = book(setup, future(hour=9), future(hour=10))
    book(other.setup, future(hour=9), future(hour=10), other.setup.room)
    response = api.viewer.get(URL)
    assert response.status_code == 200
    data = response.json()
    assert [e["id"] for e in data] == [str(early.pk), str(late.pk)]
    for item in data:
        assert_event_shape(item)
    assert set(data[1]["resourceIds"]) == {str(setup.room.pk), str(setup.hall.pk)}


def test_list_window_includes_events_that_overlap_it(api, setup):
    event = book(setup, datetime(2030, 3, 4, 10, tzinfo=UTC), datetime(2030, 3, 4, 11, tzinfo=UTC))

    def listed(**window) -> bool:
        response = api.viewer.get(URL, window)
        assert response.status_code == 200, response.json()
        return [e["id"] for e in response.json()] == [str(event.pk)]

    assert listed()
    assert listed(windowStart="2030-03-04T10:00:00Z", windowEnd="2030-03-04T11:00:00Z")  # exactly the event
    assert listed(windowStart="2030-03-04T09:00:00Z", windowEnd="2030-03-04T12:00:00Z")  # around it
    assert listed(windowStart="2030-03-04T10:30:00Z", windowEnd="2030-03-04T10:31:00Z")  # inside it
    assert listed(windowStart="2030-03-04T10:59:59Z")  # overlaps its last second
    assert not listed(windowStart="2030-03-04T11:00:00Z")  # ends exactly at the window's start
    assert listed(windowEnd="2030-03-04T10:00:01Z")
    assert not listed(windowEnd="2030-03-04T10:00:00Z")  # starts exactly at the window's end
    assert not listed(windowStart="2030-03-04T08:00:00Z", windowEnd="2030-03-04T10:00:00Z")
    assert not listed(windowStart="2030-03-04T11:00:00Z", windowEnd="2030-03-04T12:00:00Z")
    assert listed(windowStart="2030-03-04T11:30:00+01:00")  # 10:30 UTC
    assert not listed(windowStart="2030-03-04T12:00:00+01:00")  # 11:00 UTC
    assert listed(windowStart="2030-03-05T06:59:00+20:00")  # offsets PostgreSQL could not store are converted
    assert not listed(windowEnd="2030-03-03T10:00:00-23:59")  # 09:59 UTC on the 4th


def test_list_filters(api, setup, other):
    confirmed = book(setup, future(hour=9), future(hour=10))
    hold = book(setup, future(hour=11), future(hour=12), setup.hall, status=EventStatus.TENTATIVE)

    def ids(**params):
        return [e["id"] for e in api.viewer.get(URL, params).json()]

    assert ids(status=0) == [str(confirmed.pk)]
    assert ids(status=1) == [str(hold.pk)]
    assert ids(status=2) == []
    assert ids(resourceId=str(setup.hall.pk)) == [str(hold.pk)]
    assert ids(resourceId=str(setup.room.pk), status=1) == []
    assert ids(orgId=str(setup.org.pk)) == [str(confirmed.pk), str(hold.pk)]
    assert ids(orgId=str(other.setup.org.pk)) == []
    assert ids(resourceId=str(other.setup.room.pk)) == []


@pytest.mark.parametrize(
    "params, code, field",
    [
        ({"windowStart": "soon"}, "INVALID", "windowStart"),
        ({"windowEnd": "2030-02-30T00:00:00Z"}, "INVALID", "windowEnd"),
        ({"status": "5"}, "INVALID_CHOICE", "status"),
        ({"status": "x"}, "INVALID_CHOICE", "status"),
        ({"resourceId": "room"}, "INVALID", "resourceId"),
        ({"orgId": "1"}, "INVALID", "orgId"),
        ({"orgId": ""}, "REQUIRED", "orgId"),
        ({"windowStart": ""}, "REQUIRED", "windowStart"),
        ({"status": ""}, "REQUIRED", "status"),
    ],
)
def test_list_bad_filters(api, setup, params, code, field):
    assert_error(api.viewer.get(URL, params), 400, code, field)


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00", "10000-01-01T00:00:00Z"]
)
def test_list_extreme_windows_are_refused(api, setup, value):
    assert_error(api.viewer.get(URL, {"windowStart": value}), 400, "INVALID", "windowStart")
    assert_error(api.viewer.get(URL, {"windowEnd": value}), 400, "INVALID", "windowEnd")


def test_list_shows_the_booking_an_event_came_from(api, setup):
    result = setup.submit()
    [event] = result.events
    [data] = api.viewer.get(URL).json()
    assert data["id"] == str(event.pk) and data["bookingId"] == str(result.booking.pk) and data["status"] == 1


def test_list_uses_the_same_queries_for_3_and_30_events(api, setup, django_assert_num_queries):
    def make(count, offset):
        for index in range(count):
            start = future(days=2 + offset + index, hour=10)
            book(setup, start, start + timedelta(hours=1), setup.room, setup.hall)
        setup.submit(setup.event(future(days=60 + offset, hour=9), resources=[setup.desks]))

    make(3, 0)
    with CaptureQueriesContext(connection) as ctx:
        assert len(api.viewer.get(URL).json()) == 4
    make(26, 10)
    with django_assert_num_queries(len(ctx.captured_queries)):
        response = api.viewer.get(URL)
    assert len(response.json()) == 31


# --- retrieve -----------------------------------------------------------------------------------------


def test_retrieve(api, setup):
    event = book(setup, future(hour=9), future(hour=10))
    response = api.viewer.get(url(event.pk))
    assert response.status_code == 200 and response["ETag"]
    assert_event_shape(response.json())
    assert response.json()["id"] == str(event.pk) and response.json()["resourceIds"] == [str(setup.room.pk)]


def test_event_without_resources_uses_the_organizations_timezone(api, setup):
    setup.org.timezone = "America/Chicago"
    setup.org.save()
    event = EventFactory(
        organization=setup.org,
        title="Memo",
        start=datetime(2030, 1, 1, 18, tzinfo=UTC),
        end=datetime(2030, 1, 1, 19, tzinfo=UTC),
    )
    data = api.viewer.get(url(event.pk)).json()
    assert data["resourceIds"] == [] and data["timezone"] == "America/Chicago"
    assert data["startLocal"] == "2030-01-01T12:00:00"
    response = api.manager.patch(url(event.pk), {"start": "2030-01-01T17:00:00Z"}, format="json")
    assert response.status_code == 200 and response.json()["start"] == "2030-01-01T17:00:00Z"


# --- update -------------------------------------------------------------------------------------------


def test_patch_retitles(api, setup):
    event = book(setup, future(hour=9), future(hour=10))
    etag = api.manager.get(url(event.pk))["ETag"]
    response = api.manager.patch(
        url(event.pk), {"title": "Renamed", "description": "<em>x</em>"}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert_event_shape(data)
    assert data["title"] == "Renamed" and data["description"] == "<em>x</em>" and data["start"] == z(event.start)
    assert response["ETag"] != etag
    assert api.manager.patch(url(event.pk), {"description": ""}, format="json").json()["description"] == ""


def test_patch_moves_with_conflict_and_rule_checks(api, setup):
    event = book(setup, future(hour=9), future(hour=10))
    other_event = book(setup, future(hour=12), future(hour=13))
    response = api.manager.patch(url(event.pk), {"start": z(future(hour=11)), "end": z(future(hour=12))}, format="json")
    assert response.status_code == 200 and response.json()["start"] == z(future(hour=11))
    assert Reservation.objects.get(event=event).start == future(hour=11)
    response = api.manager.patch(url(event.pk), {"end": z(future(hour=13))}, format="json")
    data = assert_error(response, 409, "BOOKING_CONFLICT", "resourceIds")
    assert data["errors"][0]["conflictingEventIds"] == [str(other_event.pk)]
    response = api.manager.patch(
        url(event.pk), {"resourceIds": [str(setup.hall.pk)], "end": z(future(hour=13))}, format="json"
    )
    assert response.status_code == 200 and response.json()["resourceIds"] == [str(setup.hall.pk)]
    assert_error(
        api.manager.patch(url(event.pk), {"end": z(future(hour=10))}, format="json"), 400, "END_BEFORE_START", "end"
    )
    past = datetime.now(UTC) - timedelta(hours=5)
    move = {"start": z(past), "end": z(past + timedelta(hours=1))}
    assert_error(api.manager.patch(url(event.pk), move, format="json"), 400, "IN_THE_PAST", "start")
    response = api.manager.patch(url(event.pk), {**move, "overrideRules": True}, format="json")
    assert response.status_code == 200 and response.json()["start"] == z(past)


def test_patch_resources_of_another_organization(api, setup, other):
    event = book(setup, future(hour=9), future(hour=10))
    response = api.manager.patch(url(event.pk), {"resourceIds": [str(other.setup.room.pk)]}, format="json")
    assert_error(response, 400, "NOT_FOUND", "resourceIds")
    assert list(Reservation.objects.filter(event=event).values_list("resource_id", flat=True)) == [setup.room.pk]


def test_patch_cancels_and_frees_the_resources(api, setup):
    event = book(setup, future(hour=9), future(hour=10))
    response = api.manager.patch(url(event.pk), {"status": 2}, format="json")
    assert response.status_code == 200 and response.json()["status"] == 2
    assert not Reservation.objects.get(event=event).active
    assert api.manager.post(URL, body(setup, future(hour=9)), format="json").status_code == 201
    assert_error(api.manager.patch(url(event.pk), {"status": 0}, format="json"), 409, "INVALID_TRANSITION", "status")
    assert_error(api.manager.patch(url(event.pk), {"status": 1}, format="json"), 409, "INVALID_TRANSITION")
    # A canceled event may still be retitled or moved; it holds nothing.
    response = api.manager.patch(url(event.pk), {"title": "Was planning", "end": z(future(hour=11))}, format="json")
    assert response.status_code == 200 and response.json()["status"] == 2


def test_patch_confirms_a_tentative_event(api, setup):
    hold = book(setup, future(hour=9), future(hour=10), status=EventStatus.TENTATIVE)
    response = api.manager.patch(url(hold.pk), {"status": 0}, format="json")
    assert response.status_code == 200 and response.json()["status"] == 0
    assert_error(api.manager.patch(url(hold.pk), {"status": 1}, format="json"), 409, "INVALID_TRANSITION")
    assert api.manager.patch(url(hold.pk), {"status": 0}, format="json").status_code == 200  # unchanged is fine


def test_patch_confirm_and_move_together(api, setup):
    hold = book(setup, future(hour=9), future(hour=10), status=EventStatus.TENTATIVE)
    response = api.manager.patch(url(hold.pk), {"status": 0, "start": z(future(hour=8))}, format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["start"]) == (0, z(future(hour=8)))


def test_patch_cancel_and_move_together_skips_checks(api, setup):
    event = book(setup, future(hour=9), future(hour=10))
    book(setup, future(hour=12), future(hour=13))
    move = {"status": 2, "start": z(future(hour=12)), "end": z(future(hour=13))}
    response = api.manager.patch(url(event.pk), move, format="json")
    assert response.status_code == 200 and response.json()["status"] == 2


@pytest.mark.parametrize(
    "change, code, field",
    [
        ({"title": ""}, "REQUIRED", "title"),
        ({"title": None}, "REQUIRED", "title"),
        ({"start": "noon"}, "INVALID", "start"),
        ({"end": None}, "REQUIRED", "end"),
        ({"status": 3}, "INVALID_CHOICE", "status"),
        ({"status": None}, "REQUIRED", "status"),
        ({"resourceIds": []}, "REQUIRED", "resourceIds"),
        ({"resourceIds": [None]}, "REQUIRED", "resourceIds[0]"),
        ({"resourceIds": ["a", NOWHERE]}, "INVALID", "resourceIds[0]"),
    ],
)
def test_patch_bad_input(api, setup, change, code, field):
    event = book(setup, future(hour=9), future(hour=10))
    assert_error(api.manager.patch(url(event.pk), change, format="json"), 400, code, field)
    assert Event.objects.get(pk=event.pk).title == "Booked"


def test_patch_stale_etag(api, setup):
    event = book(setup, future(hour=9), future(hour=10))
    etag = api.manager.get(url(event.pk))["ETag"]
    assert api.manager.patch(url(event.pk), {"title": "One"}, format="json", HTTP_IF_MATCH=etag).status_code == 200
    response = api.manager.patch(url(event.pk), {"title": "Two"}, format="json", HTTP_IF_MATCH=etag)
    assert_error(response, 412, "PRECONDITION_FAILED", "If-Match")
    assert Event.objects.get(pk=event.pk).title == "One"
    fresh = api.manager.get(url(event.pk))["ETag"]
    response = api.manager.patch(url(event.pk), {"status": 2}, format="json", HTTP_IF_MATCH=f'W/{fresh}, "x"')
    assert response.status_code == 200
    assert response["ETag"] == api.manager.get(url(event.pk))["ETag"]  # the status change moved the ETag


def test_patch_needs_manager(api, setup):
    event = book(setup, future(hour=9), future(hour=10))
    assert_error(api.viewer.patch(url(event.pk), {"title": "X"}, format="json"), 403, "PERMISSION_DENIED")
    assert api.admin.patch(url(event.pk), {"title": "X"}, format="json").status_code == 200


# --- delete -------------------------------------------------------------------------------------------


def test_delete(api, setup):
    event = book(setup, future(hour=9), future(hour=10))
    etag = api.manager.get(url(event.pk))["ETag"]
    assert_error(api.viewer.delete(url(event.pk)), 403)
    assert_error(api.manager.delete(url(event.pk), HTTP_IF_MATCH='"stale"'), 412)
    response = api.manager.delete(url(event.pk), HTTP_IF_MATCH=etag)
    assert response.status_code == 204 and not response.content
    assert not Event.objects.filter(pk=event.pk).exists() and not Reservation.objects.filter(event=event).exists()
    assert_error(api.manager.get(url(event.pk)), 404)
    assert_error(api.manager.delete(url(event.pk)), 404)
    assert api.manager.post(URL, body(setup, future(hour=9)), format="json").status_code == 201


def test_delete_an_event_of_a_booking_keeps_the_booking(api, setup):
    result = setup.submit()
    [event] = result.events
    assert api.manager.delete(url(event.pk)).status_code == 204
    result.booking.refresh_from_db()
    assert result.booking.requested_times.get().event is None


# --- authentication and tenant isolation --------------------------------------------------------------


def _calls(setup, event):
    return [
        ("get", URL, None),
        ("post", URL, body(setup)),
        ("get", url(event.pk), None),
        ("patch", url(event.pk), {"title": "X"}),
        ("delete", url(event.pk), None),
    ]


@pytest.mark.parametrize("index", range(5))
def test_every_endpoint_needs_a_valid_token(api, setup, index):
    event = book(setup, future(hour=9), future(hour=10))
    method, target, data = _calls(setup, event)[index]
    bad = bearer_client()
    bad.credentials(HTTP_AUTHORIZATION="Bearer allot_forged")
    for client in (api.public, bad):
        response = client.get(target, data) if method == "get" else getattr(client, method)(target, data, format="json")
        assert_error(response, 401, "NOT_AUTHENTICATED")
    assert Event.objects.get(pk=event.pk).title == "Booked"


@pytest.mark.parametrize("index", range(1, 5))
def test_another_organization_gets_404_for_our_events(api, setup, other, index):
    event = book(setup, future(hour=9), future(hour=10))
    method, target, data = _calls(setup, event)[index]
    client = other[Role.OWNER]
    response = client.get(target, data) if method == "get" else getattr(client, method)(target, data, format="json")
    assert_error(response, 404, "NOT_FOUND")
    assert Event.objects.filter(organization=setup.org).count() == 1
    assert Event.objects.get(pk=event.pk).title == "Booked"
    assert other[Role.OWNER].get(URL).json() == []


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_nonexistent_and_malformed_ids(api, setup, method):
    assert_error(getattr(api.manager, method)(url(NOWHERE), {}, format="json"), 404, "NOT_FOUND")
    assert getattr(api.manager, method)(url("42"), {}, format="json").status_code == 404
