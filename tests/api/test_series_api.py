"""Series over HTTP: PATCH and DELETE /events/{id} with whichEventsToUpdate, the occurrences a change addresses
(docs/architecture.md#series), on the 4th of 10 weekly occurrences that cross the spring clock change."""

from datetime import UTC, timedelta

import pytest

from bookings.models import BookingChangeRequest, BookingEvent, BookingLog
from events.models import Event, Reservation
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from resources.models import Role
from tests.api.conftest import assert_error
from tests.series import LONDON, local, make_booked_series, make_series, moved, rows, wall

URL = "/api/v1/events"
HOUR = timedelta(hours=1)


def url(pk) -> str:
    return f"{URL}/{pk}"


def z(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def series(setup):
    return make_series(setup)


def half_past_ten(event) -> dict:
    start = local(event.start.astimezone(LONDON).date(), 10, 30)
    return {"start": z(start), "end": z(start + HOUR)}


# --- PATCH ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which, changed", [(None, [3]), (1, [3]), (2, range(3, 10)), (3, range(10))])
def test_patch_moves_exactly_the_chosen_occurrences(api, series, which, changed):
    series_row, events = series
    before = rows(series_row)
    body = half_past_ten(events[3]) | ({} if which is None else {"whichEventsToUpdate": which})
    response = api.manager.patch(url(events[3].pk), body, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["id"] == str(events[3].pk) and data["seriesId"] == str(series_row.pk)
    assert data["startLocal"].endswith("T10:30:00") and response["ETag"]
    assert rows(series_row) == moved(before, changed)


def test_patch_keeps_the_wall_clock_across_the_clock_change(api, series):
    series_row, events = series
    api.manager.patch(url(events[3].pk), {**half_past_ten(events[3]), "whichEventsToUpdate": 2}, format="json")
    listed = api.viewer.get(URL, {"seriesId": str(series_row.pk)}).json()
    assert [e["startLocal"][11:16] for e in listed] == ["09:00"] * 3 + ["10:30"] * 7
    assert [e["start"][11:16] for e in listed] == ["09:00"] * 3 + ["10:30"] + ["09:30"] * 6


@pytest.mark.parametrize("which", [1, 2, 3])
def test_patch_title_per_scope(api, series, which):
    series_row, events = series
    before = rows(series_row)
    changed = {1: [3], 2: range(3, 10), 3: range(10)}[which]
    response = api.manager.patch(url(events[3].pk), {"title": "Retro", "whichEventsToUpdate": which}, format="json")
    assert response.status_code == 200
    assert rows(series_row) == [(s, e, "Retro" if i in changed else t) for i, (s, e, t) in enumerate(before)]


def test_patch_resources_of_all_occurrences(api, setup, series):
    series_row, events = series
    response = api.manager.patch(
        url(events[3].pk), {"resourceIds": [str(setup.hall.pk)], "whichEventsToUpdate": 3}, format="json"
    )
    assert response.status_code == 200 and response.json()["resourceIds"] == [str(setup.hall.pk)]
    assert set(Reservation.objects.filter(event__series=series_row).values_list("resource_id", flat=True)) == {
        setup.hall.pk
    }


@pytest.mark.parametrize(
    "value, code",
    [
        (7, "INVALID_CHOICE"),  # 7 deletes (4 and 8 are changes: tests/api/test_charges.py)
        (5, "INVALID_CHOICE"),
        (6, "INVALID_CHOICE"),
        (0, "INVALID_CHOICE"),
        (9, "INVALID_CHOICE"),
        ("all", "INVALID_CHOICE"),
        (True, "INVALID_CHOICE"),
        (2.5, "INVALID_CHOICE"),
        (None, "REQUIRED"),
        ("", "REQUIRED"),
    ],
)
def test_patch_refused_scopes_change_nothing(api, series, value, code):
    series_row, events = series
    before = rows(series_row)
    response = api.manager.patch(url(events[3].pk), {"title": "No", "whichEventsToUpdate": value}, format="json")
    assert_error(response, 400, code, "whichEventsToUpdate")
    assert rows(series_row) == before


def test_patch_conflict_changes_nothing_and_names_the_occurrence(api, setup, series):
    series_row, events = series
    day = events[6].start.astimezone(LONDON).date()
    [blocker] = events_save(
        organization=setup.org,
        specs=[EventSpec(title="Board", start=local(day, 11), end=local(day, 12), resource_ids=[setup.room.pk])],
    )
    before = rows(series_row)
    etag = api.manager.get(url(events[3].pk))["ETag"]
    response = api.manager.patch(
        url(events[3].pk), {**half_past_ten(events[3]), "whichEventsToUpdate": 2}, format="json", HTTP_IF_MATCH=etag
    )
    body = assert_error(response, 409, "BOOKING_CONFLICT", "resourceIds")
    [error] = body["errors"]
    assert error["eventId"] == str(events[6].pk) and error["conflictingEventIds"] == [str(blocker.pk)]
    assert error["resourceId"] == str(setup.room.pk)
    assert rows(series_row) == before
    assert api.manager.get(url(events[3].pk))["ETag"] == etag


def test_patch_rule_errors_name_the_occurrences(api, setup, series):
    series_row, events = series
    setup.room.max_duration_minutes = 90
    setup.room.save()
    before = rows(series_row)
    response = api.manager.patch(
        url(events[3].pk), {"end": z(events[3].end + HOUR), "whichEventsToUpdate": 2}, format="json"
    )
    body = assert_error(response, 400, "TOO_LONG")
    assert sorted(e["eventId"] for e in body["errors"]) == sorted(str(e.pk) for e in events[3:])
    assert rows(series_row) == before
    response = api.manager.patch(
        url(events[3].pk),
        {"end": z(events[3].end + HOUR), "whichEventsToUpdate": 2, "overrideRules": True},
        format="json",
    )
    assert response.status_code == 200


def test_no_occurrence_joins_a_series(api, setup, series):
    series_row, events = series
    start = local(events[0].start.astimezone(LONDON).date() - timedelta(days=1), 9)
    body = {
        "orgId": str(setup.org.pk),
        "title": "Extra",
        "start": z(start),
        "end": z(start + HOUR),
        "resourceIds": [str(setup.room.pk)],
        "seriesId": str(series_row.pk),
    }
    assert_error(api.manager.post(URL, body, format="json"), 400, "IMMUTABLE_FIELD", "seriesId")
    assert_error(
        api.manager.patch(url(events[0].pk), {"seriesId": None}, format="json"), 400, "IMMUTABLE_FIELD", "seriesId"
    )
    assert Event.objects.filter(series=series_row).count() == 10
    # A new event has no series to choose (whichEventsToUpdate is a field of PATCH only).
    assert_error(
        api.manager.post(URL, {**body, "seriesId": None, "whichEventsToUpdate": 1}, format="json"),
        400,
        "UNKNOWN_FIELD",
        "whichEventsToUpdate",
    )
    # The seriesId an event has, sent back as read (null for a new one), changes nothing.
    echoed = api.manager.patch(
        url(events[0].pk), {"seriesId": str(series_row.pk), "title": "Same series"}, format="json"
    )
    assert echoed.status_code == 200 and echoed.json()["seriesId"] == str(series_row.pk)
    response = api.manager.post(URL, {**body, "seriesId": None}, format="json")
    assert response.status_code == 201 and response.json()["seriesId"] is None


def test_list_by_series(api, setup, series, other):
    series_row, events = series
    listed = api.viewer.get(URL, {"seriesId": str(series_row.pk)}).json()
    assert [e["id"] for e in listed] == [str(e.pk) for e in events]
    assert other[Role.OWNER].get(URL, {"seriesId": str(series_row.pk)}).json() == []
    assert_error(api.viewer.get(URL, {"seriesId": "weekly"}), 400, "INVALID", "seriesId")


# --- DELETE --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, body, gone",
    [
        (None, None, [3]),
        ("1", None, [3]),
        ("5", None, range(10)),
        ("6", None, range(3, 10)),
        ("3", None, range(10)),
        ("2", None, range(3, 10)),
        (None, {"whichEventsToUpdate": 5}, range(10)),
        (None, {"whichEventsToUpdate": 6}, range(3, 10)),
        (None, {"whichEventsToUpdate": 1}, [3]),
        ("6", {"whichEventsToUpdate": 6}, range(3, 10)),
        (None, {}, [3]),
    ],
)
def test_delete_removes_exactly_the_chosen_occurrences(api, series, query, body, gone):
    series_row, events = series
    before = rows(series_row)
    target = url(events[3].pk) + (f"?whichEventsToUpdate={query}" if query else "")
    response = api.manager.delete(target, body, format="json") if body is not None else api.manager.delete(target)
    assert response.status_code == 204, response.content
    assert rows(series_row) == [row for i, row in enumerate(before) if i not in gone]


@pytest.mark.parametrize(
    "query, body, code",
    [
        ("4", None, "INVALID_CHOICE"),
        ("8", None, "INVALID_CHOICE"),  # changes, not deletions
        ("9", None, "INVALID_CHOICE"),
        ("all", None, "INVALID_CHOICE"),
        ("", None, "REQUIRED"),
        (None, {"whichEventsToUpdate": 4}, "INVALID_CHOICE"),
        (None, {"whichEventsToUpdate": "x"}, "INVALID_CHOICE"),
        ("5", {"whichEventsToUpdate": 6}, "INVALID"),
    ],
)
def test_delete_refused_scopes_delete_nothing(api, series, query, body, code):
    series_row, events = series
    target = url(events[3].pk) + (f"?whichEventsToUpdate={query}" if query is not None else "")
    response = api.manager.delete(target, body, format="json") if body is not None else api.manager.delete(target)
    assert_error(response, 400, code, "whichEventsToUpdate")
    assert Event.objects.filter(series=series_row).count() == 10


def test_delete_body_must_be_an_object(api, series):
    series_row, events = series
    assert_error(api.manager.delete(url(events[3].pk), [5], format="json"), 400, "INVALID")
    assert Event.objects.filter(series=series_row).count() == 10


# --- roles and tenants ---------------------------------------------------------------------------------


def test_viewer_and_other_organization_change_nothing(api, series, other):
    series_row, events = series
    before = rows(series_row)
    body = {**half_past_ten(events[3]), "whichEventsToUpdate": 3}
    assert_error(api.viewer.patch(url(events[3].pk), body, format="json"), 403, "PERMISSION_DENIED")
    assert_error(api.viewer.delete(url(events[3].pk) + "?whichEventsToUpdate=5"), 403, "PERMISSION_DENIED")
    assert_error(other[Role.OWNER].patch(url(events[3].pk), body, format="json"), 404, "NOT_FOUND")
    assert_error(other[Role.OWNER].delete(url(events[3].pk) + "?whichEventsToUpdate=5"), 404, "NOT_FOUND")
    assert rows(series_row) == before


def test_stale_etag_changes_nothing(api, series):
    series_row, events = series
    response = api.manager.delete(url(events[3].pk) + "?whichEventsToUpdate=5", HTTP_IF_MATCH='"stale"')
    assert_error(response, 412, "PRECONDITION_FAILED")
    assert Event.objects.filter(series=series_row).count() == 10


# --- bookings follow -----------------------------------------------------------------------------------


def test_patch_of_booked_occurrences_moves_the_booking_too(api, setup):
    booking, series_row, events = make_booked_series(setup)
    response = api.manager.patch(
        url(events[3].pk), {**half_past_ten(events[3]), "whichEventsToUpdate": 2}, format="json"
    )
    assert response.status_code == 200 and response.json()["bookingId"] == str(booking.pk)
    times = list(BookingEvent.objects.filter(booking=booking).order_by("start").values_list("start", flat=True))
    assert [wall(t) for t in times] == ["09:00"] * 3 + ["10:30"] * 7
    log = BookingLog.objects.filter(booking=booking).order_by("created_at").last()
    assert (log.action, log.actor_kind, log.actor_user) == ("events_changed", "token", setup.manager)
    booking_data = api.manager.get(f"/api/v1/bookings/{booking.pk}").json()["booking"]
    assert [e["startLocal"][11:16] for e in booking_data["events"]][3:] == ["10:30"] * 7


def test_delete_of_booked_occurrences_unlinks_them(api, setup):
    booking, series_row, events = make_booked_series(setup)
    assert api.manager.delete(url(events[3].pk) + "?whichEventsToUpdate=6").status_code == 204
    links = list(BookingEvent.objects.filter(booking=booking).order_by("start").values_list("event_id", flat=True))
    assert links == [e.pk for e in events[:3]] + [None] * 7
    assert BookingLog.objects.filter(booking=booking, action="events_deleted").count() == 1


def test_a_change_request_with_a_scope_over_the_api(api, setup):
    booking, series_row, events = make_booked_series(setup)
    fourth = booking.requested_times.order_by("start")[3]
    start = local(fourth.start.astimezone(LONDON).date(), 10, 30)
    response = api.manager.post(
        "/api/v1/bookings/change-requests/submit",
        {
            "bookingId": str(booking.pk),
            "events": [
                {"bookingEventId": str(fourth.pk), "start": z(start), "end": z(start + HOUR), "whichEventsToUpdate": 3}
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    change_request = response.json()["changeRequest"]
    assert change_request["events"] == [
        {"bookingEventId": str(fourth.pk), "start": z(start), "end": z(start + HOUR), "whichEventsToUpdate": 3}
    ]
    before = rows(series_row)
    response = api.manager.post(f"/api/v1/booking-change-requests/{change_request['id']}/approve", {}, format="json")
    assert response.status_code == 200, response.json()
    assert rows(series_row) == moved(before, range(10))
    assert not BookingChangeRequest.open.filter(booking=booking).exists()


def test_the_schema_documents_the_scopes(api):
    schema = api.viewer.get("/api/schema/?format=json").json()
    delete = schema["paths"]["/api/v1/events/{id}"]["delete"]
    [param] = [p for p in delete["parameters"] if p["name"] == "whichEventsToUpdate"]
    assert param["in"] == "query" and param["schema"]["enum"] == [1, 2, 3, 5, 6, 7]
    assert delete["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/EventDeleteRequest")
    patch_ref = schema["paths"]["/api/v1/events/{id}"]["patch"]["requestBody"]["content"]["application/json"]
    name = patch_ref["schema"]["$ref"].rsplit("/", 1)[1]
    assert "whichEventsToUpdate" in schema["components"]["schemas"][name]["properties"]
