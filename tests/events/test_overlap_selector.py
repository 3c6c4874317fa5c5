"""`reservations_overlapping`: the one read behind every conflict check and availability answer. Its rows
are exactly those sharing a moment with the window (half-open on both sides), and on PostgreSQL it reads them
through the GiST span index, so later reservations of the same resource are never scanned."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from events.selectors import reservations_overlapping
from tests.conftest import postgres_only
from tests.factories import EventFactory, ReservationFactory, ResourceFactory

pytestmark = pytest.mark.django_db


def _reserve(resource, start, end, *, active=True):
    event = EventFactory(organization=resource.venue.organization, start=start, end=end)
    return ReservationFactory(event=event, resource=resource, active=active)


@pytest.fixture
def room():
    # Shared, so that overlapping rows can exist side by side (an exclusive one's constraint forbids them).
    return ResourceFactory(exclusive=False, capacity=10)


def test_rows_are_exactly_the_overlapping_active_ones(room):
    t0 = timezone.now().replace(microsecond=0) + timedelta(days=3)
    hour = timedelta(hours=1)
    inside = _reserve(room, t0 + hour, t0 + 2 * hour)
    across_start = _reserve(room, t0 - hour, t0 + timedelta(minutes=30))
    across_end = _reserve(room, t0 + 3 * hour, t0 + 5 * hour)
    _reserve(room, t0 - 2 * hour, t0)  # ends as the window starts: [a, b) and [b, c) share no moment
    _reserve(room, t0 + 4 * hour, t0 + 6 * hour, active=False)
    _reserve(room, t0 + 4 * hour + timedelta(days=30), t0 + 5 * hour + timedelta(days=30))
    _reserve(ResourceFactory(venue=room.venue), t0 + hour, t0 + 2 * hour)  # another room

    found = reservations_overlapping(resource_ids=[room.pk], start=t0, end=t0 + 4 * hour)

    assert {r.pk for r in found} == {inside.pk, across_start.pk, across_end.pk}


def test_a_window_ending_where_a_reservation_starts_does_not_see_it(room):
    t0 = timezone.now().replace(microsecond=0) + timedelta(days=3)
    _reserve(room, t0, t0 + timedelta(hours=1))
    assert not reservations_overlapping(resource_ids=[room.pk], start=t0 - timedelta(hours=1), end=t0).exists()


@postgres_only
def test_postgresql_reads_overlaps_through_the_span_index(room):
    t0 = timezone.now() + timedelta(days=3)
    query = reservations_overlapping(resource_ids=[room.pk], start=t0, end=t0 + timedelta(days=31)).query
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        # A tiny table would be read sequentially; forbid that to see whether the index can answer at all
        # (its expression must match the query's exactly).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "reservation_active_span" in plan, plan
