"""The scheduling guarantees (docs/architecture.md#scheduling-guarantees) at the service level (events.services), on
every database, and the PostgreSQL exclusion constraint that backs them."""

import contextlib
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Booking
from core.errors import BookingConflict, CapacityExceeded, ValidationFailed
from events.models import Event, EventStatus, Reservation
from events.services.saving import events_delete, events_save
from events.services.scheduling import EventSpec, conflicts_check, resources_lock, resources_lock_known
from events.services.status import events_set_status
from resources.models import Resource
from tests.conftest import future, postgres_only
from tests.factories import EventFactory, ReservationFactory, ResourceFactory

# Active reservations of one exclusive resource that share a moment: must always be empty
# (docs/architecture.md#scheduling-guarantees).
OVERLAP_SQL = """
    SELECT a.id, b.id
    FROM events_reservation a
    JOIN events_reservation b
      ON a.resource_id = b.resource_id AND a.id < b.id AND a.start < b."end" AND b.start < a."end"
    WHERE a.active AND b.active AND a.exclusive AND b.exclusive
"""


def overlapping_reservations(resource_id=None) -> list[tuple]:
    """Pairs of overlapping active exclusive reservations found by a plain SQL self-join."""
    sql, params = OVERLAP_SQL, []
    if resource_id is not None:
        sql += " AND a.resource_id = %s"
        params.append(Reservation._meta.get_field("resource").target_field.get_db_prep_value(resource_id, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def at(hour: int, minute: int = 0):
    """A wall-clock time (Europe/London) a week from today."""
    return future(days=7, hour=hour, minute=minute)


def book(setup, start, end, *resources, title="Booked", status=EventStatus.CONFIRMED, event=None) -> Event:
    resources = resources or (setup.room,)
    spec = EventSpec(title=title, start=start, end=end, resource_ids=[r.pk for r in resources], event=event)
    return events_save(organization=setup.org, specs=[spec], status=status)[0]


def conflict_ids(exc) -> list[str]:
    return [i for e in exc.errors for i in e.meta.get("conflictingEventIds", [])]


# --- exclusive resources: half-open periods ---------------------------------------------------------


def test_adjacent_bookings_never_conflict(setup):
    first = book(setup, at(10), at(11))
    second = book(setup, at(11), at(12))
    earlier = book(setup, at(9), at(10))
    assert Reservation.objects.filter(resource=setup.room, active=True).count() == 3
    assert {first.pk, second.pk, earlier.pk} == set(Event.objects.values_list("pk", flat=True))
    assert overlapping_reservations(setup.room.pk) == []


def test_adjacent_submissions_never_conflict(setup):
    setup.submit(setup.event(at(10), at(11)))
    setup.submit(setup.event(at(11), at(12)), email="grace@example.com")
    assert Booking.objects.count() == 2
    assert Event.objects.filter(status=EventStatus.TENTATIVE).count() == 2


@pytest.mark.parametrize("start,end", [((10, 59), (12, 0)), ((9, 0), (10, 1)), ((10, 15), (10, 45)), ((9, 0), (13, 0))])
def test_one_minute_of_overlap_conflicts_and_names_the_event(setup, start, end):
    taken = book(setup, at(10), at(11), title="Board meeting")
    with pytest.raises(BookingConflict) as caught:
        book(setup, at(*start), at(*end))
    exc = caught.value
    assert exc.code == "BOOKING_CONFLICT"
    [error] = exc.errors
    assert error.code == "BOOKING_CONFLICT"
    assert error.field == "event.resourceIds"
    assert error.meta == {"resourceId": str(setup.room.pk), "conflictingEventIds": [str(taken.pk)]}
    assert "Board meeting" in error.message
    assert Event.objects.count() == 1 and Reservation.objects.count() == 1


def test_conflict_names_every_conflicting_event(setup):
    a = book(setup, at(10), at(11))
    b = book(setup, at(11), at(12))
    with pytest.raises(BookingConflict) as caught:
        book(setup, at(10, 30), at(11, 30))
    assert sorted(conflict_ids(caught.value)) == sorted([str(a.pk), str(b.pk)])


def test_submission_conflict_names_the_held_event(setup):
    held = setup.submit(setup.event(at(10), at(11))).events[0]
    with pytest.raises(BookingConflict) as caught:
        setup.submit(setup.event(at(10, 59), at(12)), email="grace@example.com")
    assert caught.value.errors[0].field == "event.resourceIds"
    assert conflict_ids(caught.value) == [str(held.pk)]
    assert Booking.objects.count() == 1  # the refused submission left nothing behind


def test_conflict_only_on_the_taken_resource(setup):
    in_room = book(setup, at(10), at(11), setup.room)
    book(setup, at(10), at(11), setup.hall)  # another resource at the same time is free
    book(setup, at(11), at(12), setup.hall, setup.room, setup.desks)  # adjacent on all three
    book(setup, at(10), at(11), setup.desks)
    with pytest.raises(BookingConflict) as caught:
        book(setup, at(10, 30), at(11), setup.desks, setup.room)
    [error] = caught.value.errors
    assert error.meta == {"resourceId": str(setup.room.pk), "conflictingEventIds": [str(in_room.pk)]}
    assert Event.objects.count() == 4


def test_conflicts_check_reports_without_writing(setup):
    taken = book(setup, at(10), at(11))
    resources = resources_lock([setup.room.pk])
    ok = EventSpec(title="x", start=at(11), end=at(12), resource_ids=[setup.room.pk])
    bad = EventSpec(title="y", start=at(10, 30), end=at(11, 30), resource_ids=[setup.room.pk], field="events[1]")
    assert conflicts_check(specs=[ok], resources=resources) == []
    [error] = conflicts_check(specs=[bad], resources=resources)
    assert (error.field, error.code, error.meta["conflictingEventIds"]) == (
        "events[1].resourceIds",
        "BOOKING_CONFLICT",
        [str(taken.pk)],
    )
    assert conflicts_check(specs=[bad], resources=resources, exclude_event_ids=[taken.pk]) == []
    assert Event.objects.count() == 1


# --- the lock of resources the caller has already read (the public submit's, from the configuration cache) ---


def _known(*resources) -> dict:
    return {r.pk: Resource.objects.select_related("venue").get(pk=r.pk) for r in resources}


@postgres_only
def test_a_lock_of_unchanged_known_resources_answers_the_callers_copies(setup):
    known = _known(setup.room, setup.hall)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = resources_lock_known([setup.hall.pk, setup.room.pk], setup.org, known)
    assert locked is not None and locked.keys() == known.keys()
    assert all(locked[pk] is known[pk] for pk in known)
    [query] = queries.captured_queries
    assert query["sql"].endswith("FOR UPDATE OF r")


@postgres_only
def test_a_lock_of_known_resources_refuses_copies_older_than_the_rows(setup):
    known = _known(setup.room, setup.hall)
    setup.hall.buffer_minutes = 30
    setup.hall.save()  # a change the caller's copies do not have
    with transaction.atomic():
        assert resources_lock_known([setup.room.pk, setup.hall.pk], setup.org, known) is None


@postgres_only
def test_a_lock_of_known_resources_refuses_another_organizations(setup):
    elsewhere = ResourceFactory()
    known = _known(setup.room, elsewhere)
    with transaction.atomic():
        assert resources_lock_known([setup.room.pk, elsewhere.pk], setup.org, known) is None


@postgres_only
def test_a_save_with_stale_known_resources_writes_with_the_rows_as_they_are(setup):
    """The stale copy has no buffer; the row has 30 minutes: the reservation is written with the row's."""
    known = _known(setup.room)
    Resource.objects.filter(pk=setup.room.pk).update(buffer_minutes=30, updated_at=timezone.now())
    spec = EventSpec(title="x", start=at(10), end=at(11), resource_ids=[setup.room.pk])
    with transaction.atomic():
        [event] = events_save(organization=setup.org, specs=[spec], status=EventStatus.TENTATIVE, known=known)
    [reservation] = Reservation.objects.filter(event=event)
    assert reservation.end == at(11) + timedelta(minutes=30)


# --- buffers ------------------------------------------------------------------------------------------


def test_buffer_extends_the_occupied_period(setup):
    setup.room.buffer_minutes = 15
    setup.room.save()
    first = book(setup, at(10), at(11))
    reservation = Reservation.objects.get(event=first)
    assert (reservation.start, reservation.end) == (at(10), at(11, 15))
    assert (first.start, first.end) == (at(10), at(11))  # the event keeps its own times

    with pytest.raises(BookingConflict) as caught:
        book(setup, at(11, 10), at(12))
    assert conflict_ids(caught.value) == [str(first.pk)]
    with pytest.raises(BookingConflict):
        book(setup, at(11, 14), at(12))
    book(setup, at(11, 15), at(12))
    assert overlapping_reservations(setup.room.pk) == []


def test_buffer_of_the_new_booking_counts_too(setup):
    setup.room.buffer_minutes = 15
    setup.room.save()
    book(setup, at(10), at(11))
    with pytest.raises(BookingConflict):
        book(setup, at(8, 50), at(9, 50))  # occupied until 10:05
    book(setup, at(8, 45), at(9, 45))  # occupied until exactly 10:00


def test_buffer_belongs_to_each_resource(setup):
    setup.hall.buffer_minutes = 30
    setup.hall.save()
    event = book(setup, at(10), at(11), setup.room, setup.hall)
    periods = {r.resource_id: (r.start, r.end) for r in Reservation.objects.filter(event=event)}
    assert periods == {setup.room.pk: (at(10), at(11)), setup.hall.pk: (at(10), at(11, 30))}
    book(setup, at(11), at(12), setup.room)
    with pytest.raises(BookingConflict):
        book(setup, at(11, 15), at(12), setup.hall)


def test_buffer_on_a_submission(setup):
    setup.room.buffer_minutes = 15
    setup.room.save()
    setup.submit(setup.event(at(10), at(11)))
    with pytest.raises(BookingConflict):
        setup.submit(setup.event(at(11, 10), at(12)), email="grace@example.com")
    setup.submit(setup.event(at(11, 15), at(12)), email="grace@example.com")
    assert Booking.objects.count() == 2


# --- non-exclusive capacity ---------------------------------------------------------------------------


def test_capacity_allows_overlaps_up_to_capacity(setup):
    assert setup.desks.capacity == 3 and not setup.desks.exclusive
    events = [
        book(setup, at(10), at(11), setup.desks),
        book(setup, at(10, 15), at(11), setup.desks),
        book(setup, at(10, 30), at(12), setup.desks),
    ]
    with pytest.raises(CapacityExceeded) as caught:
        book(setup, at(10, 45), at(11, 30), setup.desks)
    exc = caught.value
    assert exc.code == "CAPACITY_EXCEEDED"
    [error] = exc.errors
    assert error.code == "CAPACITY_EXCEEDED"
    assert error.meta["resourceId"] == str(setup.desks.pk)
    assert sorted(error.meta["conflictingEventIds"]) == sorted(str(e.pk) for e in events)
    assert Event.objects.count() == 3
    # The exclusive flag is copied so the database constraint ignores these overlaps.
    assert not Reservation.objects.filter(resource=setup.desks, exclusive=True).exists()


def test_capacity_counts_the_most_at_one_moment_not_all_that_touch(setup):
    # [10,11), [10:30,11:30), [11,12): never more than two at once.
    book(setup, at(10), at(11), setup.desks)
    book(setup, at(10, 30), at(11, 30), setup.desks)
    book(setup, at(11), at(12), setup.desks)
    # Overlaps all three, but joins at most two at any moment: three in use at most.
    book(setup, at(10), at(12), setup.desks)
    # Now 10:30–11:00 and 11:00–11:30 have three: a fourth there is refused...
    with pytest.raises(CapacityExceeded):
        book(setup, at(10, 45), at(11, 15), setup.desks)
    with pytest.raises(CapacityExceeded):
        book(setup, at(11, 29), at(11, 31), setup.desks)
    # ...while 10:00–10:30 has only two.
    book(setup, at(9), at(10, 30), setup.desks)
    assert Event.objects.count() == 5


def test_capacity_adjacent_bookings_do_not_count(setup):
    for _ in range(3):
        book(setup, at(10), at(11), setup.desks)
    book(setup, at(11), at(12), setup.desks)
    book(setup, at(9), at(10), setup.desks)
    with pytest.raises(CapacityExceeded):
        book(setup, at(10, 59), at(11, 1), setup.desks)


def test_capacity_one_behaves_like_a_single_slot(setup):
    single = ResourceFactory(venue=setup.venue, capacity=1, exclusive=False)
    book(setup, at(10), at(11), single)
    book(setup, at(11), at(12), single)
    with pytest.raises(CapacityExceeded):
        book(setup, at(10, 30), at(10, 45), single)


def test_capacity_with_buffer(setup):
    setup.desks.buffer_minutes = 15
    setup.desks.save()
    for _ in range(3):
        book(setup, at(10), at(11), setup.desks)
    with pytest.raises(CapacityExceeded):
        book(setup, at(11, 10), at(12), setup.desks)
    book(setup, at(11, 15), at(12), setup.desks)


def test_submissions_up_to_capacity(setup):
    for i in range(3):
        setup.submit(setup.event(at(10), at(11), resources=[setup.desks]), email=f"b{i}@example.com")
    with pytest.raises(CapacityExceeded) as caught:
        setup.submit(setup.event(at(10, 30), at(11), resources=[setup.desks]), email="b4@example.com")
    assert caught.value.errors[0].code == "CAPACITY_EXCEEDED"
    assert Booking.objects.count() == 3


# --- freeing slots ------------------------------------------------------------------------------------


def test_canceled_event_frees_its_slot(setup):
    event = book(setup, at(10), at(11), setup.room, setup.hall)
    events_set_status(events=[event], status=EventStatus.CANCELED)
    event.refresh_from_db()
    assert event.status == EventStatus.CANCELED
    assert Reservation.objects.filter(event=event).count() == 2
    assert not Reservation.objects.filter(event=event, active=True).exists()
    replacement = book(setup, at(10), at(11), setup.room, setup.hall)
    assert Reservation.objects.filter(event=replacement, active=True).count() == 2
    assert overlapping_reservations() == []


def test_canceled_tentative_hold_frees_its_slot(setup):
    hold = book(setup, at(10), at(11), status=EventStatus.TENTATIVE)
    with pytest.raises(BookingConflict):
        book(setup, at(10), at(11))  # a hold blocks like a confirmed event
    events_set_status(events=[hold], status=EventStatus.CANCELED)
    book(setup, at(10), at(11))


def test_canceled_event_frees_capacity(setup):
    events = [book(setup, at(10), at(11), setup.desks) for _ in range(3)]
    events_set_status(events=events[:1], status=EventStatus.CANCELED)
    book(setup, at(10), at(11), setup.desks)
    with pytest.raises(CapacityExceeded):
        book(setup, at(10), at(11), setup.desks)


def test_deleted_event_frees_its_slot(setup):
    event = book(setup, at(10), at(11))
    events_delete(events=[event])
    assert not Event.objects.filter(pk=event.pk).exists()
    assert not Reservation.objects.exists()
    book(setup, at(10), at(11))


def test_saving_canceled_events_skips_the_check(setup):
    book(setup, at(10), at(11))
    canceled = book(setup, at(10), at(11), status=EventStatus.CANCELED)
    assert not Reservation.objects.get(event=canceled).active
    assert overlapping_reservations() == []


# --- moving events and several specs at once -----------------------------------------------------------


def test_moving_an_event_does_not_conflict_with_itself(setup):
    event = book(setup, at(10), at(11), title="Standup")
    moved = book(setup, at(10, 30), at(11, 30), title="Standup (moved)", event=event)
    assert moved.pk == event.pk
    reservation = Reservation.objects.get(event=event)
    assert (reservation.start, reservation.end, reservation.active) == (at(10, 30), at(11, 30), True)
    event.refresh_from_db()
    assert (event.title, event.start, event.end) == ("Standup (moved)", at(10, 30), at(11, 30))
    # Its old slot is free again.
    book(setup, at(9, 30), at(10, 30))
    assert overlapping_reservations() == []


def test_moving_an_event_to_another_resource_frees_the_old_one(setup):
    event = book(setup, at(10), at(11), setup.room)
    book(setup, at(10), at(11), setup.hall, event=event)
    assert list(Reservation.objects.filter(event=event).values_list("resource_id", flat=True)) == [setup.hall.pk]
    book(setup, at(10), at(11), setup.room)


def test_moving_an_event_onto_another_conflicts_and_changes_nothing(setup):
    event = book(setup, at(10), at(11))
    other = book(setup, at(12), at(13))
    with pytest.raises(BookingConflict) as caught:
        book(setup, at(11, 30), at(12, 30), event=event)
    assert conflict_ids(caught.value) == [str(other.pk)]
    event.refresh_from_db()
    assert (event.start, event.end) == (at(10), at(11))
    assert Reservation.objects.get(event=event).start == at(10)


def test_moving_a_non_exclusive_booking_does_not_count_itself(setup):
    events = [book(setup, at(10), at(11), setup.desks) for _ in range(3)]
    book(setup, at(10, 30), at(11, 30), setup.desks, event=events[0])
    assert Reservation.objects.filter(resource=setup.desks).count() == 3


def test_specs_conflicting_with_each_other_are_refused_as_one_unit(setup):
    specs = [
        EventSpec(title="First", start=at(10), end=at(11), resource_ids=[setup.room.pk], field="events[0]"),
        EventSpec(title="Second", start=at(14), end=at(15), resource_ids=[setup.hall.pk], field="events[1]"),
        EventSpec(title="Third", start=at(10, 30), end=at(11, 30), resource_ids=[setup.room.pk], field="events[2]"),
    ]
    with pytest.raises(BookingConflict) as caught:
        events_save(organization=setup.org, specs=specs)
    [error] = caught.value.errors
    assert (error.field, error.code) == ("events[2].resourceIds", "BOOKING_CONFLICT")
    assert error.meta["conflictingEventIds"] == []  # the other time is not an event yet
    assert "another requested time" in error.message
    assert not Event.objects.exists() and not Reservation.objects.exists()


def test_specs_over_capacity_together_are_refused_as_one_unit(setup):
    book(setup, at(10), at(11), setup.desks)
    specs = [EventSpec(title=f"D{i}", start=at(10), end=at(11), resource_ids=[setup.desks.pk]) for i in range(3)]
    with pytest.raises(CapacityExceeded):
        events_save(organization=setup.org, specs=specs)
    assert Event.objects.count() == 1
    events_save(organization=setup.org, specs=specs[:2])
    assert Event.objects.count() == 3


def test_one_conflicting_spec_refuses_the_others(setup):
    taken = book(setup, at(10), at(11))
    specs = [
        EventSpec(title="Free", start=at(12), end=at(13), resource_ids=[setup.room.pk]),
        EventSpec(title="Taken", start=at(10), end=at(11), resource_ids=[setup.room.pk]),
    ]
    with pytest.raises(BookingConflict) as caught:
        events_save(organization=setup.org, specs=specs)
    assert conflict_ids(caught.value) == [str(taken.pk)]
    assert list(Event.objects.values_list("pk", flat=True)) == [taken.pk]


def test_adjacent_specs_in_one_call_are_accepted(setup):
    specs = [EventSpec(title=f"S{h}", start=at(h), end=at(h + 1), resource_ids=[setup.room.pk]) for h in (9, 10, 11)]
    events = events_save(organization=setup.org, specs=specs, status=EventStatus.TENTATIVE)
    assert [e.status for e in events] == [EventStatus.TENTATIVE] * 3
    assert Reservation.objects.filter(resource=setup.room, active=True).count() == 3


def test_moving_several_events_swaps_their_slots(setup):
    a = book(setup, at(10), at(11), title="A")
    b = book(setup, at(11), at(12), title="B")
    specs = [
        EventSpec(title="A", start=at(11), end=at(12), resource_ids=[setup.room.pk], event=a),
        EventSpec(title="B", start=at(10), end=at(11), resource_ids=[setup.room.pk], event=b),
    ]
    events_save(organization=setup.org, specs=specs)
    assert Reservation.objects.get(event=a).start == at(11)
    assert Reservation.objects.get(event=b).start == at(10)
    assert overlapping_reservations() == []


# --- the database guarantee (PostgreSQL) --------------------------------------------------------------


@postgres_only
def test_exclusion_constraint_and_btree_gist_exist(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'btree_gist'")
        assert cursor.fetchone() == (1,)
        cursor.execute(
            "SELECT c.contype, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE c.conname = 'reservation_no_overlap_exclusive' AND t.relname = 'events_reservation'"
        )
        row = cursor.fetchone()
    assert row is not None, "the exclusion constraint is missing"
    contype, definition = row
    assert contype == "x"  # EXCLUDE
    assert "gist" in definition
    assert "resource_id WITH =" in definition
    assert "tstzrange(start, \"end\", '[)'::text) WITH &&" in definition
    assert "WHERE ((active AND exclusive))" in definition


def _raw_reservation(event, resource, start, end, **kwargs):
    with transaction.atomic():
        return Reservation.objects.create(
            event=event, resource=resource, start=start, end=end, exclusive=resource.exclusive, **kwargs
        )


@postgres_only
def test_overlapping_reservation_written_directly_is_refused(setup):
    event = book(setup, at(10), at(11))
    other = EventFactory(organization=setup.org, title="Sneaky", start=at(10, 59), end=at(12))
    with pytest.raises(IntegrityError, match="reservation_no_overlap_exclusive"):
        _raw_reservation(other, setup.room, at(10, 59), at(12))
    # Adjacent, inactive, on another resource or non-exclusive: all allowed.
    _raw_reservation(other, setup.hall, at(10), at(11))
    adjacent = EventFactory(organization=setup.org, title="Next", start=at(11), end=at(12))
    _raw_reservation(adjacent, setup.room, at(11), at(12))
    canceled = EventFactory(organization=setup.org, title="Gone", start=at(10), end=at(11))
    _raw_reservation(canceled, setup.room, at(10), at(11), active=False)
    for _ in range(2):
        extra = EventFactory(organization=setup.org, title="Desk", start=at(10), end=at(11))
        _raw_reservation(extra, setup.desks, at(10), at(11))
    # Reactivating the canceled one would overlap: refused as well.
    with pytest.raises(IntegrityError), transaction.atomic():
        Reservation.objects.filter(event=canceled).update(active=True)
    assert Reservation.objects.filter(event=event).count() == 1
    assert overlapping_reservations() == []


def test_self_join_finds_no_overlaps_after_mixed_operations(setup):
    setup.room.buffer_minutes = 10
    setup.room.save()
    for hour in range(8, 18):
        for start, end, resources in [
            (at(hour, 30), at(hour + 1, 15), [setup.room]),
            (at(hour), at(hour, 20), [setup.room, setup.hall]),
        ]:
            with contextlib.suppress(BookingConflict):
                book(setup, start, end, *resources)
    first = Event.objects.order_by("start").first()
    events_set_status(events=[first], status=EventStatus.CANCELED)
    book(setup, at(8), at(8, 20))
    assert Reservation.objects.filter(resource=setup.room, active=True).count() >= 10
    assert overlapping_reservations() == []


def test_self_join_detects_overlaps(setup):
    """The check above is not vacuous: overlapping rows written past every guard are found."""
    sid = transaction.savepoint()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # rolled back with the savepoint
            cursor.execute("ALTER TABLE events_reservation DROP CONSTRAINT reservation_no_overlap_exclusive")
    a = EventFactory(organization=setup.org, title="A", start=at(10), end=at(11))
    b = EventFactory(organization=setup.org, title="B", start=at(10, 59), end=at(12))
    c = EventFactory(organization=setup.org, title="C", start=at(11), end=at(12))
    for event in (a, b, c):
        ReservationFactory(event=event, resource=setup.room)
    assert len(overlapping_reservations(setup.room.pk)) == 2  # a-b and b-c, not the adjacent a-c
    assert overlapping_reservations(setup.hall.pk) == []
    Reservation.objects.filter(event=b).update(active=False)
    assert overlapping_reservations() == []
    transaction.savepoint_rollback(sid)


def test_a_resource_that_no_longer_exists_is_a_field_error_not_a_conflict(setup):
    ghost = uuid.uuid4()
    with pytest.raises(ValidationFailed) as exc:
        events_save(
            organization=setup.org,
            specs=[
                EventSpec(
                    title="x",
                    start=future(3, 10),
                    end=future(3, 11),
                    resource_ids=[setup.room.pk, ghost],
                    field="events[0]",
                )
            ],
        )
    assert [(e.field, e.code, e.meta["resourceId"]) for e in exc.value.errors] == [
        ("events[0].resourceIds", "NOT_FOUND", str(ghost))
    ]
    assert Event.objects.count() == 0
