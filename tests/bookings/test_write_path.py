"""The submit's optimistic hold (docs/adr/0021-the-write-path.md): on PostgreSQL a hold on an exclusive
resource is checked by the exclusion constraint at its insert, and the booker still gets the error the check
before the insert gives on SQLite: which time, which resource, which event is in the way; nothing is left."""

from __future__ import annotations

import pytest
from django.db import connection

from bookings.models import Booking, Contact
from core.errors import BookingConflict
from events.services.scheduling import ConflictAtInsert


def test_a_hold_refused_by_the_constraint_is_described_as_the_check_would(setup):
    first = setup.submit(setup.event())

    with pytest.raises(BookingConflict) as caught:
        setup.submit(setup.event(), email="grace@example.com")

    [error] = caught.value.errors
    assert (error.field, error.code) == ("event.resourceIds", "BOOKING_CONFLICT")
    assert error.meta == {"resourceId": str(setup.room.pk), "conflictingEventIds": [str(first.events[0].pk)]}
    assert "Team meeting" in error.message
    # Found by the insert on PostgreSQL (and described after the rollback), by the read before it on SQLite.
    assert isinstance(caught.value.__cause__, ConflictAtInsert) == (connection.vendor == "postgresql")
    assert Booking.objects.count() == 1
    assert not Contact.objects.filter(email="grace@example.com").exists()


def test_two_times_of_one_request_on_one_room_are_refused_before_any_insert(setup):
    with pytest.raises(BookingConflict) as caught:
        setup.submit(setup.event(), setup.event(title="Again"))
    assert [(e.field, e.code) for e in caught.value.errors] == [("events[1].resourceIds", "BOOKING_CONFLICT")]
    assert caught.value.__cause__ is None
    assert Booking.objects.count() == 0
