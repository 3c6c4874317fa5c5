"""Venues, resources (with bookable hours) and resource availability over HTTP
(docs/architecture.md#http-api-conventions).

This module: GET /resources/{id}/availability."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import EventStatus
from events.services.status import events_set_status
from resources.models import Role
from tests.api.conftest import assert_error
from tests.api.resource_helpers import NOWHERE, availability_url, book
from tests.conftest import future
from tests.factories import ClosureFactory


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
        {
            "start": z(confirmed.start),
            "end": z(confirmed.end),
            "occupiedUntil": z(confirmed.end + timedelta(minutes=15)),
            "eventId": str(confirmed.pk),
            "status": 0,
        },
        {
            "start": z(hold.start),
            "end": z(hold.end),
            "occupiedUntil": z(hold.end + timedelta(minutes=15)),
            "eventId": str(hold.pk),
            "status": 1,
        },
    ]
    assert body["closures"] == [
        {"id": str(closure.pk), "start": z(closure.start), "end": z(closure.end), "message": "Cleaning"}
    ]


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
    closure = ClosureFactory(
        organization=setup.org,
        start=christmas,
        end=christmas + timedelta(days=1),
        repeats_yearly=True,
        message="Christmas",
    )
    response = api.viewer.get(
        availability_url(setup.room.pk), {"start": "2027-12-01T00:00:00Z", "end": "2028-01-01T00:00:00Z"}
    )
    assert response.json()["closures"] == [
        {"id": str(closure.pk), "start": "2027-12-25T00:00:00Z", "end": "2027-12-26T00:00:00Z", "message": "Christmas"}
    ]
    response = api.viewer.get(
        availability_url(setup.room.pk), {"start": "2027-12-01T00:00:00Z", "end": "2028-12-01T00:00:00Z"}
    )
    assert [c["start"] for c in response.json()["closures"]] == ["2027-12-25T00:00:00Z"]
    response = api.viewer.get(
        availability_url(setup.room.pk), {"start": "2027-01-01T00:00:00Z", "end": "2027-12-01T00:00:00Z"}
    )
    assert response.json()["closures"] == []


def test_availability_reads_naive_times_in_the_venue_timezone(api, setup):
    event = book(setup, datetime(2030, 7, 1, 10, tzinfo=UTC), datetime(2030, 7, 1, 11, tzinfo=UTC))
    # 10:00 UTC is 11:00 in London (summer): a naive window 11:00-12:00 is the event's hour.
    response = api.viewer.get(availability_url(setup.room.pk), {"start": "2030-07-01T11:00", "end": "2030-07-01T12:00"})
    assert [b["eventId"] for b in response.json()["busy"]] == [str(event.pk)]
    response = api.viewer.get(availability_url(setup.room.pk), {"start": "2030-07-01T09:00", "end": "2030-07-01T11:00"})
    assert response.json()["busy"] == []


@pytest.mark.parametrize(
    "params, code, field",
    [
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
    ],
)
def test_availability_bad_window(api, setup, params, code, field):
    assert_error(api.viewer.get(availability_url(setup.room.pk), params), 400, code, field)


def test_availability_accepts_any_offset(api, setup):
    event = book(setup, datetime(2030, 7, 1, 10, tzinfo=UTC), datetime(2030, 7, 1, 11, tzinfo=UTC))
    response = api.viewer.get(
        availability_url(setup.room.pk), {"start": "2030-07-02T06:00:00+20:00", "end": "2030-07-01T11:00:00-23:00"}
    )
    assert [b["eventId"] for b in response.json()["busy"]] == [str(event.pk)]


def test_availability_window_of_366_days_is_allowed(api, setup):
    response = api.viewer.get(
        availability_url(setup.room.pk), {"start": "2030-01-01T00:00:00Z", "end": "2031-01-02T00:00:00Z"}
    )
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
