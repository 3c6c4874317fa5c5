"""Units of a resource (docs/architecture.md#units): named desks of a hot-desk area. A named unit is exclusive (no two
active bookings of one unit overlap: the services under the resource lock, and PostgreSQL's exclusion constraint); the
resource's capacity holds counting all its reservations, with or without a unit; a request without a unit gets the first
free one (lowest order) when its reservation is written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking, BookingStatus
from core.errors import BookingConflict, CapacityExceeded, ValidationFailed
from events.models import Event, EventStatus, Reservation
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from events.services.single import event_update
from events.services.status import events_set_status
from resources.models import ResourceUnit
from tests.api.conftest import Api, assert_error
from tests.conftest import Setup, future, postgres_only, race
from tests.factories import EventFactory, ReservationFactory, ResourceFactory, ResourceUnitFactory

from .test_concurrency import split


def at(hour: int, minute: int = 0):
    return future(days=8, hour=hour, minute=minute)


class Desks:
    """A hot-desk area of Setup's venue with three desks (assigned in `order`, not by name) and capacity 3."""

    def __init__(self, setup: Setup, capacity: int = 3):
        self.setup = setup
        self.area = ResourceFactory(
            venue=setup.venue, name="Hot desks", capacity=capacity, exclusive=False, requires_approval=False
        )
        setup.module.resources.add(self.area)
        self.c = ResourceUnitFactory(resource=self.area, name="Desk C", order=0)
        self.a = ResourceUnitFactory(resource=self.area, name="Desk A", order=1)
        self.b = ResourceUnitFactory(resource=self.area, name="Desk B", order=2)

    def book(self, start, end, unit=None, title="Desk", status=EventStatus.CONFIRMED, event=None) -> Event:
        spec = EventSpec(
            title=title,
            start=start,
            end=end,
            resource_ids=[self.area.pk],
            unit_id=unit.pk if unit else None,
            event=event,
        )
        return events_save(organization=self.setup.org, specs=[spec], status=status)[0]


def unit_of(event: Event):
    return Reservation.objects.get(event=event).unit


@pytest.fixture
def desks(setup) -> Desks:
    return Desks(setup)


# --- the services ---------------------------------------------------------------------------------------


def test_two_overlapping_bookings_of_one_desk_conflict(desks):
    first = desks.book(at(9), at(12), desks.a, title="Morning")
    with pytest.raises(BookingConflict) as caught:
        desks.book(at(11), at(13), desks.a)
    [error] = caught.value.errors
    assert (error.field, error.code) == ("event.unitId", "BOOKING_CONFLICT")
    assert error.meta["conflictingEventIds"] == [str(first.pk)]
    assert error.meta["unitId"] == str(desks.a.pk)
    assert "Desk A" in error.message and "Morning" in error.message
    assert Reservation.objects.filter(unit=desks.a, active=True).count() == 1


def test_two_overlapping_bookings_of_two_desks_do_not_conflict(desks):
    one = desks.book(at(9), at(12), desks.a)
    two = desks.book(at(9), at(12), desks.b)
    assert (unit_of(one), unit_of(two)) == (desks.a, desks.b)


def test_back_to_back_bookings_of_one_desk_do_not_conflict(desks):
    desks.book(at(9), at(10), desks.a)
    assert unit_of(desks.book(at(10), at(11), desks.a)) == desks.a


def test_a_canceled_booking_frees_its_desk(desks):
    first = desks.book(at(9), at(10), desks.a)
    events_set_status(events=[first], status=EventStatus.CANCELED)
    assert unit_of(desks.book(at(9), at(10), desks.a)) == desks.a


def test_without_a_unit_the_first_free_by_order_is_assigned(desks):
    assert unit_of(desks.book(at(9), at(10))) == desks.c  # order 0, although "Desk A" sorts first by name
    desks.book(at(9), at(10), desks.b)
    assert unit_of(desks.book(at(9), at(10))) == desks.a
    # At another time every desk is free again.
    assert unit_of(desks.book(at(14), at(15))) == desks.c


def test_assignment_fails_clearly_when_no_desk_is_free(desks):
    held = [desks.book(at(9), at(10)) for _ in range(3)]
    assert {unit_of(e) for e in held} == {desks.a, desks.b, desks.c}
    with pytest.raises(CapacityExceeded) as caught:
        desks.book(at(9, 30), at(10, 30))
    [error] = caught.value.errors
    assert (error.field, error.code) == ("event.resourceIds", "CAPACITY_EXCEEDED")
    assert sorted(error.meta["conflictingEventIds"]) == sorted(str(e.pk) for e in held)


def test_capacity_counts_reservations_with_and_without_unit(setup):
    desks = Desks(setup, capacity=2)  # three desks, but only two people at a time
    # A reservation from before the resource had units (no unit), and one with a unit.
    legacy = EventFactory(organization=setup.org, title="Legacy", start=at(9), end=at(12))
    ReservationFactory(event=legacy, resource=desks.area)
    desks.book(at(9), at(12), desks.a)
    with pytest.raises(CapacityExceeded) as caught:
        desks.book(at(10), at(11), desks.b)  # Desk B is free, the area is not
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.resourceIds", "CAPACITY_EXCEEDED")]
    assert unit_of(desks.book(at(12), at(13), desks.b)) == desks.b


def test_capacity_is_at_most_the_number_of_active_units(setup):
    desks = Desks(setup, capacity=10)
    desks.b.archived = True
    desks.b.save()
    desks.book(at(9), at(10))
    desks.book(at(9), at(10))
    with pytest.raises(CapacityExceeded):
        desks.book(at(9), at(10))
    assert set(Reservation.objects.values_list("unit", flat=True)) == {desks.c.pk, desks.a.pk}


def test_one_request_with_two_times_on_one_desk_conflicts_with_itself(desks):
    specs = [
        EventSpec(
            title="x", start=at(9), end=at(11), resource_ids=[desks.area.pk], unit_id=desks.a.pk, field=f"events[{i}]"
        )
        for i in range(2)
    ]
    with pytest.raises(BookingConflict) as caught:
        events_save(organization=desks.setup.org, specs=specs)
    assert [e.field for e in caught.value.errors] == ["events[1].unitId"]
    assert Event.objects.count() == 0


@pytest.mark.parametrize("which", ["other_resource", "archived", "unknown"])
def test_a_unit_that_is_not_an_active_unit_of_the_resources_is_refused(desks, which):
    other_area = ResourceFactory(venue=desks.setup.venue, name="Quiet desks", capacity=2, exclusive=False)
    unit = {
        "other_resource": ResourceUnitFactory(resource=other_area, name="Q1"),
        "archived": ResourceUnitFactory(resource=desks.area, name="Old", archived=True),
        "unknown": ResourceUnit(name="never saved"),
    }[which]
    spec = EventSpec(title="x", start=at(9), end=at(10), resource_ids=[desks.area.pk], unit_id=unit.pk)
    with pytest.raises(ValidationFailed) as caught:
        events_save(organization=desks.setup.org, specs=[spec])
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.unitId", "INVALID_UNIT")]


def test_moving_an_event_keeps_its_desk_when_free(desks):
    event = desks.book(at(9), at(10))
    assert unit_of(event) == desks.c
    desks.book(at(11), at(12), desks.c)
    moved = event_update(event=event, start=at(13), end=at(14))
    assert unit_of(moved) == desks.c
    # Into a time where its desk is taken: another desk.
    moved = event_update(event=event, start=at(11), end=at(12))
    assert unit_of(moved) == desks.a


def test_events_api_shows_the_units(desks):
    from events.selectors import events_payload

    event = desks.book(at(9), at(10), desks.b)
    [row] = events_payload(Event.objects.filter(pk=event.pk))
    assert row["units"] == [{"resourceId": str(desks.area.pk), "unitId": str(desks.b.pk), "name": "Desk B"}]


# --- through the bookings -------------------------------------------------------------------------------


def desk_event(desks: Desks, start, end, unit=None, **kwargs) -> dict:
    event = desks.setup.event(start, end, resources=[desks.area], **kwargs)
    if unit is not None:
        event["unitId"] = str(unit.pk)
    return event


def test_a_request_for_a_desk_held_by_another_request_conflicts(desks):
    first = desks.setup.submit(desk_event(desks, at(9), at(12), desks.a))
    assert unit_of(first.events[0]) == desks.a
    assert first.booking.requested_times.get().unit == desks.a
    with pytest.raises(BookingConflict) as caught:
        desks.setup.submit(desk_event(desks, at(10), at(11), desks.a), email="grace@example.com")
    assert [(e.field, e.code) for e in caught.value.errors] == [("event.unitId", "BOOKING_CONFLICT")]
    assert desks.setup.submit(desk_event(desks, at(10), at(11), desks.b), email="grace@example.com")


def test_approval_assigns_a_free_desk_when_none_was_asked_for(setup_no_hold):
    desks = Desks(setup_no_hold)
    taken = desks.book(at(9), at(10))  # Desk C
    result = desks.setup.submit(desk_event(desks, at(9), at(10)))
    assert result.events == [] and result.booking.requested_times.get().unit is None
    approved = booking_approve(booking_id=result.booking.pk, actor=desks.setup.staff, client_last_updated_at=None)
    assert unit_of(taken) == desks.c and unit_of(approved.events[0]) == desks.a


def test_approval_keeps_the_held_desk(desks):
    result = desks.setup.submit(desk_event(desks, at(9), at(10)))
    held = unit_of(result.events[0])
    approved = booking_approve(booking_id=result.booking.pk, actor=desks.setup.staff, client_last_updated_at=None)
    assert approved.events[0].pk == result.events[0].pk
    assert unit_of(approved.events[0]) == held


def test_approval_with_other_resources_drops_the_requested_unit(desks):
    result = desks.setup.submit(desk_event(desks, at(9), at(10), desks.a))
    approved = booking_approve(
        booking_id=result.booking.pk,
        actor=desks.setup.staff,
        client_last_updated_at=None,
        event_edits=[{"resourceIds": [str(desks.setup.room.pk)]}],
    )
    be = approved.booking.requested_times.get()
    assert be.unit is None and [r.pk for r in be.resources.all()] == [desks.setup.room.pk]
    assert Reservation.objects.get(event=approved.events[0]).unit is None


# --- the API --------------------------------------------------------------------------------------------


def submit_body(desks: Desks, *events) -> dict:
    setup = desks.setup
    return {
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "contact": {"name": "Ada", "email": "ada@example.com"},
        "events": list(events),
    }


def test_api_two_requests_for_one_desk_conflict_and_two_desks_do_not(desks):
    api = Api(desks.setup)
    first = api.public.post(
        "/api/v1/bookings/submit", submit_body(desks, desk_event(desks, at(9), at(12), desks.a)), format="json"
    )
    assert first.status_code == 201, first.json()
    [be] = first.json()["booking"]["events"]
    assert be["unitId"] == str(desks.a.pk)
    assert be["units"] == [{"resourceId": str(desks.area.pk), "unitId": str(desks.a.pk), "name": "Desk A"}]

    clash = api.public.post(
        "/api/v1/bookings/submit", submit_body(desks, desk_event(desks, at(10), at(11), desks.a)), format="json"
    )
    body = assert_error(clash, 409, "BOOKING_CONFLICT", "events[0].unitId")
    assert "conflictingEventIds" not in body["errors"][0].get("meta", {})  # the public never sees the other
    other = api.public.post(
        "/api/v1/bookings/submit", submit_body(desks, desk_event(desks, at(10), at(11), desks.b)), format="json"
    )
    assert other.status_code == 201


def test_validate_judges_desks_as_the_submit_does(desks):
    api = Api(desks.setup)
    taken = api.public.post(
        "/api/v1/bookings/submit", submit_body(desks, desk_event(desks, at(9), at(12), desks.a)), format="json"
    )
    assert taken.status_code == 201, taken.json()

    def check(unit):
        response = api.public.post(
            "/api/v1/bookings/validate", submit_body(desks, desk_event(desks, at(10), at(11), unit)), format="json"
        )
        assert response.status_code == 200, response.json()
        return response.json()

    clash = check(desks.a)
    assert not clash["valid"]
    assert [(e["field"], e["code"]) for e in clash["errors"]] == [("events[0].unitId", "BOOKING_CONFLICT")]
    assert check(desks.b)["valid"]
    assert check(None)["valid"]  # another desk is free


def test_api_refuses_a_unit_of_another_resource(desks):
    api = Api(desks.setup)
    stranger = ResourceUnitFactory(
        resource=ResourceFactory(venue=desks.setup.venue, name="Elsewhere", exclusive=False, capacity=2), name="X"
    )
    # 12 is not even a string (the schema's type): INVALID before the unit is looked for.
    for value, code in ((str(stranger.pk), "INVALID_UNIT"), ("not-a-uuid", "INVALID_UNIT"), (12, "INVALID")):
        response = api.public.post(
            "/api/v1/bookings/submit",
            submit_body(desks, {**desk_event(desks, at(9), at(10)), "unitId": value}),
            format="json",
        )
        assert_error(response, 400, code, "events[0].unitId")
    assert Booking.objects.count() == 0


def test_api_resources_events_and_public_module_show_units(desks):
    api = Api(desks.setup)
    desks.b.archived = True
    desks.b.save()
    resource = api.viewer.get(f"/api/v1/resources/{desks.area.pk}").json()
    assert [(u["name"], u["order"], u["archived"]) for u in resource["units"]] == [
        ("Desk C", 0, False),
        ("Desk A", 1, False),
        ("Desk B", 2, True),
    ]
    event = desks.book(at(9), at(10))
    shown = api.viewer.get(f"/api/v1/events/{event.pk}").json()
    assert shown["units"] == [{"resourceId": str(desks.area.pk), "unitId": str(desks.c.pk), "name": "Desk C"}]
    public = api.public.get(f"/api/v1/public/booking-modules/{desks.setup.module.pk}").json()
    [area] = [r for r in public["resources"] if r["id"] == str(desks.area.pk)]
    assert sorted(u["name"] for u in area["units"]) == ["Desk A", "Desk C"]  # never the archived one


# --- PostgreSQL: concurrency and the constraint itself ---------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_for_one_desk_exactly_one_wins():
    setup = Setup(hold=False)  # pending requests hold nothing: the approvals race for the desk
    desks = Desks(setup)
    bookings = [
        setup.submit(desk_event(desks, at(9), at(10), desks.a), email=f"b{i}@example.com").booking for i in range(6)
    ]
    results = race(
        len(bookings),
        lambda i: booking_approve(booking_id=bookings[i].pk, actor=setup.staff, client_last_updated_at=None),
    )
    wins, errors = split(results, BookingConflict)
    assert len(wins) == 1 and len(errors) == 5
    assert all(e.errors[0].field == "event.unitId" for e in errors)
    assert Reservation.objects.filter(unit=desks.a, active=True).count() == 1
    assert Booking.objects.filter(status=BookingStatus.APPROVED).count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_unit_less_approvals_fill_every_desk_once():
    setup = Setup(hold=False)
    desks = Desks(setup)
    bookings = [setup.submit(desk_event(desks, at(9), at(10)), email=f"b{i}@example.com").booking for i in range(5)]
    results = race(
        len(bookings),
        lambda i: booking_approve(booking_id=bookings[i].pk, actor=setup.staff, client_last_updated_at=None),
    )
    wins, errors = split(results, CapacityExceeded)
    assert len(wins) == 3 and len(errors) == 2
    assert sorted(Reservation.objects.filter(active=True).values_list("unit__name", flat=True)) == [
        "Desk A",
        "Desk B",
        "Desk C",
    ]


@postgres_only
def test_the_exclusion_constraint_rejects_a_raw_overlapping_insert(desks):
    first = desks.book(at(9), at(12), desks.a)
    other = EventFactory(organization=desks.setup.org, title="Sneaky", start=at(10), end=at(11))
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Reservation.objects.create(
            event=other, resource=desks.area, unit=desks.a, start=at(10), end=at(11), exclusive=False
        )
    assert "reservation_no_overlap_unit" in str(caught.value)
    # Another desk, or the same desk once the first is canceled, is accepted by the database too.
    Reservation.objects.create(
        event=other, resource=desks.area, unit=desks.b, start=at(10), end=at(11), exclusive=False
    )
    events_set_status(events=[first], status=EventStatus.CANCELED)
    later = EventFactory(organization=desks.setup.org, title="Later", start=at(10), end=at(11))
    Reservation.objects.create(
        event=later, resource=desks.area, unit=desks.a, start=at(10), end=at(11), exclusive=False
    )
    assert connection.vendor == "postgresql"


def test_adjacent_times_with_buffer_conflict_on_the_desk(setup):
    desks = Desks(setup)
    desks.area.buffer_minutes = 30
    desks.area.save()
    desks.book(at(9), at(10), desks.a)
    with pytest.raises(BookingConflict):
        desks.book(at(10), at(11) + timedelta(minutes=0), desks.a)
    assert unit_of(desks.book(at(10, 30), at(11), desks.a)) == desks.a
