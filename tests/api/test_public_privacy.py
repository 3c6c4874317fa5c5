"""What the public API tells a booker: `repeat` only where the module allows it (`allowRepeatRequests`,
else 400 NOT_ALLOWED; staff create unaffected), and never another booking's title or event ids — a
conflict on the public submit or validate reads "<Resource> is already booked at that time.", while staff
keep the detail."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bookings.models import Booking
from events.services.single import event_create
from tests.api.conftest import assert_error
from tests.api.test_repeat_api import FIRST, SUBMIT, VALIDATE, body, post, weekly_event, world
from tests.conftest import future

BOOKINGS = "/api/v1/bookings"
SECRET = "Secret board meeting"


def allow_repeats(setup, allowed: bool = True) -> None:
    setup.module.allow_repeat_requests = allowed
    setup.module.save(update_fields=["allow_repeat_requests"])


def taken(setup, day: int = FIRST, hour: int = 10, minute: int = 0, resource=None):
    start = future(day, hour, minute)
    return event_create(
        organization=setup.org,
        title=SECRET,
        start=start,
        end=start + timedelta(hours=1),
        resource_ids=[(resource or setup.room).pk],
    )


# === allowRepeatRequests ==============================================================================


def test_the_setting_is_off_by_default_and_in_the_module_config(api, setup):
    module = api.manager.get(f"/api/v1/booking-modules/{setup.module.pk}").json()
    assert module["config"]["allowRepeatRequests"] is False
    response = api.admin.patch(
        f"/api/v1/booking-modules/{setup.module.pk}", {"config": {"allowRepeatRequests": True}}, format="json"
    )
    assert response.status_code == 200 and response.json()["config"]["allowRepeatRequests"] is True
    setup.module.refresh_from_db()
    assert setup.module.allow_repeat_requests is True
    public = api.public.get(f"/api/v1/public/booking-modules/{setup.module.pk}").json()
    assert public["config"]["allowRepeatRequests"] is True


def test_a_public_submit_with_repeat_is_not_allowed_when_off(api, setup):
    before = world()
    assert_error(post(api.public, SUBMIT, body(setup, weekly_event(setup, 4))), 400, "NOT_ALLOWED", "event.repeat")
    single = setup.event(future(FIRST, 14))
    response = post(api.public, SUBMIT, body(setup, single, weekly_event(setup, 4)))
    errors = assert_error(response, 400, "NOT_ALLOWED", "events[1].repeat")["errors"]
    assert [e["field"] for e in errors] == ["events[1].repeat"]
    assert world() == before


def test_a_public_validate_with_repeat_is_not_allowed_when_off(api, setup):
    assert_error(post(api.public, VALIDATE, body(setup, weekly_event(setup, 4))), 400, "NOT_ALLOWED", "event.repeat")


def test_staff_create_with_repeat_is_unaffected(api, setup):
    staff_check = post(api.manager, VALIDATE, body(setup, weekly_event(setup, 4), submission=False))
    assert staff_check.status_code == 200 and staff_check.json()["valid"] is True
    response = post(api.manager, BOOKINGS, body(setup, weekly_event(setup, 4), submission=False, bookingStatus=0))
    assert response.status_code == 201, response.json()
    assert len(response.json()["booking"]["events"]) == 4


def test_when_on_the_public_may_repeat(api, setup):
    allow_repeats(setup)
    response = post(api.public, SUBMIT, body(setup, weekly_event(setup, 4)))
    assert response.status_code == 201 and len(response.json()["booking"]["events"]) == 4


# === no titles, no event ids for the public ===========================================================


def test_a_public_submit_conflict_names_only_the_resource(api, setup):
    taken(setup)
    response = post(api.public, SUBMIT, body(setup, setup.event(future(FIRST, 10))))
    (error,) = assert_error(response, 409, "BOOKING_CONFLICT", "event.resourceIds")["errors"]
    assert error == {
        "field": "event.resourceIds",
        "code": "BOOKING_CONFLICT",
        "message": "Room is already booked at that time.",
        "resourceId": str(setup.room.pk),
    }
    assert SECRET not in response.content.decode()
    assert Booking.objects.count() == 0


def test_a_public_series_conflict_keeps_the_date_and_drops_the_rest(api, setup):
    allow_repeats(setup)
    taken(setup, FIRST + 42, 10, 30)
    response = post(api.public, SUBMIT, body(setup, weekly_event(setup, 10)))
    (error,) = assert_error(response, 409, "BOOKING_CONFLICT", "event.occurrences[6]")["errors"]
    seventh = future(FIRST + 42, 10)
    assert error["message"] == f"{seventh:%a %d %b %Y} 10:00: Room is already booked at that time."
    assert "conflictingEventIds" not in error and error["date"] == seventh.date().isoformat()
    assert SECRET not in response.content.decode()


def test_a_public_capacity_conflict_has_no_event_ids(api, setup):
    for _ in range(3):
        event_create(
            organization=setup.org,
            title=SECRET,
            start=future(FIRST, 10),
            end=future(FIRST, 11),
            resource_ids=[setup.desks.pk],
        )
    response = post(api.public, SUBMIT, body(setup, setup.event(future(FIRST, 10), resources=[setup.desks])))
    (error,) = assert_error(response, 409, "CAPACITY_EXCEEDED", "event.resourceIds")["errors"]
    assert error["message"] == "Desks is fully booked at that time." and "conflictingEventIds" not in error


@pytest.mark.parametrize("repeat", [False, True])
def test_a_public_validate_hides_titles_and_ids_in_errors_and_suggestions(api, setup, repeat):
    allow_repeats(setup)
    if repeat:
        taken(setup, FIRST + 42, 10, 30)
        event = weekly_event(setup, 10)
    else:
        taken(setup)
        event = setup.event(future(FIRST, 10))
    response = post(api.public, VALIDATE, body(setup, event))
    assert response.status_code == 200
    out = response.json()
    assert out["valid"] is False
    raw = json.dumps(out)
    assert SECRET not in raw and "conflictingEventIds" not in raw
    conflict = next(e for e in out["errors"] if e["code"] == "BOOKING_CONFLICT")
    assert conflict["message"].endswith("Room is already booked at that time.")
    (suggestion,) = out["suggestions"]
    assert set(suggestion) == {"field", "start", "end", "resourceIds", "slots"}
    assert len(suggestion["slots"]) == 3
    assert all(set(slot) == {"start", "end", "startLocal", "endLocal", "timezone"} for slot in suggestion["slots"])


def test_a_validate_with_rules_and_a_conflict_keeps_both_reasons_for_the_public(api, setup):
    allow_repeats(setup)
    taken(setup, FIRST + 42, 10, 30)
    setup.room.min_duration_minutes = 90
    setup.room.save()
    out = post(api.public, VALIDATE, body(setup, weekly_event(setup, 10))).json()
    seventh = next(e for e in out["errors"] if e["field"] == "event.occurrences[6]")
    assert set(seventh["codes"]) == {"TOO_SHORT", "BOOKING_CONFLICT"}
    assert "last at least 90 minutes" in seventh["message"]
    assert seventh["message"].endswith("Room is already booked at that time.")
    assert SECRET not in json.dumps(out)


def test_staff_keep_the_detail(api, setup):
    board = taken(setup)
    data = body(setup, setup.event(future(FIRST, 10)), submission=False)
    out = post(api.manager, VALIDATE, data).json()
    conflict = next(e for e in out["errors"] if e["code"] == "BOOKING_CONFLICT")
    assert conflict["conflictingEventIds"] == [str(board.pk)] and SECRET in conflict["message"]
    response = post(api.manager, BOOKINGS, {**data, "bookingStatus": 1})
    (error,) = assert_error(response, 409, "BOOKING_CONFLICT")["errors"]
    assert error["conflictingEventIds"] == [str(board.pk)] and SECRET in error["message"]


def test_a_bookers_change_into_a_taken_slot_names_only_the_resource(api, setup):
    result = setup.submit(setup.event(future(FIRST, 14)))
    taken(setup)
    moved = {"start": future(FIRST, 10).isoformat(), "end": future(FIRST, 11).isoformat()}

    response = post(
        api.public,
        f"{BOOKINGS}/change-requests/submit",
        {"bookingId": str(result.booking.pk), "accessToken": result.access_token, "event": moved},
    )

    (error,) = assert_error(response, 409, "BOOKING_CONFLICT", "event.resourceIds")["errors"]
    assert error["message"] == "Room is already booked at that time." and "conflictingEventIds" not in error
    assert SECRET not in response.content.decode()
