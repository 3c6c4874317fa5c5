"""The booking endpoints over HTTP (docs/architecture.md#http-api-conventions): exact response shapes, every
error status each endpoint can give (with the error body), tenant isolation, paging and filters, and the
query budget of the list.

This module: GET /bookings (filters, paging, query budget) and GET /bookings/{id}."""

from __future__ import annotations

import base64
import json
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.lifecycle.submit import booking_submit
from bookings.models import Booking, BookingEvent, BookingStatus
from core.api.etags import etag_of
from core.time import iso
from events.models import Event, EventStatus, Reservation
from tests.api.booking_helpers import (
    BOOKER,
    BOOKINGS,
    approved,
    bad_token_client,
    booking_url,
    check_booking,
    check_event,
    denied,
    event_of,
    outsider_client,
    pending,
    stamp,
    utc,
)
from tests.api.conftest import assert_error
from tests.conftest import future
from tests.factories import BookingModuleFactory, PortalFactory

# === GET /bookings ==================================================================================


def test_list_returns_bookings_by_id_and_associated_events_only_when_asked(api, setup):
    first = approved(setup)
    second = pending(setup, setup.event(start=future(8)))

    plain = api.viewer.get(BOOKINGS)
    assert plain.status_code == 200, plain.json()
    body = plain.json()
    assert set(body) == {"bookings", "nextCursor"}
    assert body["nextCursor"] is None
    assert list(body["bookings"]) == [str(first.pk), str(second.pk)]  # creation order
    for pk, item in body["bookings"].items():
        assert check_booking(item)["id"] == pk

    with_events = api.viewer.get(BOOKINGS, {"returnEvents": "true"}).json()
    assert set(with_events) == {"bookings", "associatedEvents", "nextCursor"}
    assert with_events["bookings"] == body["bookings"]
    events = [check_event(e) for e in with_events["associatedEvents"]]
    assert [(e["id"], e["bookingId"], e["status"]) for e in events] == [
        (str(event_of(first).pk), str(first.pk), EventStatus.CONFIRMED),
        (str(event_of(second).pk), str(second.pk), EventStatus.TENTATIVE),
    ]
    assert events[0]["start"] == body["bookings"][str(first.pk)]["events"][0]["start"]


def test_list_of_an_organization_without_bookings_is_empty(api):
    assert api.manager.get(BOOKINGS, {"returnEvents": "true"}).json() == {
        "bookings": {},
        "associatedEvents": [],
        "nextCursor": None,
    }


def _cursor(*parts) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


LIST_400 = [
    ({"status": "9"}, "status", "INVALID"),
    ({"status": "approved"}, "status", "INVALID"),
    ({"bookingModuleId": "abc"}, "bookingModuleId", "INVALID"),
    ({"portalId": "abc"}, "portalId", "INVALID"),
    ({"updatedSince": "yesterday"}, "updatedSince", "INVALID"),
    ({"start": "2026-13-40T00:00:00Z"}, "start", "INVALID"),
    ({"end": "soon"}, "end", "INVALID"),
    ({"limit": "0"}, "limit", "MIN_VALUE"),
    ({"limit": "10001"}, "limit", "MAX_VALUE"),
    ({"limit": "ten"}, "limit", "INVALID"),
    ({"returnEvents": "perhaps"}, "returnEvents", "INVALID"),
    ({"cursor": "%%%"}, "cursor", "INVALID"),
    ({"cursor": "\u00a0"}, "cursor", "INVALID"),  # white space is not trimmed away into "blank"
    ({"cursor": "ab cd"}, "cursor", "INVALID"),
    ({"cursor": "bm90IGpzb24"}, "cursor", "INVALID"),
    ({"cursor": _cursor("2026-01-01T00:00:00Z")}, "cursor", "INVALID"),
    ({"cursor": _cursor("not a time", "6f1c1f0e-8d0a-4b7e-9a55-1d2f3e4a5b6c")}, "cursor", "INVALID"),
    ({"cursor": _cursor("2026-01-01T00:00:00+00:00", "not-a-uuid")}, "cursor", "INVALID"),
    ({"cursor": _cursor(12, 34)}, "cursor", "INVALID"),
    ({"cursor": _cursor("2026-01-01T00:00:00", "6f1c1f0e-8d0a-4b7e-9a55-1d2f3e4a5b6c")}, "cursor", "INVALID"),
    ({"cursor": _cursor("9999-12-31T23:59:59-14:00", "6f1c1f0e-8d0a-4b7e-9a55-1d2f3e4a5b6c")}, "cursor", "INVALID"),
    # parse, but overflow when converted to UTC for the database: a 400, not a 500
    ({"updatedSince": "9999-12-31T23:59:59-14:00"}, "updatedSince", "INVALID"),
    ({"start": "0001-01-01T00:00:00+14:00"}, "start", "INVALID"),
    ({"end": "9999-12-31T23:59:59-14:00"}, "end", "INVALID"),
    ({"cursor": "x" * 501}, "cursor", "MAX_LENGTH"),
]


@pytest.mark.parametrize(
    ("query", "field", "code"), LIST_400, ids=[f"{next(iter(q))}-{i}" for i, (q, *_) in enumerate(LIST_400)]
)
def test_list_rejects_bad_query_parameters(api, setup, query, field, code):
    pending(setup)
    assert_error(api.manager.get(BOOKINGS, {"limit": 5, **query} if "limit" not in query else query), 400, code, field)


@pytest.mark.parametrize(
    ("client", "status", "code"),
    [
        (lambda api: api.public, 401, "NOT_AUTHENTICATED"),
        (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
        (lambda api: outsider_client(), 403, "PERMISSION_DENIED"),
    ],
    ids=["no-token", "bad-token", "member-of-nothing"],
)
def test_list_needs_a_staff_token(api, setup, client, status, code):
    pending(setup)
    assert_error(client(api).get(BOOKINGS), status, code)


def make_bookings(setup, count: int, *, status: int = BookingStatus.APPROVED, day: int = 3) -> list[Booking]:
    """`count` bookings in a few bulk inserts, each with one BookingEvent on the room and its Event."""
    base = future(day, 0).astimezone(UTC)
    existing = Booking.objects.count()
    bookings = Booking.objects.bulk_create(
        [
            Booking(
                organization=setup.org,
                module=setup.module,
                portal=setup.portal,
                status=status,
                title=f"Bulk {existing + i}",
                contact_answers={"name": "Ada", "email": BOOKER},
            )
            for i in range(count)
        ]
    )
    starts = [base + timedelta(hours=existing + i) for i in range(count)]
    events = Event.objects.bulk_create(
        [
            Event(organization=setup.org, title=b.title, start=s, end=s + timedelta(minutes=45))
            for b, s in zip(bookings, starts, strict=True)
        ]
    )
    Reservation.objects.bulk_create(
        [Reservation(event=e, resource=setup.room, start=e.start, end=e.end) for e in events]
    )
    booking_events = BookingEvent.objects.bulk_create(
        [
            BookingEvent(booking=b, title=b.title, start=e.start, end=e.end, event=e)
            for b, e in zip(bookings, events, strict=True)
        ]
    )
    through = BookingEvent.resources.through
    through.objects.bulk_create([through(bookingevent_id=be.pk, resource_id=setup.room.pk) for be in booking_events])
    return bookings


def _list_queries(client) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(BOOKINGS, {"returnEvents": "true"})
    assert response.status_code == 200
    return len(queries), response.json()


def test_list_with_events_uses_the_same_few_queries_for_5_and_200_bookings(api, setup, django_assert_num_queries):
    make_bookings(setup, 5)
    few, body = _list_queries(api.manager)
    assert (len(body["bookings"]), len(body["associatedEvents"])) == (5, 5)
    assert few <= 10, few  # the events' units and the visitors take one query each, whatever their number

    make_bookings(setup, 195)
    with django_assert_num_queries(few):
        response = api.manager.get(BOOKINGS, {"returnEvents": "true"})
    body = response.json()
    assert (len(body["bookings"]), len(body["associatedEvents"])) == (200, 200)
    assert all(check_booking(b)["events"][0]["eventId"] for b in body["bookings"].values())
    assert all(check_event(e)["resourceIds"] == [str(setup.room.pk)] for e in body["associatedEvents"])


def test_limit_and_cursor_walk_every_booking_once_in_creation_order(api, setup):
    bookings = make_bookings(setup, 8)
    moment = timezone.now() - timedelta(days=1)
    # Deliberately out of insertion order, with a tie broken by id.
    offsets = [5, 0, 3, 3, 7, 1, 6, 2]
    for booking, offset in zip(bookings, offsets, strict=True):
        Booking.objects.filter(pk=booking.pk).update(created_at=moment + timedelta(seconds=offset))
    expected = [str(pk) for pk in Booking.objects.order_by("created_at", "id").values_list("id", flat=True)]

    seen, pages, cursor = [], [], None
    while True:
        query = {"limit": 3, "returnEvents": "true", **({"cursor": cursor} if cursor else {})}
        response = api.manager.get(BOOKINGS, query)
        assert response.status_code == 200, response.json()
        page = response.json()
        pages.append(len(page["bookings"]))
        seen += list(page["bookings"])
        # The events of this page's bookings, and no others.
        assert {e["bookingId"] for e in page["associatedEvents"]} == set(page["bookings"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
    assert pages == [3, 3, 2]
    assert seen == expected
    # A page that holds exactly the rest has no next cursor (no empty last page).
    assert api.manager.get(BOOKINGS, {"limit": 8}).json()["nextCursor"] is None
    assert list(api.manager.get(BOOKINGS).json()["bookings"]) == expected  # without limit: all


def test_filters_status_module_portal_and_updated_since(api, setup):
    other_portal = PortalFactory(organization=setup.org)
    other_module = BookingModuleFactory(organization=setup.org, portals=[other_portal], offered=[setup.room])
    a = pending(setup, setup.event(start=future(7)))
    b = approved(setup, setup.event(start=future(8)))
    c = denied(setup, setup.event(start=future(9)))
    d = booking_submit(
        module=other_module,
        portal=other_portal,
        contact={"name": "Bo", "email": "b@x.org"},
        events=[setup.event(start=future(10))],
        single_event=True,
    ).booking
    old = timezone.now() - timedelta(days=10)
    Booking.objects.filter(pk__in=[a.pk, b.pk]).update(updated_at=old)
    since = old + timedelta(days=1)

    def ids(**query):
        response = api.manager.get(BOOKINGS, query)
        assert response.status_code == 200, response.json()
        return set(response.json()["bookings"])

    assert ids() == {str(x.pk) for x in (a, b, c, d)}
    assert ids(status=0) == {str(a.pk), str(d.pk)}
    assert ids(status=1) == {str(b.pk)}
    assert ids(status=2) == {str(c.pk)}
    assert ids(status=3) == set()
    assert ids(bookingModuleId=str(other_module.pk)) == {str(d.pk)}
    assert ids(bookingModuleId=str(setup.module.pk), status=0) == {str(a.pk)}
    assert ids(portalId=str(setup.portal.pk)) == {str(a.pk), str(b.pk), str(c.pk)}
    assert ids(portalId=str(other_portal.pk)) == {str(d.pk)}
    assert ids(updatedSince=utc(since)) == {str(c.pk), str(d.pk)}
    assert ids(updatedSince=iso(Booking.objects.get(pk=a.pk).updated_at)) == {str(x.pk) for x in (a, b, c, d)}


def test_start_and_end_filter_bookings_with_a_time_overlapping_the_window(api, setup):
    def at(day, hour):
        return future(day, hour)

    a = pending(setup, setup.event(start=at(1, 10), end=at(1, 11)))
    b = pending(
        setup,
        setup.event(start=at(1, 14), end=at(1, 15), resources=[setup.hall]),
        setup.event(start=at(3, 14), end=at(3, 15), resources=[setup.hall]),
    )
    c = pending(setup, setup.event(start=at(2, 9), end=at(2, 17), resources=[setup.desks]))
    names = {str(a.pk): "a", str(b.pk): "b", str(c.pk): "c"}

    def found(start=None, end=None):
        query = {k: utc(v) for k, v in (("start", start), ("end", end)) if v is not None}
        response = api.manager.get(BOOKINGS, query)
        assert response.status_code == 200, response.json()
        return {names[pk] for pk in response.json()["bookings"]}

    assert found(at(1, 10) + timedelta(minutes=30), at(1, 10) + timedelta(minutes=45)) == {"a"}
    assert found(at(1, 11)) == {"b", "c"}  # a ends exactly at the window's start: no overlap
    assert found(end=at(1, 10)) == set()  # a starts exactly at the window's end: no overlap
    assert found(end=at(1, 10) + timedelta(minutes=1)) == {"a"}
    assert found(at(1, 10) + timedelta(minutes=59), at(1, 14) + timedelta(minutes=1)) == {"a", "b"}
    # b has a time ending after the start and another starting before the end, but none inside.
    assert found(at(2, 0), at(3, 0)) == {"c"}
    assert found(at(3, 14), at(3, 15)) == {"b"}
    assert found(at(4, 0)) == set()


# === GET /bookings/{id} =============================================================================


def test_retrieve_returns_the_booking_with_its_etag(api, setup):
    booking = approved(setup)
    response = api.viewer.get(booking_url(booking.pk))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"booking"}
    item = check_booking(body["booking"])
    assert (item["id"], item["status"], item["events"][0]["eventId"]) == (str(booking.pk), 1, str(event_of(booking).pk))
    assert response["ETag"] == etag_of(Booking.objects.get(pk=booking.pk))
    assert item["lastUpdatedAt"] == stamp(booking)


@pytest.mark.parametrize(
    ("client", "status", "code"),
    [
        (lambda api: api.public, 401, "NOT_AUTHENTICATED"),
        (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
        (lambda api: outsider_client(), 403, "PERMISSION_DENIED"),
    ],
    ids=["no-token", "bad-token", "member-of-nothing"],
)
def test_retrieve_needs_a_staff_token(api, setup, client, status, code):
    assert_error(client(api).get(booking_url(pending(setup).pk)), status, code)


def test_retrieve_of_an_unknown_id_is_a_404(api, setup):
    pending(setup)
    assert_error(api.manager.get(booking_url("3f2b8c1e-5d4a-4e6f-8a9b-0c1d2e3f4a5b")), 404, "NOT_FOUND")
