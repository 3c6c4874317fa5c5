"""Changing and deleting occurrences of a series (events.services.occurrences):
each whichEventsToUpdate value at the 4th of 10 weekly occurrences changes exactly the chosen ones, a time
change is the same wall-clock shift across the clock change, conflicts are checked as one unit, and a
booking's requested times follow (also through a change request with a scope)."""

from datetime import timedelta

import pytest

from bookings.lifecycle.change_requests import change_request_approve, change_request_submit
from bookings.models import BookingChangeRequest, BookingEvent, BookingLog
from core.errors import BookingConflict, InvalidTransition, ValidationFailed
from events.models import Event, EventStatus, Reservation
from events.series import WhichEvents, local_delta, local_shift, series_describe, which_events_parse
from events.services.occurrences import occurrences_delete, occurrences_update
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from notifications.models import Notification
from notifications.rendering import notification_bodies
from tests.factories import ClosureFactory
from tests.series import LONDON, UTC, local, make_booked_series, make_series, moved, rows, wall

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


@pytest.fixture
def series(setup):
    return make_series(setup)


# --- the shape of the fixture ------------------------------------------------------------------------


def test_the_series_crosses_the_clock_change(series):
    _, events = series
    assert [wall(e.start) for e in events] == ["09:00"] * 10
    offsets = [e.start.astimezone(LONDON).utcoffset() for e in events]
    assert offsets == [timedelta(0)] * 4 + [HOUR] * 6
    assert [e.start.astimezone(UTC).hour for e in events] == [9] * 4 + [8] * 6


# --- time changes per scope ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "which, changed",
    [
        (WhichEvents.THIS, [3]),
        (WhichEvents.THIS_AND_FUTURE, range(3, 10)),
        (WhichEvents.ALL, range(10)),
    ],
)
def test_a_time_change_moves_exactly_the_chosen_occurrences(setup, series, which, changed):
    series_row, events = series
    before = rows(series_row)
    fourth = events[3]
    start = local(fourth.start.astimezone(LONDON).date(), 10, 30)
    result = occurrences_update(event=fourth, which=which, start=start, end=start + HOUR)
    assert rows(series_row) == moved(before, changed)
    assert sorted(e.pk for e in result) == sorted(events[i].pk for i in changed)
    # The reservations moved with them, and nothing else holds the room.
    for event in Event.objects.filter(series=series_row):
        reservation = Reservation.objects.get(event=event)
        assert (reservation.start, reservation.end, reservation.active) == (event.start, event.end, True)


def test_the_shift_keeps_the_wall_clock_across_the_clock_change(series):
    series_row, events = series
    fourth = events[3]  # GMT; the 5th onwards are BST
    occurrences_update(
        event=fourth,
        which=WhichEvents.THIS_AND_FUTURE,
        start=fourth.start + timedelta(minutes=90),
        end=fourth.end + timedelta(minutes=90),
    )
    after = list(Event.objects.filter(series=series_row).order_by("start"))
    assert [wall(e.start) for e in after] == ["09:00"] * 3 + ["10:30"] * 7
    assert [wall(e.end) for e in after] == ["10:00"] * 3 + ["11:30"] * 7
    # In UTC the summer ones moved to 09:30, not to 10:30: the shift is on the local clock.
    assert [f"{e.start.astimezone(UTC):%H:%M}" for e in after[3:]] == ["10:30"] + ["09:30"] * 6


def test_a_move_from_summer_into_winter_keeps_the_wall_clock(setup):
    """Moving a BST occurrence back by a week lands a GMT one: still 09:00 local."""
    series_row, events = make_series(setup)
    fifth = events[4]
    occurrences_update(
        event=fifth,
        which=WhichEvents.THIS_AND_FUTURE,
        start=local(fifth.start.astimezone(LONDON).date() - timedelta(days=1), 9),
        end=local(fifth.start.astimezone(LONDON).date() - timedelta(days=1), 10),
    )
    after = list(Event.objects.filter(series=series_row).order_by("start"))
    assert [wall(e.start) for e in after] == ["09:00"] * 10
    assert after[4].start.astimezone(LONDON).weekday() == 6  # the Sunday of the clock change, 09:00 BST
    assert [(b.start - a.start).days for a, b in zip(events[4:], after[4:], strict=True)] == [-1] * 6


def test_a_duration_change_alone(series):
    series_row, events = series
    before = rows(series_row)
    occurrences_update(event=events[3], which=WhichEvents.ALL, end=events[3].end + timedelta(minutes=30))
    assert rows(series_row) == [(s, e + timedelta(minutes=30), t) for s, e, t in before]


def test_moving_onto_the_next_occurrences_slot_is_one_unit(series):
    """A week's shift puts each occurrence where the next one was: fine, since they all move together."""
    series_row, events = series
    before = rows(series_row)
    occurrences_update(event=events[3], which=WhichEvents.THIS_AND_FUTURE, start=events[4].start, end=events[4].end)
    after = rows(series_row)
    assert after[:3] == before[:3]
    assert [s for s, _, _ in after[3:9]] == [s for s, _, _ in before[4:10]]
    assert [wall(s) for s, _, _ in after] == ["09:00"] * 10


# --- other changes per scope ---------------------------------------------------------------------------


def test_title_and_description_apply_to_the_chosen_occurrences(series):
    series_row, events = series
    before = rows(series_row)
    occurrences_update(
        event=events[3], which=WhichEvents.THIS_AND_FUTURE, title="Renamed", description="<p>New</p><script>x</script>"
    )
    assert rows(series_row) == before[:3] + [(s, e, "Renamed") for s, e, _ in before[3:]]
    descriptions = list(Event.objects.filter(series=series_row).order_by("start").values_list("description", flat=True))
    assert descriptions == [""] * 3 + ["<p>New</p>"] * 7


def test_resources_apply_to_every_occurrence(setup, series):
    series_row, events = series
    occurrences_update(event=events[3], which=WhichEvents.ALL, resource_ids=[setup.hall.pk])
    assert set(Reservation.objects.filter(event__series=series_row).values_list("resource_id", flat=True)) == {
        setup.hall.pk
    }
    # The room is free again at every old time.
    start, end = events[0].start, events[0].end
    events_save(
        organization=setup.org, specs=[EventSpec(title="Other", start=start, end=end, resource_ids=[setup.room.pk])]
    )


def test_status_applies_to_the_chosen_occurrences(series):
    series_row, events = series
    occurrences_update(event=events[3], which=WhichEvents.THIS_AND_FUTURE, status=EventStatus.CANCELED)
    statuses = list(Event.objects.filter(series=series_row).order_by("start").values_list("status", flat=True))
    assert statuses == [EventStatus.CONFIRMED] * 3 + [EventStatus.CANCELED] * 7
    assert not Reservation.objects.filter(event__series=series_row, active=True, start__gte=events[3].start).exists()


def test_canceled_occurrences_stay_as_they_are(series):
    series_row, events = series
    occurrences_update(event=events[6], status=EventStatus.CANCELED)
    before = rows(series_row)
    occurrences_update(
        event=events[3], which=WhichEvents.ALL, start=events[3].start + HOUR, end=events[3].end + HOUR, title="Later"
    )
    after = rows(series_row)
    assert after[6] == before[6]
    assert all(wall(s) == "10:00" and t == "Later" for i, (s, _, t) in enumerate(after) if i != 6)


def test_a_status_change_that_is_not_possible_changes_nothing(series):
    series_row, events = series
    occurrences_update(event=events[5], status=EventStatus.CANCELED)
    before = rows(series_row)
    with pytest.raises(InvalidTransition):
        # The 6th (canceled) is the addressed one: it is chosen even though canceled.
        occurrences_update(event=events[5], which=WhichEvents.ALL, status=EventStatus.TENTATIVE)
    assert rows(series_row) == before


def test_an_event_outside_a_series_is_just_itself(setup):
    [event] = events_save(
        organization=setup.org,
        specs=[
            EventSpec(
                title="Alone",
                start=local(make_series_day(), 9),
                end=local(make_series_day(), 10),
                resource_ids=[setup.room.pk],
            )
        ],
    )
    [result] = occurrences_update(event=event, which=WhichEvents.ALL, title="Still alone")
    assert result.pk == event.pk and Event.objects.get(pk=event.pk).title == "Still alone"


def make_series_day():
    from tests.series import first_monday

    return first_monday()


# --- all or nothing ------------------------------------------------------------------------------------


def test_a_shift_that_conflicts_changes_nothing_and_names_the_occurrence(setup, series):
    series_row, events = series
    seventh_day = events[6].start.astimezone(LONDON).date()
    [blocker] = events_save(
        organization=setup.org,
        specs=[
            EventSpec(
                title="Board meeting",
                start=local(seventh_day, 10),
                end=local(seventh_day, 12),
                resource_ids=[setup.room.pk],
            )
        ],
    )
    before = rows(series_row)
    reservations = list(Reservation.objects.order_by("pk").values_list("pk", "start", "end"))
    start = local(events[3].start.astimezone(LONDON).date(), 10, 30)
    with pytest.raises(BookingConflict) as caught:
        occurrences_update(event=events[3], which=WhichEvents.THIS_AND_FUTURE, start=start, end=start + HOUR)
    [error] = caught.value.errors
    assert error.code == "BOOKING_CONFLICT" and error.field == "resourceIds"
    assert error.meta["eventId"] == str(events[6].pk)
    assert error.meta["conflictingEventIds"] == [str(blocker.pk)]
    assert "Board meeting" in error.message and seventh_day.strftime("%d %b %Y") in error.message
    assert rows(series_row) == before
    assert list(Reservation.objects.order_by("pk").values_list("pk", "start", "end")) == reservations
    # The same change for this one only goes through: the 7th is not touched.
    occurrences_update(event=events[3], start=start, end=start + HOUR)
    assert rows(series_row) == moved(before, [3])


def test_a_shift_that_breaks_a_rule_changes_nothing(setup, series):
    series_row, events = series
    eighth_day = events[7].start.astimezone(LONDON).date()
    ClosureFactory(organization=setup.org, start=local(eighth_day, 0), end=local(eighth_day, 23), message="Works")
    before = rows(series_row)
    with pytest.raises(ValidationFailed) as caught:
        occurrences_update(
            event=events[3], which=WhichEvents.ALL, start=events[3].start + HOUR, end=events[3].end + HOUR
        )
    assert {(e.code, e.meta["eventId"]) for e in caught.value.errors} == {("RESOURCE_CLOSED", str(events[7].pk))}
    assert rows(series_row) == before
    occurrences_update(
        event=events[3],
        which=WhichEvents.ALL,
        start=events[3].start + HOUR,
        end=events[3].end + HOUR,
        override_rules=True,
    )
    assert [wall(s) for s, _, _ in rows(series_row)] == ["10:00"] * 10


def test_end_before_start_on_any_occurrence_changes_nothing(series):
    series_row, events = series
    before = rows(series_row)
    with pytest.raises(ValidationFailed) as caught:
        occurrences_update(event=events[3], which=WhichEvents.ALL, end=events[3].start)
    assert {e.code for e in caught.value.errors} == {"END_BEFORE_START"}
    assert rows(series_row) == before


# --- deletion ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "which, gone",
    [
        (WhichEvents.THIS, [3]),
        (WhichEvents.DELETE_ALL, range(10)),
        (WhichEvents.DELETE_THIS_AND_AFTER, range(3, 10)),
        (WhichEvents.ALL, range(10)),  # read as 5
        (WhichEvents.THIS_AND_FUTURE, range(3, 10)),  # read as 6
    ],
)
def test_deleting_removes_exactly_the_chosen_occurrences(setup, series, which, gone):
    series_row, events = series
    before = rows(series_row)
    deleted = occurrences_delete(event=events[3], which=which)
    assert sorted(deleted) == sorted(events[i].pk for i in gone)
    assert rows(series_row) == [row for i, row in enumerate(before) if i not in gone]
    assert not Reservation.objects.filter(event_id__in=deleted).exists()


def test_deleting_takes_canceled_occurrences_too(series):
    series_row, events = series
    occurrences_update(event=events[8], status=EventStatus.CANCELED)
    occurrences_delete(event=events[3], which=WhichEvents.DELETE_THIS_AND_AFTER)
    assert Event.objects.filter(series=series_row).count() == 3


@pytest.mark.parametrize(
    "value, code",
    [
        (7, "INVALID_CHOICE"),  # 4 and 8: tests/bookings/test_billing.py
        (5, "INVALID_CHOICE"),
        (6, "INVALID_CHOICE"),
        (9, "INVALID_CHOICE"),
        (0, "INVALID_CHOICE"),
        (True, "INVALID_CHOICE"),
        ("x", "INVALID_CHOICE"),
    ],
)
def test_update_scopes_that_are_refused(series, value, code):
    series_row, events = series
    before = rows(series_row)
    with pytest.raises(ValidationFailed) as caught:
        occurrences_update(event=events[3], which=value, title="No")
    assert [e.code for e in caught.value.errors] == [code]
    assert rows(series_row) == before


@pytest.mark.parametrize("value, code", [(4, "INVALID_CHOICE"), (8, "INVALID_CHOICE"), (9, "INVALID_CHOICE")])
def test_delete_scopes_that_are_refused(series, value, code):
    series_row, events = series
    with pytest.raises(ValidationFailed) as caught:
        occurrences_delete(event=events[3], which=value)
    assert [e.code for e in caught.value.errors] == [code]
    assert Event.objects.filter(series=series_row).count() == 10


def test_scope_parsing_and_wall_clock_helpers():
    assert which_events_parse(None, deleting=False) == WhichEvents.THIS
    assert which_events_parse("2", deleting=False) == WhichEvents.THIS_AND_FUTURE
    assert which_events_parse(3, deleting=True) == WhichEvents.DELETE_ALL
    assert which_events_parse(2, deleting=True) == WhichEvents.DELETE_THIS_AND_AFTER
    winter, summer = local(make_series_day(), 9), local(make_series_day() + timedelta(weeks=5), 9)
    delta = local_delta(winter, winter + timedelta(minutes=90), LONDON)
    assert delta == timedelta(minutes=90)
    assert wall(local_shift(summer, delta, LONDON)) == "10:30"
    assert series_describe({"freq": "WEEKLY"}, 10) == "weekly, 10 occurrences"
    assert series_describe({"repeats": 2, "repeatEvery": 2}, 3) == "every 2 weeks, 3 occurrences"
    assert series_describe({}, 1) == "repeating, 1 occurrence"
    assert series_describe({"repeats": 8, "repeatOnFridays": True}, 4) == "monthly on the last Friday, 4 occurrences"


# --- bookings follow -----------------------------------------------------------------------------------


def test_booking_events_follow_a_scoped_move_and_the_booking_logs_it(setup):
    booking, series_row, events = make_booked_series(setup)
    stamp = booking.updated_at
    before = list(booking.requested_times.order_by("start").values_list("start", "end"))
    occurrences_update(
        event=events[3],
        which=WhichEvents.THIS_AND_FUTURE,
        start=events[3].start + timedelta(minutes=90),
        end=events[3].end + timedelta(minutes=90),
        resource_ids=[setup.hall.pk],
        actor=setup.manager,
    )
    after = list(BookingEvent.objects.filter(booking=booking).order_by("start"))
    assert [(be.start, be.end) for be in after[:3]] == before[:3]
    assert [wall(be.start) for be in after] == ["09:00"] * 3 + ["10:30"] * 7
    assert [(be.start, be.end) for be in after] == [
        (e.start, e.end) for e in Event.objects.filter(series=series_row).order_by("start")
    ]
    assert [[r.pk for r in be.resources.all()] for be in after] == [[setup.room.pk]] * 3 + [[setup.hall.pk]] * 7
    log = BookingLog.objects.filter(booking=booking).order_by("created_at").last()
    assert log.action == "events_changed" and log.actor_user == setup.manager
    assert "7 calendar events changed" in log.note and "events" in log.after
    booking.refresh_from_db()
    assert booking.updated_at > stamp


def test_booking_events_are_unlinked_when_their_occurrences_are_deleted(setup):
    booking, series_row, events = make_booked_series(setup)
    occurrences_delete(event=events[3], which=WhichEvents.DELETE_THIS_AND_AFTER, actor=setup.manager)
    links = list(BookingEvent.objects.filter(booking=booking).order_by("start").values_list("event_id", flat=True))
    assert links == [e.pk for e in events[:3]] + [None] * 7
    log = BookingLog.objects.filter(booking=booking).order_by("created_at").last()
    assert log.action == "events_deleted" and "7 calendar events deleted" in log.note


def test_a_refused_change_leaves_the_booking_alone(setup):
    booking, series_row, events = make_booked_series(setup)
    logs = BookingLog.objects.filter(booking=booking).count()
    before = list(booking.requested_times.order_by("start").values_list("start", "end"))
    day = events[8].start.astimezone(LONDON).date()
    events_save(
        organization=setup.org,
        specs=[EventSpec(title="Taken", start=local(day, 10), end=local(day, 11), resource_ids=[setup.room.pk])],
    )
    with pytest.raises(BookingConflict):
        occurrences_update(
            event=events[3], which=WhichEvents.ALL, start=events[3].start + HOUR, end=events[3].end + HOUR
        )
    assert list(booking.requested_times.order_by("start").values_list("start", "end")) == before
    assert BookingLog.objects.filter(booking=booking).count() == logs


# --- a change request with a scope ---------------------------------------------------------------------


def test_a_change_request_with_a_scope_is_applied_on_approval(setup):
    booking, series_row, events = make_booked_series(setup)
    booking_events = list(booking.requested_times.order_by("start"))
    fourth = booking_events[3]
    start = fourth.start + timedelta(minutes=90)
    result = change_request_submit(
        booking_id=booking.pk,
        actor=setup.staff,
        events=[
            {
                "bookingEventId": str(fourth.pk),
                "start": start.isoformat(),
                "end": (start + HOUR).isoformat(),
                "whichEventsToUpdate": 2,
            }
        ],
    )
    change_request = result.change_request
    # Kept as asked: one change with its scope, spread over the series when approved.
    assert change_request.event_changes == [
        {
            "bookingEventId": str(fourth.pk),
            "start": start.astimezone(UTC).isoformat(),
            "end": (start + HOUR).astimezone(UTC).isoformat(),
            "whichEventsToUpdate": 2,
        }
    ]
    # The booker's email says how far the change reaches.
    received = notification_bodies(Notification.objects.get(kind="change_request_received"))
    assert "and the later occurrences of the series, changed alike" in received.body_text
    before = rows(series_row)
    change_request_approve(change_request_id=change_request.pk, actor=setup.staff)
    assert rows(series_row) == moved(before, range(3, 10))
    after = list(BookingEvent.objects.filter(booking=booking).order_by("start"))
    assert [wall(be.start) for be in after] == ["09:00"] * 3 + ["10:30"] * 7
    assert [be.event_id for be in after] == [e.pk for e in events]  # moved, not recreated


def test_a_change_request_for_all_occurrences_retitles_them(setup):
    booking, series_row, events = make_booked_series(setup)
    fourth = booking.requested_times.order_by("start")[3]
    result = change_request_submit(
        booking_id=booking.pk,
        actor=setup.staff,
        events=[{"bookingEventId": str(fourth.pk), "title": "Renamed sync", "whichEventsToUpdate": 3}],
    )
    assert result.change_request.event_changes == [
        {"bookingEventId": str(fourth.pk), "title": "Renamed sync", "whichEventsToUpdate": 3}
    ]
    change_request_approve(change_request_id=result.change_request.pk, actor=setup.staff)
    assert {t for _, _, t in rows(series_row)} == {"Renamed sync"}
    assert set(BookingEvent.objects.filter(booking=booking).values_list("title", flat=True)) == {"Renamed sync"}


def test_a_scoped_change_request_that_conflicts_on_approval_changes_nothing(setup):
    booking, series_row, events = make_booked_series(setup)
    fourth = booking.requested_times.order_by("start")[3]
    start = fourth.start + HOUR
    result = change_request_submit(
        booking_id=booking.pk,
        actor=setup.staff,
        events=[
            {
                "bookingEventId": str(fourth.pk),
                "start": start.isoformat(),
                "end": (start + HOUR).isoformat(),
                "whichEventsToUpdate": 3,
            }
        ],
    )
    day = events[9].start.astimezone(LONDON).date()
    events_save(
        organization=setup.org,
        specs=[EventSpec(title="Taken", start=local(day, 10), end=local(day, 11), resource_ids=[setup.room.pk])],
    )
    before = rows(series_row)
    with pytest.raises(BookingConflict):
        change_request_approve(change_request_id=result.change_request.pk, actor=setup.staff)
    assert rows(series_row) == before
    assert BookingChangeRequest.open.filter(pk=result.change_request.pk).exists()


def test_a_change_request_scope_is_checked(setup):
    booking, _, _ = make_booked_series(setup)
    fourth = booking.requested_times.order_by("start")[3]
    for value, code in ((4, "NOT_SUPPORTED"), (5, "INVALID_CHOICE"), ("all", "INVALID_CHOICE")):
        with pytest.raises(ValidationFailed) as caught:
            change_request_submit(
                booking_id=booking.pk,
                actor=setup.staff,
                events=[{"bookingEventId": str(fourth.pk), "title": "X", "whichEventsToUpdate": value}],
            )
        assert [(e.field, e.code) for e in caught.value.errors] == [("event.whichEventsToUpdate", code)]
    assert not BookingChangeRequest.objects.filter(booking=booking).exists()


# --- races ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_series_move_and_an_approval_race_for_one_slot():
    """A scoped move of a booked series (locks: the booking, the events, the resources) and the approval of
    another request for a slot the move needs (the booking, the resources): exactly one wins, the other gets
    BOOKING_CONFLICT; never a deadlock or a database error."""
    from bookings.lifecycle.decide import booking_approve
    from tests.conftest import Setup

    from .test_concurrency import race, split

    setup = Setup(hold=False)
    booking, series_row, events = make_booked_series(setup)
    day = events[6].start.astimezone(LONDON).date()
    pending = setup.submit(setup.event(local(day, 10, 30), local(day, 11, 30), title="Rival")).booking
    fourth = events[3]

    def work(i: int):
        if i == 0:
            return occurrences_update(
                event=fourth,
                which=WhichEvents.THIS_AND_FUTURE,
                start=fourth.start + timedelta(minutes=90),
                end=fourth.end + timedelta(minutes=90),
                actor=setup.manager,
            )
        return booking_approve(booking_id=pending.pk, actor=setup.staff, client_last_updated_at=None)

    wins, errors = split(race(2, work), BookingConflict)
    assert len(wins) == 1 and len(errors) == 1
    times = [wall(s) for s, _, _ in rows(series_row)]
    assert times in (["09:00"] * 10, ["09:00"] * 3 + ["10:30"] * 7)
    booked = list(BookingEvent.objects.filter(booking=booking).order_by("start").values_list("start", flat=True))
    assert [wall(t) for t in booked] == times
