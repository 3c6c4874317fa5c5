"""Repeat rules on booking requests (bookings.validation.repeat, the validator and the lifecycle services): the nine
cycles against dates written out by hand, DST, the occurrence cap and the advance limit, one error per
failing occurrence, staff's skipConflicts, EventSeries on hold and approval, create-only, and a conflict
check whose number of queries does not grow with the number of occurrences.

This module: the rule's shape, the cap and the advance limit, conflicts, approval, create-only and the
conflict query, through the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_update
from bookings.lifecycle.submit import booking_create
from bookings.models import Booking, BookingEvent, BookingLog, BookingStatus
from bookings.selectors import booking_payload
from bookings.validation.repeat import Cycle
from bookings.validation.submission import validate_submission
from core.actor import Actor
from core.errors import BookingConflict, ImmutableField, ValidationFailed
from events.models import Event, EventSeries, EventStatus, Reservation
from events.services.single import event_create
from tests.conftest import LONDON
from tests.factories import BookableHoursFactory

from .repeat_helpers import MON, TUE, rule


@pytest.fixture
def setup(setup):
    """The module takes repeat requests from the public (its `allow_repeat_requests`; off by default)."""
    setup.module.allow_repeat_requests = True
    setup.module.save(update_fields=["allow_repeat_requests"])
    return setup


@pytest.fixture
def setup_no_hold(setup_no_hold):
    setup_no_hold.module.allow_repeat_requests = True
    setup_no_hold.module.save(update_fields=["allow_repeat_requests"])
    return setup_no_hold


# Every service call in this module runs "now": before all the dates below, so none is in the past.
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


# === the rule's shape ====================================================================================


@pytest.mark.parametrize(
    ("raw", "field", "code"),
    [
        ("weekly", "event.repeat", "INVALID"),
        ({"repeats": 10, "repeatUntil": "2027-02-01"}, "event.repeat.repeats", "INVALID_CHOICE"),
        ({"repeats": True, "repeatUntil": "2027-02-01"}, "event.repeat.repeats", "INVALID_CHOICE"),
        ({"repeats": 2, "repeatEvery": 0, "repeatUntil": "2027-02-01"}, "event.repeat.repeatEvery", "MIN_VALUE"),
        ({"repeats": 2, "repeatEvery": 100, "repeatUntil": "2027-02-01"}, "event.repeat.repeatEvery", "MAX_VALUE"),
        ({"repeats": 2, "repeatEvery": "often", "repeatUntil": "2027-02-01"}, "event.repeat.repeatEvery", "INVALID"),
        ({"repeats": 2}, "event.repeat.repeatUntil", "REQUIRED"),
        ({"repeats": 2, "repeatUntil": "1 February"}, "event.repeat.repeatUntil", "INVALID"),
        ({"repeats": 2, "repeatUntil": "2027-02-01T10:00:00"}, "event.repeat.repeatUntil", "INVALID"),
        ({"repeats": 2, "repeatUntil": "9999-02-01"}, "event.repeat.repeatUntil", "INVALID"),
        (
            {"repeats": 2, "repeatUntil": "2027-02-01", "repeatOnMondays": "maybe"},
            "event.repeat.repeatOnMondays",
            "INVALID",
        ),
        (
            {"repeats": 3, "repeatUntil": "2027-06-01", "repeatOnMondays": True},
            "event.repeat.repeatOnMondays",
            "INVALID",
        ),
        (
            {"repeats": 2, "repeatUntil": "2027-02-01", "repeatOnFundays": True},
            "event.repeat.repeatOnFundays",
            "UNKNOWN_FIELD",
        ),
        ({"repeats": 2, "repeatUntil": "2027-01-01"}, "event.repeat.repeatUntil", "INVALID"),  # before the start
    ],
)
def test_a_rule_of_the_wrong_shape_is_400_on_its_field(setup, raw, field, code):
    event = setup.event(datetime(2027, 1, 4, 9, tzinfo=LONDON), repeat=raw)
    with pytest.raises(ValidationFailed) as caught:
        validate_submission(
            module=setup.module,
            contact={"name": "Ada", "email": "ada@example.com"},
            events=[event],
            single_event=True,
            now=NOW,
        )
    assert (field, code) in [(e.field, e.code) for e in caught.value.errors], caught.value.errors


@pytest.mark.parametrize("left_out", [{}, {"repeats": None}, {"repeats": ""}], ids=["missing", "null", "empty"])
def test_a_rule_without_repeats_is_weekly(setup, left_out):
    """The reference's default cycle: a client that sends only repeatUntil gets every week."""
    event = setup.event(datetime(2027, 1, 4, 9, tzinfo=LONDON), repeat={"repeatUntil": "2027-02-01", **left_out})
    clean = validate_submission(
        module=setup.module,
        contact={"name": "Ada", "email": "ada@example.com"},
        events=[event],
        single_event=True,
        now=NOW,
    )
    assert [ce.start.astimezone(LONDON).strftime("%a %d %b %H:%M") for ce in clean.events] == [
        "Mon 04 Jan 09:00",
        "Mon 11 Jan 09:00",
        "Mon 18 Jan 09:00",
        "Mon 25 Jan 09:00",
        "Mon 01 Feb 09:00",
    ]
    assert clean.events[0].repeat.rule["repeats"] == Cycle.WEEKLY


def test_an_events_list_files_occurrences_under_each_event(setup):
    start = datetime(2027, 1, 4, 9, tzinfo=LONDON)
    clean = validate_submission(
        module=setup.module,
        contact={"name": "Ada", "email": "ada@example.com"},
        now=NOW,
        events=[
            setup.event(start, title="Kick-off"),
            setup.event(start + timedelta(days=1), title="Stand-up", repeat=rule(Cycle.DAILY, "2027-01-07")),
        ],
    )
    assert [ce.field for ce in clean.events] == [
        "events[0]",
        "events[1].occurrences[0]",
        "events[1].occurrences[1]",
        "events[1].occurrences[2]",
    ]
    assert [ce.repeat.index for ce in clean.events[1:]] == [0, 1, 2]
    assert len({ce.repeat.group for ce in clean.events[1:]}) == 1 and clean.events[0].repeat is None


# === the cap and the advance limit =======================================================================


def monday(weeks: int = 0, hour: int = 9) -> datetime:
    return datetime(2027, 1, 4, hour, tzinfo=LONDON) + timedelta(weeks=weeks)


def contact() -> dict:
    return {"name": "Ada Lovelace", "email": "ada@example.com"}


def weekly(setup, count: int = 10, **kwargs) -> dict:
    until = (monday(count - 1)).date().isoformat()
    return setup.event(monday(), repeat=rule(Cycle.WEEKLY, until), **kwargs)


def test_a_series_is_capped_by_the_modules_max_occurrences(setup):
    setup.module.max_occurrences = 5
    setup.module.save()
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(weekly(setup, 6), now=NOW)
    [error] = caught.value.errors
    assert (error.field, error.code, error.meta["maxOccurrences"]) == (
        "event.repeat.repeatUntil",
        "TOO_MANY_OCCURRENCES",
        5,
    )
    assert Booking.objects.count() == 0
    result = setup.submit(weekly(setup, 5), now=NOW)
    assert result.booking.requested_times.count() == 5


def test_the_default_cap_is_150(setup):
    assert setup.module.max_occurrences == 150
    event = setup.event(monday(), repeat=rule(Cycle.DAILY, (monday().date() + timedelta(days=150)).isoformat()))
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(event, now=NOW)
    assert caught.value.errors[0].code == "TOO_MANY_OCCURRENCES"


def test_occurrences_beyond_the_advance_limit_are_each_an_error(setup):
    setup.room.max_advance_days = 45  # from 1 December 2026: up to 15 January 2027 12:00
    setup.room.save()
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(weekly(setup, 4), now=NOW)
    errors = caught.value.errors
    assert [(e.field, e.code, e.meta["date"]) for e in errors] == [
        ("event.occurrences[2]", "START_TIME_TOO_EARLY", "2027-01-18"),
        ("event.occurrences[3]", "START_TIME_TOO_EARLY", "2027-01-25"),
    ]
    assert errors[0].message.startswith("Mon 18 Jan 2027 09:00: ")
    assert Booking.objects.count() == 0


def test_staff_skip_the_occurrences_beyond_the_advance_limit(setup):
    setup.room.max_advance_days = 45
    setup.room.save()
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=BookingStatus.APPROVED,
        contact=contact(),
        events=[weekly(setup, 4)],
        single_event=True,
        skip_conflicts=True,
        now=NOW,
    )
    assert [e.start for e in result.events] == [monday(0), monday(1)]
    assert [(e.meta["date"], e.code) for e in result.skipped] == [
        ("2027-01-18", "START_TIME_TOO_EARLY"),
        ("2027-01-25", "START_TIME_TOO_EARLY"),
    ]
    log = BookingLog.objects.get(booking=result.booking)
    assert log.note == (
        "Skipped 2 occurrences: Mon 18 Jan 2027 09:00 START_TIME_TOO_EARLY; Mon 25 Jan 2027 09:00 START_TIME_TOO_EARLY"
    )


def test_each_occurrence_is_checked_against_bookable_hours(setup):
    BookableHoursFactory(resource=setup.room, weekday=MON, start_time="08:00", end_time="18:00")
    with pytest.raises(ValidationFailed) as caught:  # weekly on Mondays and Tuesdays: Tuesdays are closed
        setup.submit(setup.event(monday(), repeat=rule(Cycle.WEEKLY, "2027-01-12", days=(MON, TUE))), now=NOW)
    assert [(e.field, e.code, e.meta["date"]) for e in caught.value.errors] == [
        ("event.occurrences[1]", "OUTSIDE_BOOKABLE_HOURS", "2027-01-05"),
        ("event.occurrences[3]", "OUTSIDE_BOOKABLE_HOURS", "2027-01-12"),
    ]


# === conflicts in a series ==============================================================================


def block_seventh(setup, resources=None) -> Event:
    """Someone else's event across the 7th Monday (15 February 2027) at 09:30."""
    return event_create(
        organization=setup.org,
        title="Board meeting",
        start=monday(6).replace(minute=30),
        end=monday(6, 10).replace(minute=30),
        resource_ids=[r.pk for r in resources or [setup.room]],
        now=NOW,
    )


def test_a_series_with_one_taken_date_is_refused_with_exactly_that_dates_error(setup):
    board = block_seventh(setup)
    with pytest.raises(BookingConflict) as caught:
        setup.submit(weekly(setup), now=NOW)
    [error] = caught.value.errors
    assert error.field == "event.occurrences[6]"
    assert error.code == "BOOKING_CONFLICT"
    assert error.message == "Mon 15 Feb 2027 09:00: Room is already booked by Board meeting at that time."
    assert error.meta["date"] == "2027-02-15" and error.meta["occurrence"] == 6
    assert error.meta["start"] == "2027-02-15T09:00:00Z" and error.meta["conflictingEventIds"] == [str(board.pk)]
    assert Booking.objects.count() == 0 and BookingEvent.objects.count() == 0
    assert list(Event.objects.all()) == [board] and EventSeries.objects.count() == 0


def test_a_series_with_one_taken_date_is_refused_without_holds_too(setup_no_hold):
    setup = setup_no_hold
    block_seventh(setup)
    with pytest.raises(BookingConflict) as caught:
        setup.submit(weekly(setup), now=NOW)
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.occurrences[6]", "BOOKING_CONFLICT")]
    assert Booking.objects.count() == 0


def test_capacity_is_reported_per_occurrence_too(setup):
    setup.desks.capacity = 1
    setup.desks.save()
    block_seventh(setup, [setup.desks])
    with pytest.raises(Exception) as caught:
        setup.submit(weekly(setup, resources=[setup.desks]), now=NOW)
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.occurrences[6]", "CAPACITY_EXCEEDED")]


def test_staff_create_with_skip_conflicts_books_the_other_nine_and_reports_the_skip(setup):
    block_seventh(setup)
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=BookingStatus.PENDING,
        contact=contact(),
        events=[weekly(setup)],
        single_event=True,
        skip_conflicts=True,
        now=NOW,
    )
    booking = result.booking
    assert booking.requested_times.count() == 9
    assert [be.occurrence for be in booking.requested_times.all()] == [0, 1, 2, 3, 4, 5, 7, 8, 9]
    assert monday(6) not in [be.start for be in booking.requested_times.all()]
    [skipped] = result.skipped
    assert (skipped.field, skipped.code, skipped.meta["date"]) == (
        "event.occurrences[6]",
        "BOOKING_CONFLICT",
        "2027-02-15",
    )
    # The holds of the nine, in one series with the rule as requested.
    holds = Event.objects.filter(status=EventStatus.TENTATIVE)
    assert holds.count() == 9 and len({e.series_id for e in holds}) == 1
    series = EventSeries.objects.get()
    assert series.timezone == "Europe/London" and series.rule["repeats"] == Cycle.WEEKLY
    assert series.rule["repeatUntil"] == "2027-03-08"
    note = BookingLog.objects.get(booking=booking).note
    assert note == "Skipped 1 occurrence: Mon 15 Feb 2027 09:00 BOOKING_CONFLICT"


def test_staff_create_approved_with_skip_conflicts_makes_nine_confirmed_events_in_one_series(setup):
    block_seventh(setup)
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=BookingStatus.APPROVED,
        contact=contact(),
        events=[weekly(setup)],
        single_event=True,
        skip_conflicts=True,
        now=NOW,
    )
    assert len(result.events) == 9 and {e.status for e in result.events} == {EventStatus.CONFIRMED}
    series = EventSeries.objects.get()
    assert series.events.count() == 9
    assert [be.event_id for be in result.booking.requested_times.all()] == [e.pk for e in result.events]


def test_without_skip_conflicts_staff_create_is_refused_too(setup):
    block_seventh(setup)
    with pytest.raises(BookingConflict) as caught:
        booking_create(
            module=setup.module,
            actor=setup.staff,
            status=BookingStatus.APPROVED,
            contact=contact(),
            events=[weekly(setup)],
            single_event=True,
            now=NOW,
        )
    assert [e.field for e in caught.value.errors] == ["event.occurrences[6]"]
    assert Booking.objects.count() == 0


def test_skip_conflicts_never_leaves_an_empty_series(setup):
    event_create(
        organization=setup.org,
        title="All term",
        start=monday(0),
        end=monday(2, 11),
        resource_ids=[setup.room.pk],
        now=NOW,
    )
    with pytest.raises(BookingConflict) as caught:
        booking_create(
            module=setup.module,
            actor=setup.staff,
            status=BookingStatus.APPROVED,
            contact=contact(),
            events=[weekly(setup, 3)],
            single_event=True,
            skip_conflicts=True,
            now=NOW,
        )
    assert [e.field for e in caught.value.errors] == [f"event.occurrences[{i}]" for i in range(3)]
    assert Booking.objects.count() == 0 and EventSeries.objects.count() == 0


def test_skip_conflicts_does_not_skip_a_single_event(setup):
    block_seventh(setup)
    with pytest.raises(BookingConflict):
        booking_create(
            module=setup.module,
            actor=setup.staff,
            status=BookingStatus.APPROVED,
            contact=contact(),
            events=[setup.event(monday(6))],
            single_event=True,
            skip_conflicts=True,
            now=NOW,
        )


def test_occurrences_of_one_request_conflicting_with_each_other_are_caught(setup):
    # Daily, 25 hours each: each overlaps the next (the third is free again once the second is refused).
    event = setup.event(monday(), monday() + timedelta(hours=25), repeat=rule(Cycle.DAILY, "2027-01-06"))
    with pytest.raises(BookingConflict) as caught:
        setup.submit(event, now=NOW)
    [error] = caught.value.errors
    assert error.field == "event.occurrences[1]"
    assert error.message == "Tue 05 Jan 2027 09:00: Room is already booked by another requested time at that time."


# === approval and the series ===========================================================================


def test_approval_confirms_the_holds_in_their_series(setup):
    booking = setup.submit(weekly(setup), now=NOW).booking
    series = EventSeries.objects.get()
    assert series.events.filter(status=EventStatus.TENTATIVE).count() == 10
    result = booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
    assert len(result.events) == 10
    assert EventSeries.objects.get() == series
    assert series.events.filter(status=EventStatus.CONFIRMED).count() == 10
    assert sorted(e.start for e in series.events.all()) == [monday(i) for i in range(10)]


def test_approval_without_holds_creates_one_series_of_ten(setup_no_hold):
    setup = setup_no_hold
    booking = setup.submit(weekly(setup), now=NOW).booking
    assert EventSeries.objects.count() == 0 and Event.objects.count() == 0
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
    series = EventSeries.objects.get()
    assert (series.organization, series.timezone) == (setup.org, "Europe/London")
    assert series.rule == {
        "repeats": 2,
        "repeatEvery": 1,
        "repeatUntil": "2027-03-08",
        "repeatOnMondays": False,
        "repeatOnTuesdays": False,
        "repeatOnWednesdays": False,
        "repeatOnThursdays": False,
        "repeatOnFridays": False,
        "repeatOnSaturdays": False,
        "repeatOnSundays": False,
    }
    assert series.events.filter(status=EventStatus.CONFIRMED).count() == 10
    assert set(BookingEvent.objects.values_list("event__series", flat=True)) == {series.pk}


def test_approval_of_a_series_with_a_newly_taken_date_is_refused_per_occurrence(setup_no_hold):
    setup = setup_no_hold
    booking = setup.submit(weekly(setup), now=NOW).booking
    block_seventh(setup)
    with pytest.raises(BookingConflict) as caught:
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
    [error] = caught.value.errors
    assert (error.field, error.code, error.meta["date"], error.meta["occurrence"]) == (
        "events[6]",
        "BOOKING_CONFLICT",
        "2027-02-15",
        6,
    )
    assert EventSeries.objects.count() == 0


def test_approval_with_skip_conflicts_makes_a_series_of_nine(setup_no_hold):
    setup = setup_no_hold
    booking = setup.submit(weekly(setup), now=NOW).booking
    block_seventh(setup)
    result = booking_approve(
        booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, skip_conflicts=True, now=NOW
    )
    assert len(result.events) == 9
    series = EventSeries.objects.get()
    assert series.events.count() == 9
    assert [(e.field, e.meta["date"]) for e in result.skipped] == [("events[6]", "2027-02-15")]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.APPROVED
    assert booking.requested_times.count() == 9 and not booking.requested_times.filter(start=monday(6)).exists()
    log = BookingLog.objects.filter(booking=booking, action="approve").get()
    assert log.note == "Skipped 1 occurrence: Mon 15 Feb 2027 09:00 BOOKING_CONFLICT"
    assert len(log.before["events"]) == 10 and len(log.after["events"]) == 9


def test_approval_with_skip_conflicts_leaves_out_an_occurrence_now_breaking_a_rule(setup):
    booking = setup.submit(weekly(setup, 3), now=NOW).booking
    setup.room.max_advance_days = 45  # the third Monday (18 January) is now too far ahead
    setup.room.save()
    result = booking_approve(
        booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, skip_conflicts=True, now=NOW
    )
    assert [e.start for e in result.events] == [monday(0), monday(1)]
    assert [(e.field, e.code) for e in result.skipped] == [("events[2]", "START_TIME_TOO_EARLY")]
    assert Event.objects.count() == 2  # the third hold went with its requested time
    assert EventSeries.objects.get().events.count() == 2


def test_a_series_approved_after_its_module_stopped_holding_joins_the_holds_series(setup):
    booking = setup.submit(weekly(setup, 3), now=NOW).booking
    series = EventSeries.objects.get()
    hold = BookingEvent.objects.get(booking=booking, occurrence=1).event
    hold.delete()  # staff deleted one hold on the calendar: its requested time stays, unlinked
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
    assert EventSeries.objects.get() == series and series.events.count() == 3


# === create-only ========================================================================================


def test_a_change_request_cannot_add_a_repeat(setup):
    booking = setup.submit(setup.event(monday()), now=NOW).booking
    be = booking.requested_times.get()
    with pytest.raises(ImmutableField) as caught:
        change_request_submit(
            booking_id=booking.pk,
            actor=Actor.booker("ada@example.com"),
            now=NOW,
            events=[{"bookingEventId": str(be.pk), "repeat": rule(Cycle.WEEKLY, "2027-03-01")}],
        )
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.repeat", "IMMUTABLE_FIELD")]
    assert booking.requested_times.count() == 1


def test_approval_edits_cannot_add_occurrences(setup):
    booking = setup.submit(weekly(setup, 2), now=NOW).booking
    be = booking.requested_times.first()
    with pytest.raises(ImmutableField):
        booking_approve(
            booking_id=booking.pk,
            actor=setup.staff,
            client_last_updated_at=None,
            now=NOW,
            event_edits=[{"bookingEventId": str(be.pk), "repeat": rule(Cycle.DAILY, "2027-03-01")}],
        )
    with pytest.raises(ImmutableField):
        booking_update(booking_id=booking.pk, actor=setup.staff, changes={"repeat": rule(Cycle.DAILY, "2027-03-01")})


def test_one_occurrence_can_still_be_moved_by_a_change_request(setup):
    booking = setup.submit(weekly(setup, 3), now=NOW).booking
    second = booking.requested_times.get(occurrence=1)
    change_request_submit(
        booking_id=booking.pk,
        actor=Actor.booker("ada@example.com"),
        now=NOW,
        events=[
            {"bookingEventId": str(second.pk), "start": monday(1, 11).isoformat(), "end": monday(1, 12).isoformat()}
        ],
    )
    second.refresh_from_db()
    assert (second.start, second.occurrence, second.repeat["repeats"]) == (monday(1, 11), 1, Cycle.WEEKLY)
    assert second.event.start == monday(1, 11) and second.event.series_id == EventSeries.objects.get().pk


def test_the_booking_representation_shows_the_repeat(setup):
    booking = setup.submit(weekly(setup, 3), now=NOW).booking
    payload = booking_payload(booking, staff=True)
    wire = {
        "repeats": 2,
        "repeatEvery": 1,
        "repeatUntil": "2027-01-18",
        "repeatOnMondays": False,
        "repeatOnTuesdays": False,
        "repeatOnWednesdays": False,
        "repeatOnThursdays": False,
        "repeatOnFridays": False,
        "repeatOnSaturdays": False,
        "repeatOnSundays": False,
    }
    assert payload["repeat"] == wire
    assert [(e["occurrence"], e["repeat"], e["startLocal"]) for e in payload["events"]] == [
        (0, wire, "2027-01-04T09:00:00"),
        (1, wire, "2027-01-11T09:00:00"),
        (2, wire, "2027-01-18T09:00:00"),
    ]
    single = setup.submit(setup.event(monday(5)), now=NOW).booking
    payload = booking_payload(single, staff=True)
    assert payload["repeat"] is None and payload["events"][0]["repeat"] is None
    assert payload["events"][0]["occurrence"] is None


# === one conflict query, whatever the number of occurrences ==========================================


def reservation_reads(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("SELECT") and 'FROM "events_reservation"' in q["sql"]
    ]


def overlap_reads(queries) -> list[str]:
    """The conflict checks: reads of active reservations overlapping a window."""
    return [sql for sql in reservation_reads(queries) if '"events_reservation"."active"' in sql]


@pytest.mark.parametrize("hold", [True, False])
def test_the_conflict_check_is_one_query_for_10_or_100_occurrences(hold, setup):
    setup.module.hold_pending_slots = hold
    setup.module.save()
    block_seventh(setup, [setup.hall])  # something in the table to compare with
    setup.submit(setup.event(monday(60)), email="warm@example.com", now=NOW)  # the configuration cache is warm
    counts = {}
    for count, first in ((10, monday()), (100, monday(20))):
        until = (first + timedelta(days=count - 1)).date().isoformat()
        event = setup.event(first, repeat=rule(Cycle.DAILY, until))
        with CaptureQueriesContext(connection) as ctx:  # a new booker each time: the same work but the times
            result = setup.submit(event, email=f"booker{count}@example.com", now=NOW)
        assert result.booking.requested_times.count() == count
        # Everything but the inserts, which a database may split into batches (SQLite: 999 parameters each).
        others = [q for q in ctx.captured_queries if not q["sql"].lstrip().upper().startswith("INSERT")]
        counts[count] = (
            len(overlap_reads(ctx.captured_queries)),
            len(reservation_reads(ctx.captured_queries)),
            len(others),
        )
    # PostgreSQL lets its exclusion constraint check new holds on exclusive resources (the table is not read).
    reads = 0 if hold and connection.vendor == "postgresql" else 1
    assert counts[10][0] == counts[100][0] == reads
    assert counts[10] == counts[100], counts


def test_skip_conflicts_and_approval_read_the_reservations_once_too(setup):
    block_seventh(setup)
    counts = []
    for count, first in ((10, monday(6) - timedelta(days=6)), (100, monday(20))):  # the 10 include 15 February
        until = (first + timedelta(days=count - 1)).date().isoformat()
        with CaptureQueriesContext(connection) as ctx:
            result = booking_create(
                module=setup.module,
                actor=setup.staff,
                status=BookingStatus.PENDING,
                contact=contact(),
                events=[setup.event(first, repeat=rule(Cycle.DAILY, until))],
                single_event=True,
                skip_conflicts=True,
                now=NOW,
            )
        created = len(overlap_reads(ctx.captured_queries))
        with CaptureQueriesContext(connection) as ctx:
            booking_approve(booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=None, now=NOW)
        counts.append((created, len(overlap_reads(ctx.captured_queries))))
    assert counts == [(1, 1), (1, 1)]
    assert Reservation.objects.filter(event__series__isnull=False).count() == 9 + 100
