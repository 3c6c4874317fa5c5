"""core.db.in_values: the same rows as `__in` over the same list (one array parameter on PostgreSQL, an IN
list elsewhere), for foreign keys and primary keys, and nothing for an empty list."""

import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.db import in_values
from events.models import Event, Reservation
from tests.factories import EventFactory, ReservationFactory


def test_in_values_selects_the_rows_in_selects(db):
    events = [ReservationFactory().event for _ in range(5)]  # each on a room of its own
    chosen = [events[0].pk, events[3].pk, uuid.uuid4()]  # an id of nothing selects nothing

    by_fk = Reservation.objects.filter(in_values("event_id", chosen)).values_list("event_id", flat=True)
    assert sorted(by_fk) == sorted(Reservation.objects.filter(event_id__in=chosen).values_list("event_id", flat=True))
    assert sorted(by_fk) == sorted([events[0].pk, events[3].pk])
    by_pk = Event.objects.filter(in_values("id", [str(events[1].pk)]))  # a string id too, as `__in` takes it
    assert list(by_pk) == [events[1]]


def test_in_values_with_an_empty_list_selects_nothing(db):
    EventFactory()
    assert list(Event.objects.filter(in_values("id", []))) == []


def test_in_values_sends_one_parameter_on_postgresql(db):
    events = [EventFactory() for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        assert len(Event.objects.filter(in_values("id", [e.pk for e in events]))) == 3
    sql = queries.captured_queries[0]["sql"]
    if connection.vendor == "postgresql":
        assert "unnest" in sql and sql.count(events[0].pk.hex) == 1 and "::uuid[]" in sql
    else:
        assert sql.count(" IN (") == 1
