"""Repeat rules over HTTP: `repeat` on the public submit and on staff create, skipConflicts (staff create and
approve, not the public), create-only, and `POST /api/v1/bookings/validate` (valid, invalid with
suggestions, nothing created, who may call it, throttled like the submit, queries independent of the
number of occurrences)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import Booking, BookingEvent, BookingLog, PortalStatus
from core.throttles import PublicSubmitThrottle
from core.time import iso
from events.models import Event, EventSeries, Reservation
from events.services.single import event_create
from notifications.models import Notification
from resources.models import Role
from tests.api.conftest import Api, assert_error
from tests.conftest import LONDON, Setup, future
from tests.factories import BookableHoursFactory


@pytest.fixture
def setup(setup):
    """The module takes repeat requests from the public (its `allow_repeat_requests`; off by default)."""
    setup.module.allow_repeat_requests = True
    setup.module.save(update_fields=["allow_repeat_requests"])
    return setup


SUBMIT = "/api/v1/bookings/submit"
VALIDATE = "/api/v1/bookings/validate"
BOOKINGS = "/api/v1/bookings"
CR_SUBMIT = "/api/v1/bookings/change-requests/submit"
FIRST = 7  # the series start a week from today, 10:00 London time


def wire_rule(repeats: int = 2, until=None, every: int = 1, **days) -> dict:
    flags = {
        f"repeatOn{d}": days.get(d, False)
        for d in ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
    }
    return {"repeats": repeats, "repeatEvery": every, "repeatUntil": until.isoformat(), **flags}


def weekly_event(setup: Setup, count: int = 10, hour: int = 10, **extra) -> dict:
    start = future(FIRST, hour)
    until = (start + timedelta(weeks=count - 1)).date()
    return setup.event(start, start + timedelta(hours=1), repeat=wire_rule(2, until), **extra)


def body(setup: Setup, *events, submission: bool = True, contact=True, **extra) -> dict:
    data = {
        "submission": submission,
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        **extra,
    }
    if contact:
        data["contact"] = {"name": "Ada Lovelace", "email": "ada@example.com"}
    if len(events) == 1:
        data["event"] = events[0]
    else:
        data["events"] = list(events)
    return data


def post(client, url: str, data: dict, **extra):
    return client.post(url, data, format="json", **extra)


def block(setup: Setup, week: int = 6, resource=None) -> Event:
    """Someone else's event from 10:30 to 11:30 on the series' 7th date (week 6)."""
    start = future(FIRST + 7 * week, 10, 30)
    return event_create(
        organization=setup.org,
        title="Board meeting",
        start=start,
        end=start + timedelta(hours=1),
        resource_ids=[(resource or setup.room).pk],
    )


def world() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Booking, BookingEvent, BookingLog, Event, EventSeries, Reservation, Notification)
    }


# === submit and create ================================================================================


def test_the_public_submits_a_repeated_request(api, setup):
    response = post(api.public, SUBMIT, body(setup, weekly_event(setup, 4)))
    assert response.status_code == 201, response.json()
    booking = response.json()["booking"]
    until = (future(FIRST) + timedelta(weeks=3)).date()
    assert booking["repeat"] == wire_rule(2, until)
    assert [(e["occurrence"], e["startLocal"][11:16], e["repeat"]) for e in booking["events"]] == [
        (k, "10:00", wire_rule(2, until)) for k in range(4)
    ]
    assert [e["start"] for e in booking["events"]] == [iso(future(FIRST + 7 * k, 10)) for k in range(4)]
    series = EventSeries.objects.get()  # the module holds pending slots: four holds in one series
    assert series.events.count() == 4
    assert {e["eventId"] for e in booking["events"]} == {str(pk) for pk in series.events.values_list("pk", flat=True)}


def test_a_public_series_with_a_taken_date_is_409_with_one_error_for_that_date(api, setup):
    block(setup)
    before = world()
    response = post(api.public, SUBMIT, body(setup, weekly_event(setup)))
    errors = assert_error(response, 409, "BOOKING_CONFLICT", "event.occurrences[6]")["errors"]
    assert len(errors) == 1
    seventh = future(FIRST + 42, 10)
    assert errors[0]["date"] == seventh.date().isoformat() and errors[0]["occurrence"] == 6
    assert errors[0]["start"] == iso(seventh) and "conflictingEventIds" not in errors[0]  # public: no ids
    assert errors[0]["message"] == f"{seventh:%a %d %b %Y} 10:00: Room is already booked at that time."
    assert world() == before


def test_the_public_cannot_skip_conflicts(api, setup):
    response = post(api.public, SUBMIT, body(setup, weekly_event(setup), skipConflicts=True))
    assert_error(response, 400, "NOT_ALLOWED", "skipConflicts")
    assert Booking.objects.count() == 0


def test_a_staff_create_with_a_repeat_without_repeats_books_every_week(api, setup):
    start = future(FIRST, 10)
    until = (start + timedelta(weeks=2)).date()
    event = setup.event(start, start + timedelta(hours=1), repeat={"repeatUntil": until.isoformat()})
    response = post(api.manager, BOOKINGS, body(setup, event, submission=False, bookingStatus=1))
    assert response.status_code == 201, response.json()
    booking = response.json()["booking"]
    assert booking["repeat"] == wire_rule(2, until)
    assert [e["start"] for e in booking["events"]] == [iso(future(FIRST + 7 * k, 10)) for k in range(3)]


@pytest.mark.parametrize(
    ("repeat", "field", "code"),
    [
        ({"repeats": 2, "repeatEvery": 0, "repeatUntil": "2099-01-01"}, "event.repeat.repeatEvery", "MIN_VALUE"),
        ({"repeats": 12, "repeatUntil": "2099-01-01"}, "event.repeat.repeats", "INVALID_CHOICE"),
        ({"repeats": 2}, "event.repeat.repeatUntil", "REQUIRED"),
        ({"repeats": 2, "repeatUntil": "soon"}, "event.repeat.repeatUntil", "INVALID"),
        ([2], "event.repeat", "INVALID"),
    ],
)
def test_a_rule_of_the_wrong_shape_is_400_on_its_path(api, setup, repeat, field, code):
    event = setup.event(future(FIRST, 10), repeat=repeat)
    assert_error(post(api.public, SUBMIT, body(setup, event)), 400, code, field)


def test_an_events_list_names_the_event_and_the_occurrence(api, setup):
    block(setup)
    single = setup.event(future(FIRST, 15), title="Kick-off")
    response = post(api.public, SUBMIT, body(setup, single, weekly_event(setup)))
    assert_error(response, 409, "BOOKING_CONFLICT", "events[1].occurrences[6]")
    response = post(api.public, SUBMIT, body(setup, single, {**weekly_event(setup), "repeat": {"repeats": 2}}))
    assert_error(response, 400, "REQUIRED", "events[1].repeat.repeatUntil")


def test_staff_create_with_skip_conflicts_books_the_rest_and_reports_the_skipped_date(api, setup):
    block(setup)
    data = body(setup, weekly_event(setup), submission=False, bookingStatus=1, skipConflicts=True)
    response = post(api.manager, BOOKINGS, data)
    assert response.status_code == 201, response.json()
    result = response.json()
    assert set(result) == {"booking", "event", "events", "skipped"}
    assert len(result["events"]) == 9 and len(result["booking"]["events"]) == 9
    assert len({e["seriesId"] for e in result["events"]}) == 1 and result["events"][0]["seriesId"]
    [skipped] = result["skipped"]
    seventh = future(FIRST + 42, 10)
    assert skipped["field"] == "event.occurrences[6]" and skipped["code"] == "BOOKING_CONFLICT"
    assert (skipped["start"], skipped["end"]) == (iso(seventh), iso(seventh + timedelta(hours=1)))
    assert skipped["date"] == seventh.date().isoformat() and skipped["message"]
    note = BookingLog.objects.get(booking_id=result["booking"]["id"]).note
    assert note == f"Skipped 1 occurrence: {seventh:%a %d %b %Y} 10:00 BOOKING_CONFLICT"


def test_staff_create_without_skip_conflicts_is_refused_whole(api, setup):
    block(setup)
    response = post(api.manager, BOOKINGS, body(setup, weekly_event(setup), submission=False, bookingStatus=1))
    assert len(assert_error(response, 409, "BOOKING_CONFLICT", "event.occurrences[6]")["errors"]) == 1
    assert Booking.objects.count() == 0


def test_approve_with_skip_conflicts_makes_a_series_of_nine(db):
    setup = Setup(hold=False)
    setup.module.allow_repeat_requests = True
    setup.module.save(update_fields=["allow_repeat_requests"])
    api = Api(setup)
    booking = post(api.public, SUBMIT, body(setup, weekly_event(setup))).json()["booking"]
    block(setup)
    url = f"{BOOKINGS}/{booking['id']}/approve"
    refused = post(api.manager, url, {"clientBookingLastUpdatedAt": booking["lastUpdatedAt"]})
    assert len(assert_error(refused, 409, "BOOKING_CONFLICT", "events[6]")["errors"]) == 1
    response = post(api.manager, url, {"clientBookingLastUpdatedAt": booking["lastUpdatedAt"], "skipConflicts": True})
    assert response.status_code == 200, response.json()
    result = response.json()
    assert len(result["events"]) == 9 and len({e["seriesId"] for e in result["events"]}) == 1
    assert [(s["field"], s["occurrence"]) for s in result["skipped"]] == [("events[6]", 6)]
    assert EventSeries.objects.get().events.count() == 9
    assert result["booking"]["status"] == 1 and len(result["booking"]["events"]) == 9


def test_repeat_is_create_only(api, setup):
    result = post(api.public, SUBMIT, body(setup, weekly_event(setup, 2))).json()
    booking = result["booking"]
    response = api.manager.patch(
        f"{BOOKINGS}/{booking['id']}", {"repeat": wire_rule(1, future(30).date())}, format="json"
    )
    assert_error(response, 400, "IMMUTABLE_FIELD", "repeat")
    change = {
        "bookingId": booking["id"],
        "accessToken": result["accessToken"],
        "event": {"bookingEventId": booking["events"][0]["id"], "repeat": wire_rule(1, future(30).date())},
    }
    assert_error(post(api.public, CR_SUBMIT, change), 400, "IMMUTABLE_FIELD", "event.repeat")
    assert BookingEvent.objects.count() == 2


# === POST /bookings/validate ==========================================================================


def test_validate_a_free_series(api, setup):
    before = world()
    response = post(api.public, VALIDATE, body(setup, weekly_event(setup, 4)))
    assert response.status_code == 200, response.json()
    result = response.json()
    assert set(result) == {"valid", "errors", "skipped", "times", "suggestions", "price"}
    assert (result["valid"], result["errors"], result["skipped"], result["suggestions"]) == (True, [], [], [])
    assert [(t["field"], t["occurrence"], t["valid"], t["start"]) for t in result["times"]] == [
        (f"event.occurrences[{k}]", k, True, iso(future(FIRST + 7 * k, 10))) for k in range(4)
    ]
    assert set(result["times"][0]) == {
        "field",
        "start",
        "end",
        "resourceIds",
        "occurrence",
        "valid",
        "startLocal",
        "endLocal",
        "timezone",
    }
    assert world() == before and mail.outbox == []


def test_validate_a_series_with_a_taken_date_reports_it_and_suggests_free_times(api, setup):
    block(setup)
    before = world()
    response = post(api.public, VALIDATE, body(setup, weekly_event(setup)))
    assert response.status_code == 200, response.json()
    result = response.json()
    assert result["valid"] is False
    [error] = result["errors"]
    seventh = future(FIRST + 42, 10)
    assert (error["field"], error["code"], error["date"]) == (
        "event.occurrences[6]",
        "BOOKING_CONFLICT",
        seventh.date().isoformat(),
    )
    assert [t["valid"] for t in result["times"]] == [True] * 6 + [False] + [True] * 3
    [suggestion] = result["suggestions"]
    assert suggestion["field"] == "event.occurrences[6]" and suggestion["start"] == iso(seventh)
    # Taken 10:30-11:30: nearest first, forward first at equal distance, 30-minute steps.
    day = seventh.date().isoformat()
    assert [s["startLocal"] for s in suggestion["slots"]] == [f"{day}T09:30:00", f"{day}T09:00:00", f"{day}T11:30:00"]
    assert all(s["timezone"] == "Europe/London" for s in suggestion["slots"])
    assert suggestion["slots"][0]["end"] == iso(seventh - timedelta(minutes=30) + timedelta(hours=1))
    assert world() == before and mail.outbox == []


def test_validate_suggests_within_bookable_hours(api, setup):
    for weekday in range(7):
        BookableHoursFactory(resource=setup.room, weekday=weekday, start_time="09:00", end_time="17:00")
    start = future(FIRST, 17)
    response = post(api.public, VALIDATE, body(setup, setup.event(start, start + timedelta(hours=1))))
    result = response.json()
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("event.start", "OUTSIDE_BOOKABLE_HOURS")]
    [suggestion] = result["suggestions"]
    assert suggestion["field"] == "event"
    assert [s["startLocal"][11:16] for s in suggestion["slots"]] == ["16:00", "15:30", "15:00"]


def test_validate_does_not_suggest_what_another_time_cannot_cure(api, setup):
    setup.room.min_duration_minutes = 120
    setup.room.save()
    result = post(api.public, VALIDATE, body(setup, weekly_event(setup, 2))).json()
    assert {e["code"] for e in result["errors"]} == {"TOO_SHORT"} and result["suggestions"] == []


def test_validate_suggestions_avoid_the_requests_other_times(api, setup):
    block(setup, week=0)  # 10:30-11:30 on the first date
    start = future(FIRST, 10)
    other = setup.event(start - timedelta(hours=1), start - timedelta(minutes=30), title="Set-up")  # 09:00-09:30
    result = post(api.public, VALIDATE, body(setup, setup.event(start, start + timedelta(hours=1)), other)).json()
    [suggestion] = result["suggestions"]
    day = start.date().isoformat()
    # 09:30-10:30 touches neither; 09:00 and 08:30 would collide with Set-up (09:00-09:30), not with the table.
    assert [s["startLocal"] for s in suggestion["slots"]] == [f"{day}T09:30:00", f"{day}T11:30:00", f"{day}T12:00:00"]


def test_validate_checks_the_contact_only_when_given(api, setup):
    result = post(api.public, VALIDATE, body(setup, weekly_event(setup, 2), contact=False)).json()
    assert result["valid"] is True
    data = body(setup, weekly_event(setup, 2))
    data["contact"] = {"name": "Ada", "email": "not-an-email"}
    result = post(api.public, VALIDATE, data).json()
    assert result["valid"] is False
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("contact.email", "INVALID")]


def test_validate_reports_rule_and_conflict_failures_together(api, setup):
    block(setup)
    setup.room.max_advance_days = FIRST + 7 * 8 + 1  # the 10th date (week 9) is too far ahead
    setup.room.save()
    result = post(api.public, VALIDATE, body(setup, weekly_event(setup))).json()
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("event.occurrences[6]", "BOOKING_CONFLICT"),
        ("event.occurrences[9]", "START_TIME_TOO_EARLY"),
    ]
    assert [s["field"] for s in result["suggestions"]] == ["event.occurrences[6]", "event.occurrences[9]"]
    # The 10th can only move back within the limit: 14 days back is still too far for most candidates.
    assert all(s["start"] < iso(future(FIRST + 7 * 9, 10)) for s in result["suggestions"][1]["slots"])


def test_staff_validate_with_skip_conflicts_and_override_rules(api, setup):
    block(setup)
    data = body(setup, weekly_event(setup), submission=False, skipConflicts=True)
    result = post(api.manager, VALIDATE, data).json()
    assert result["valid"] is True and result["errors"] == []
    assert [s["field"] for s in result["skipped"]] == ["event.occurrences[6]"]
    setup.room.min_duration_minutes = 120
    setup.room.save()
    result = post(
        api.manager, VALIDATE, body(setup, weekly_event(setup, 2), submission=False, overrideRules=True)
    ).json()
    assert result["valid"] is True


def test_validate_who_may_call_it(api, setup, other):
    data = body(setup, weekly_event(setup, 2))
    assert_error(post(api.public, VALIDATE, {**data, "skipConflicts": True}), 400, "NOT_ALLOWED", "skipConflicts")
    assert_error(post(api.public, VALIDATE, {**data, "submission": False}), 401)
    assert_error(post(api.viewer, VALIDATE, {**data, "submission": False}), 403)
    assert_error(post(other[Role.OWNER], VALIDATE, {**data, "submission": False}), 404, "NOT_FOUND")
    assert post(api.manager, VALIDATE, {**data, "submission": False}).status_code == 200
    assert_error(
        post(api.public, VALIDATE, {k: v for k, v in data.items() if k != "portalId"}), 400, "REQUIRED", "portalId"
    )
    assert_error(post(api.public, VALIDATE, {**data, "bookingModuleId": str(other.setup.module.pk)}), 404)
    setup.portal.status = PortalStatus.DRAFT
    setup.portal.save()
    assert_error(post(api.public, VALIDATE, data), 404, "NOT_FOUND")
    assert_error(post(api.public, VALIDATE, {"orgId": "nope"}), 400, "INVALID", "orgId")


def test_validate_shares_the_public_submit_throttle(api, setup, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "2/minute", raising=False)
    data = body(setup, weekly_event(setup, 2))
    assert post(api.public, VALIDATE, data).status_code == 200
    assert post(api.public, VALIDATE, data).status_code == 200
    assert_error(post(api.public, VALIDATE, data), 429, "THROTTLED")
    assert_error(post(api.public, SUBMIT, data), 429, "THROTTLED")


def overlap_reads(queries) -> int:
    return sum(
        1
        for q in queries
        if q["sql"].lstrip().upper().startswith("SELECT")
        and 'FROM "events_reservation"' in q["sql"]
        and '"events_reservation"."active"' in q["sql"]
    )


def test_validate_takes_the_same_queries_for_10_or_100_occurrences(api, setup):
    block(setup, week=0, resource=setup.room)  # a failing date in both, so both search for suggestions
    post(api.public, VALIDATE, body(setup, setup.event(future(FIRST, 10))))  # the configuration cache is warm
    counts = {}
    for count in (10, 100):
        start = future(FIRST, 10)
        event = setup.event(
            start, start + timedelta(hours=1), repeat=wire_rule(1, (start + timedelta(days=count - 1)).date())
        )
        with CaptureQueriesContext(connection) as ctx:
            response = post(api.public, VALIDATE, body(setup, event))
        assert len(response.json()["times"]) == count and len(response.json()["suggestions"]) == 1
        counts[count] = (overlap_reads(ctx.captured_queries), len(ctx.captured_queries))
    assert counts[10] == counts[100] and counts[10][0] == 1, counts


def test_a_tenancy_guard_the_validate_endpoint_names_nothing_of_another_organization(api, other, setup):
    theirs = other.setup
    data = body(theirs, theirs.event(future(FIRST, 10), resources=[setup.room]))
    result = post(api.public, VALIDATE, data).json()
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("event.resourceIds", "RESOURCE_NOT_OFFERED")]
    assert result["times"] == [] and result["suggestions"] == []


def test_validate_times_keep_local_wall_clock(api, setup):
    result = post(api.public, VALIDATE, body(setup, weekly_event(setup, 30))).json()
    assert {t["startLocal"][11:] for t in result["times"]} == {"10:00:00"}
    assert {t["timezone"] for t in result["times"]} == {"Europe/London"}
    assert all(t["start"] == iso(future(FIRST + 7 * k, 10, tz=LONDON)) for k, t in enumerate(result["times"]))
