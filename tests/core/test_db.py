"""core.db: in_values selects the same rows as `__in` over the same list (one array parameter on PostgreSQL,
an IN list elsewhere), nothing for an empty list; timestamp_text and timestamp_from_text read back the
instant Django reads."""

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.db import in_values, timestamp_from_text, timestamp_text
from core.time import iso
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


def test_timestamp_text_reads_back_the_instant_django_reads(db):
    """With and without microseconds (PostgreSQL trims their trailing zeros, Python's isoformat does not),
    and in an hour that is not UTC's: the same aware datetime as the column's own conversion."""
    starts = [
        datetime(2027, 3, 28, 0, 30, tzinfo=ZoneInfo("Europe/London")),
        datetime(2027, 3, 28, 2, 30, 0, 180000, tzinfo=ZoneInfo("Europe/London")),
        datetime(2027, 1, 1, 23, 59, 59, 999999, tzinfo=ZoneInfo("America/New_York")),
    ]
    events = [EventFactory(start=s, end=s + timedelta(hours=1)) for s in starts]
    rows = Event.objects.filter(pk__in=[e.pk for e in events]).values(
        "start", "created_at", text=timestamp_text("start")
    )
    for row in rows:
        assert timestamp_from_text(row["text"]) == row["start"]
        assert timestamp_from_text(row["text"]).utcoffset() == timedelta(0)
        assert iso(timestamp_from_text(row["text"])) == iso(row["start"])
    assert sorted(iso(r["start"]) for r in rows) == sorted(iso(s) for s in starts)
