"""The helpers of the booking endpoint tests (tests/api/test_bookings_*.py), shared with
test_change_requests.py, test_journey.py, tests/http and tests/notifications: the wire shapes, urls and
bodies, service shortcuts that set up state, and the role table of the staff-only decisions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny
from bookings.models import Booking, BookingEvent, BookingStatus
from core.time import iso
from events.models import Event, EventStatus
from tests.api.conftest import bearer_client
from tests.conftest import LONDON
from tests.factories import UserFactory

# --- wire shapes ----------------------------------------------------------------------------------

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
LOCAL_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$")

BOOKING_KEYS = frozenset(
    {
        "id",
        "orgId",
        "bookingModuleId",
        "portalId",
        "customerId",
        "contactId",
        "status",
        "submission",
        "title",
        "contact",
        "events",
        "repeat",
        "requestNote",
        "createdAt",
        "lastUpdatedAt",
        "discountCode",
        "doNotUseBookingCredit",
        "invoiceThisContact",
        "purchaseOrder",
        "priceTotal",
        "visitors",  # docs/architecture.md#visitors
    }
)
STAFF_BOOKING_KEYS = BOOKING_KEYS | {"internalNotes"}
BOOKING_EVENT_KEYS = frozenset(
    {
        "id",
        "title",
        "start",
        "end",
        "resourceIds",
        "attendees",
        "answers",
        "eventId",
        "startLocal",
        "endLocal",
        "timezone",
        "repeat",
        "occurrence",
        "rateId",
        "products",
        "overridePrice",
        "price",
        "unitId",
        "units",  # docs/architecture.md#units
    }
)
EVENT_KEYS = frozenset(
    {
        "id",
        "orgId",
        "title",
        "description",
        "start",
        "end",
        "status",
        "resourceIds",
        "bookingId",
        "seriesId",
        "createdAt",
        "lastUpdatedAt",
        "startLocal",
        "endLocal",
        "timezone",
        "price",
        "units",  # docs/architecture.md#units
    }
)
CHANGE_REQUEST_KEYS = frozenset({"id", "bookingId", "cancellation", "contact", "events", "requestNote", "createdAt"})


def is_uuid(value) -> bool:
    return isinstance(value, str) and bool(UUID_RE.match(value))


def is_utc(value) -> bool:
    return isinstance(value, str) and bool(UTC_RE.match(value))


def utc(moment: datetime) -> str:
    """The wire form of a datetime: UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local(moment: datetime, tz: ZoneInfo = LONDON) -> str:
    return moment.astimezone(tz).replace(tzinfo=None).isoformat()


def _check_local_times(item: dict) -> None:
    assert item["timezone"] == "Europe/London", item
    tz = ZoneInfo(item["timezone"])
    for key in ("start", "end"):
        assert is_utc(item[key]), item
        assert LOCAL_RE.match(item[f"{key}Local"]), item
        moment = datetime.fromisoformat(item[key].replace("Z", "+00:00"))
        assert item[f"{key}Local"] == local(moment, tz), item


def check_booking_event(item: dict) -> dict:
    assert set(item) == BOOKING_EVENT_KEYS, sorted(item)
    assert is_uuid(item["id"])
    assert isinstance(item["title"], str) and item["title"]
    assert isinstance(item["resourceIds"], list) and item["resourceIds"]
    assert all(is_uuid(r) for r in item["resourceIds"])
    assert item["attendees"] is None or type(item["attendees"]) is int
    assert isinstance(item["answers"], dict)
    assert item["eventId"] is None or is_uuid(item["eventId"])
    _check_local_times(item)
    return item


def check_booking(item: dict, *, staff: bool = True) -> dict:
    """The Booking representation (docs/architecture.md#http-api-conventions), exactly: camelCase keys, UUIDs, integer
    status, UTC Z datetimes."""
    assert set(item) == (STAFF_BOOKING_KEYS if staff else BOOKING_KEYS), sorted(item)
    for key in ("id", "orgId", "bookingModuleId"):
        assert is_uuid(item[key]), (key, item[key])
    for key in ("portalId", "customerId", "contactId"):
        assert item[key] is None or is_uuid(item[key]), (key, item[key])
    assert type(item["status"]) is int and item["status"] in BookingStatus.values
    assert type(item["submission"]) is bool
    assert isinstance(item["title"], str) and item["title"]
    assert isinstance(item["contact"], dict)
    assert isinstance(item["requestNote"], str)
    assert is_utc(item["createdAt"]) and is_utc(item["lastUpdatedAt"])
    if staff:
        assert isinstance(item["internalNotes"], str)
    assert isinstance(item["events"], list) and item["events"]
    for event in item["events"]:
        check_booking_event(event)
    return item


def check_event(item: dict) -> dict:
    """The Event representation (docs/architecture.md#http-api-conventions)."""
    assert set(item) == EVENT_KEYS, sorted(item)
    for key in ("id", "orgId"):
        assert is_uuid(item[key])
    assert isinstance(item["title"], str) and isinstance(item["description"], str)
    assert type(item["status"]) is int and item["status"] in EventStatus.values
    assert isinstance(item["resourceIds"], list) and all(is_uuid(r) for r in item["resourceIds"])
    assert item["bookingId"] is None or is_uuid(item["bookingId"])
    assert item["seriesId"] is None or is_uuid(item["seriesId"])
    assert is_utc(item["createdAt"]) and is_utc(item["lastUpdatedAt"])
    _check_local_times(item)
    return item


def check_change_request(item: dict) -> dict:
    assert set(item) == CHANGE_REQUEST_KEYS, sorted(item)
    assert is_uuid(item["id"]) and is_uuid(item["bookingId"])
    assert type(item["cancellation"]) is bool
    assert isinstance(item["contact"], dict)
    assert isinstance(item["events"], list)
    for change in item["events"]:
        assert is_uuid(change["bookingEventId"])
    assert isinstance(item["requestNote"], str)
    assert is_utc(item["createdAt"])
    return item


# --- urls and bodies ------------------------------------------------------------------------------

SUBMIT = "/api/v1/bookings/submit"
CR_SUBMIT = "/api/v1/bookings/change-requests/submit"
BOOKINGS = "/api/v1/bookings"
CHANGE_REQUESTS = "/api/v1/booking-change-requests"
BOOKER = "ada@example.com"


def booking_url(pk, action: str = "") -> str:
    return f"{BOOKINGS}/{pk}" + (f"/{action}" if action else "")


def change_request_url(pk, action: str = "") -> str:
    return f"{CHANGE_REQUESTS}/{pk}" + (f"/{action}" if action else "")


def post(client, url: str, data=None, **extra):
    return client.post(url, data if data is not None else {}, format="json", **extra)


def submit_body(setup, *events, single: bool | None = None, **extra) -> dict:
    """A valid public submission for setup's module and portal (one `event` unless told otherwise)."""
    events = list(events) or [setup.event()]
    body = {
        "submission": True,
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "contact": {"name": "Ada Lovelace", "email": BOOKER},
    }
    if single if single is not None else len(events) == 1:
        body["event"] = events[0]
    else:
        body["events"] = events
    body.update(extra)
    return body


def stamp(booking) -> str:
    """The booking's lastUpdatedAt as a client that just read it would send it back."""
    return iso(Booking.objects.get(pk=booking.pk).updated_at)


# --- service shortcuts (state set-up, not the code under test) -------------------------------------


def pending(setup, *events, **kwargs) -> Booking:
    return setup.submit(*events, **kwargs).booking


def approved(setup, *events, **kwargs) -> Booking:
    booking = pending(setup, *events, **kwargs)
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    booking.refresh_from_db()
    return booking


def denied(setup, *events) -> Booking:
    booking = pending(setup, *events)
    booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    booking.refresh_from_db()
    return booking


def canceled(setup, *events) -> Booking:
    booking = approved(setup, *events)
    booking_cancel(booking_id=booking.pk, actor=setup.staff, event_procedure=0)
    booking.refresh_from_db()
    return booking


def in_status(setup, status: int, *events) -> Booking:
    return {0: pending, 1: approved, 2: denied, 3: canceled}[status](setup, *events)


def event_of(booking) -> Event | None:
    be = BookingEvent.objects.select_related("event").get(booking=booking)
    return be.event


def bad_token_client():
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer allot_this-is-not-a-token")
    return client


def outsider_client():
    """Signed in with a valid token, but a member of no organization."""
    return bearer_client(UserFactory())


def create_body(setup, status: int | None = None, *events, **extra) -> dict:
    body = submit_body(setup, *events, **extra)
    body.pop("submission")
    if status is not None:
        body["bookingStatus"] = status
    return body


ROLE_ERRORS = [
    (lambda api: api.public, 401, "NOT_AUTHENTICATED"),
    (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
    (lambda api: api.viewer, 403, "PERMISSION_DENIED"),
    (lambda api: outsider_client(), 403, "PERMISSION_DENIED"),
]
ROLE_IDS = ["no-token", "bad-token", "viewer", "member-of-nothing"]
