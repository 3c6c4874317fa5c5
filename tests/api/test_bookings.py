"""The booking endpoints over HTTP (docs/architecture.md#http-api-conventions): exact response shapes, every error
status each endpoint can give (with the API's error body), tenant isolation, paging and filters, and the query budget of
the list.

The helpers at the top (shapes, bodies, service shortcuts) are shared with test_change_requests.py and
test_journey.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny, booking_update
from bookings.lifecycle.submit import booking_submit
from bookings.models import Booking, BookingEvent, BookingStatus, FieldType, FormSection, PortalStatus
from core.actor import Actor
from core.api.etags import etag_of
from core.html import sanitize_html
from core.throttles import PublicSubmitThrottle
from core.time import iso
from events.models import Event, EventStatus, Reservation
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from resources.models import Role
from tests.api.conftest import Api, assert_error, bearer_client
from tests.conftest import LONDON, future
from tests.factories import (
    BookingModuleFactory,
    ContactFactory,
    CustomerFactory,
    FormFieldFactory,
    PortalFactory,
    UserFactory,
)

# --- wire shapes ----------------------------------------------------------------------------------

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
LOCAL_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?$")

BOOKING_KEYS = frozenset({
    "id", "orgId", "bookingModuleId", "portalId", "customerId", "contactId", "status", "submission", "title",
    "contact", "events", "repeat", "requestNote", "createdAt", "lastUpdatedAt",
    "discountCode", "doNotUseBookingCredit", "invoiceThisContact", "purchaseOrder", "priceTotal",
    "visitors",  # docs/architecture.md#visitors
})
STAFF_BOOKING_KEYS = BOOKING_KEYS | {"internalNotes"}
BOOKING_EVENT_KEYS = frozenset({
    "id", "title", "start", "end", "resourceIds", "attendees", "answers", "eventId", "startLocal", "endLocal",
    "timezone", "repeat", "occurrence", "rateId", "products", "overridePrice", "price",
    "unitId", "units",  # docs/architecture.md#units
})
EVENT_KEYS = frozenset({
    "id", "orgId", "title", "description", "start", "end", "status", "resourceIds", "bookingId", "seriesId",
    "createdAt", "lastUpdatedAt", "startLocal", "endLocal", "timezone", "price",
    "units",  # docs/architecture.md#units
})
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


# === POST /bookings/submit ===========================================================================


def test_submit_as_the_public_returns_the_pending_booking_and_its_access_token(
        api, setup, django_capture_on_commit_callbacks):
    start = future(7, 10)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api.public, SUBMIT, submit_body(setup, setup.event(start=start, attendees=4)))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"booking", "accessToken"}  # no event: a request is not on the calendar yet
    booking = check_booking(body["booking"], staff=False)
    stored = Booking.objects.get(pk=booking["id"])
    assert booking == {
        "id": str(stored.pk),
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "customerId": None,
        "contactId": str(stored.contact_id),
        "status": 0,
        "submission": True,
        "title": "Team meeting",  # defaults to the first event's title
        "contact": {"name": "Ada Lovelace", "email": BOOKER},
        "events": [{
            "id": str(stored.requested_times.get().pk),
            "title": "Team meeting",
            "start": utc(start),
            "end": utc(start + timedelta(hours=1)),
            "startLocal": local(start),
            "endLocal": local(start + timedelta(hours=1)),
            "timezone": "Europe/London",
            "resourceIds": [str(setup.room.pk)],
            "attendees": 4,
            "answers": {},
            "eventId": str(event_of(stored).pk),
            "repeat": None,
            "occurrence": None,
            "unitId": None,
            "units": [],
            "rateId": None,
            "products": [],
            "overridePrice": None,
            # The room has no rates: free. An estimate, without credit for a public caller.
            "price": {"currency": "GBP", "rateId": None, "rateName": None, "unit": None, "quantity": None,
                      "rates": [], "computedAmount": "0.00", "overridePrice": None, "amount": "0.00",
                      "products": [], "subtotal": "0.00", "discount": None, "price": "0.00", "credits": [],
                      "creditUsed": None, "total": "0.00", "fixed": False},
        }],
        "repeat": None,
        "requestNote": "",
        "visitors": [],
        "discountCode": None,
        "doNotUseBookingCredit": False,
        "invoiceThisContact": False,
        "purchaseOrder": "",
        "priceTotal": {"currency": "GBP", "subtotal": "0.00", "discount": "0.00", "price": "0.00", "creditUsed": None,
                       "total": "0.00", "fixed": False},
        "createdAt": iso(stored.created_at),
        "lastUpdatedAt": iso(stored.updated_at),
    }
    assert event_of(stored).status == EventStatus.TENTATIVE  # the module holds pending slots
    token = body["accessToken"]
    assert isinstance(token, str) and len(token) >= 32
    assert stored.access_token_hash == hashlib.sha256(token.encode()).hexdigest()
    by_recipient = {tuple(m.to): m for m in mail.outbox}
    assert set(by_recipient) == {(BOOKER,), ("admin@example.org",)}
    assert f"/b/{token}/" in by_recipient[(BOOKER,)].body


def test_submit_accepts_an_events_list_and_an_explicit_title(api, setup):
    first, second = future(7, 10), future(8, 14)
    body = submit_body(setup, setup.event(start=first, title="Day one"),
                       setup.event(start=second, resources=[setup.hall, setup.desks], title="Day two"),
                       title="Conference")
    response = post(api.public, SUBMIT, body)

    assert response.status_code == 201, response.json()
    booking = check_booking(response.json()["booking"], staff=False)
    assert booking["title"] == "Conference"
    assert [(e["title"], e["start"], sorted(e["resourceIds"])) for e in booking["events"]] == [
        ("Day one", utc(first), [str(setup.room.pk)]),
        ("Day two", utc(second), sorted([str(setup.hall.pk), str(setup.desks.pk)])),
    ]


@pytest.mark.parametrize(
    "written",
    [
        lambda moment: moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        lambda moment: moment.astimezone(ZoneInfo("Asia/Tokyo")).isoformat(),
        lambda moment: moment.astimezone(LONDON).replace(tzinfo=None).isoformat(),  # wall clock at the venue
    ],
    ids=["utc-z", "other-offset", "naive-venue-local"],
)
def test_submit_converts_any_offset_to_utc(api, setup, written):
    start = future(9, 15)
    event = setup.event(start=start)
    event["start"], event["end"] = written(start), written(start + timedelta(hours=2))
    response = post(api.public, SUBMIT, submit_body(setup, event))

    assert response.status_code == 201, response.json()
    item = response.json()["booking"]["events"][0]
    assert (item["start"], item["end"]) == (utc(start), utc(start + timedelta(hours=2)))
    assert (item["startLocal"], item["endLocal"]) == ("T".join([str(start.date()), "15:00:00"]),
                                                      "T".join([str(start.date()), "17:00:00"]))


def _set(path: str, value):
    """A body mutation: set (or with value DROP, remove) a dotted path."""

    def mutate(body, setup):
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is DROP:
            target.pop(last)
        else:
            target[last] = value(setup) if callable(value) else value

    return mutate


DROP = object()


def _both_forms(body, setup):
    body["events"] = [body["event"]]


def _two_events(body, setup):
    body["events"] = [body.pop("event"), setup.event(start=future(8, 10))]


def _second_event_bad_start(body, setup):
    _two_events(body, setup)
    body["events"][1]["start"] = "next tuesday"


SUBMIT_400 = [
    # shape, checked by the serializer
    ("no-orgId", _set("orgId", DROP), "orgId", "REQUIRED"),
    ("no-bookingModuleId", _set("bookingModuleId", DROP), "bookingModuleId", "REQUIRED"),
    ("orgId-not-uuid", _set("orgId", "acme"), "orgId", "INVALID"),
    ("bookingModuleId-not-uuid", _set("bookingModuleId", "x1"), "bookingModuleId", "INVALID"),
    ("portalId-not-uuid", _set("portalId", "p"), "portalId", "INVALID"),
    ("no-portalId", _set("portalId", DROP), "portalId", "REQUIRED"),
    ("submission-not-bool", _set("submission", "perhaps"), "submission", "INVALID"),
    ("title-not-text", _set("title", {"a": 1}), "title", "INVALID"),
    ("title-too-long", _set("title", "x" * 301), "title", "MAX_LENGTH"),
    ("requestNote-not-text", _set("requestNote", ["x"]), "requestNote", "INVALID"),
    ("both-event-and-events", _both_forms, "events", "INVALID"),
    ("no-event", _set("event", DROP), "event", "REQUIRED"),
    ("events-empty", lambda b, s: b.update(events=[]) or b.pop("event"), "event", "REQUIRED"),
    ("events-not-list", lambda b, s: b.update(events="soon") or b.pop("event"), "events", "INVALID"),
    ("too-many-events", lambda b, s: b.update(events=[b.pop("event")] * 151), "events", "MAX_LENGTH"),
    ("notification-send-not-bool", _set("notification", {"send": "maybe"}), "notification.send", "INVALID"),
    # answers, checked by the one validator
    ("contact-name-missing", _set("contact.name", DROP), "contact.name", "REQUIRED"),
    ("contact-email-missing", _set("contact.email", ""), "contact.email", "REQUIRED"),
    ("contact-email-invalid", _set("contact.email", "ada-at-example"), "contact.email", "INVALID"),
    ("contact-phone-invalid", _set("contact.phone", "call me"), "contact.phone", "INVALID"),
    ("contact-unknown-field", _set("contact.shoeSize", "42"), "contact.shoeSize", "UNKNOWN_FIELD"),
    ("event-title-missing", _set("event.title", DROP), "event.title", "REQUIRED"),
    ("event-start-missing", _set("event.start", DROP), "event.start", "REQUIRED"),
    ("event-end-missing", _set("event.end", ""), "event.end", "REQUIRED"),
    ("event-start-not-a-time", _set("event.start", "tomorrow morning"), "event.start", "INVALID"),
    ("event-end-wrong-type", _set("event.end", 1234), "event.end", "INVALID"),
    ("event-resources-missing", _set("event.resourceIds", []), "event.resourceIds", "REQUIRED"),
    ("event-resources-not-list", _set("event.resourceIds", "room"), "event.resourceIds", "INVALID"),
    ("event-resource-not-offered", _set("event.resourceIds", ["9b2f1c3e-0000-4000-8000-000000000000"]),
     "event.resourceIds", "RESOURCE_NOT_OFFERED"),
    ("event-attendees-zero", _set("event.attendees", 0), "event.attendees", "INVALID"),
    ("event-attendees-over-capacity", _set("event.attendees", 11), "event.attendees", "TOO_MANY_ATTENDEES"),
    ("event-unknown-field", _set("event.colour", "red"), "event.colour", "UNKNOWN_FIELD"),
    ("events-1-start", _second_event_bad_start, "events[1].start", "INVALID"),
    # the booking rules (docs/architecture.md#booking-rules)
    ("end-before-start", _set("event.end", lambda s: future(7, 9).isoformat()), "event.end", "END_BEFORE_START"),
    ("in-the-past", lambda b, s: b.update(event=s.event(start=timezone.now() - timedelta(days=1))),
     "event.start", "IN_THE_PAST"),
]


@pytest.mark.parametrize(("mutate", "field", "code"), [c[1:] for c in SUBMIT_400], ids=[c[0] for c in SUBMIT_400])
def test_submit_rejects_bad_input_with_field_and_code(api, setup, mutate, field, code):
    body = submit_body(setup)
    mutate(body, setup)
    response = post(api.public, SUBMIT, body)

    assert_error(response, 400, code, field)
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    ("rule", "value", "field", "code"),
    [
        ("min_duration_minutes", 120, "event.end", "TOO_SHORT"),
        ("max_duration_minutes", 30, "event.end", "TOO_LONG"),
        ("min_notice_minutes", 60 * 24 * 30, "event.start", "START_TIME_TOO_LATE"),
        ("max_advance_days", 2, "event.start", "START_TIME_TOO_EARLY"),
        ("archived", True, "event.resourceIds", "RESOURCE_ARCHIVED"),
    ],
)
def test_submit_applies_the_resource_rules(api, setup, rule, value, field, code):
    setattr(setup.room, rule, value)
    setup.room.save()
    response = post(api.public, SUBMIT, submit_body(setup))

    body = assert_error(response, 400, code, field)
    assert {e["resourceId"] for e in body["errors"] if e["code"] == code} == {str(setup.room.pk)}


@pytest.fixture
def custom(setup):
    """Custom questions on setup's module: the ids are the answers' keys."""
    make = FormFieldFactory
    return SimpleNamespace(
        guests=make(module=setup.module, section=FormSection.EVENT, label="Guests", type=FieldType.NUMBER,
                    min_value=1, max_value=50),
        layout=make(module=setup.module, section=FormSection.EVENT, label="Layout", type=FieldType.SELECT,
                    options=["theatre", "boardroom"]),
        purpose=make(module=setup.module, section=FormSection.EVENT, label="Purpose", required=True),
        terms=make(module=setup.module, section=FormSection.CONTACT, label="I accept", type=FieldType.CHECKBOX,
                   required=True),
        website=make(module=setup.module, section=FormSection.CONTACT, label="Website", type=FieldType.URL),
    )


def custom_body(setup, custom, **event_answers) -> dict:
    answers = {str(custom.purpose.pk): "Board meeting", str(custom.guests.pk): "12",
               str(custom.layout.pk): "boardroom", **event_answers}
    body = submit_body(setup, setup.event(**answers))
    body["contact"][str(custom.terms.pk)] = True
    return body


def test_submit_cleans_custom_answers(api, setup, custom):
    response = post(api.public, SUBMIT, custom_body(setup, custom))

    assert response.status_code == 201, response.json()
    booking = response.json()["booking"]
    assert booking["contact"] == {"name": "Ada Lovelace", "email": BOOKER, str(custom.terms.pk): True}
    assert booking["events"][0]["answers"] == {
        str(custom.purpose.pk): "Board meeting", str(custom.guests.pk): 12, str(custom.layout.pk): "boardroom"}


@pytest.mark.parametrize(
    ("field_name", "section", "value", "code"),
    [
        ("guests", "event", "lots", "INVALID"),
        ("guests", "event", 51, "MAX_VALUE"),
        ("guests", "event", 0, "MIN_VALUE"),
        ("layout", "event", "banquet", "INVALID_CHOICE"),
        ("purpose", "event", "", "REQUIRED"),
        ("terms", "contact", False, "REQUIRED"),
        ("terms", "contact", "sometimes", "INVALID"),
        ("website", "contact", "javascript:alert(1)", "INVALID"),
    ],
)
def test_submit_rejects_invalid_custom_answers_with_the_validators_code_and_path(
        api, setup, custom, field_name, section, value, code):
    body = custom_body(setup, custom)
    fid = str(getattr(custom, field_name).pk)
    (body["event"] if section == "event" else body["contact"])[fid] = value
    response = post(api.public, SUBMIT, body)

    assert_error(response, 400, code, f"{section}.{fid}")


def test_submit_reports_every_problem_at_once(api, setup):
    body = submit_body(setup, {"title": "", "start": "soon", "end": "", "resourceIds": []})
    body["contact"] = {"email": "nope"}
    body_out = assert_error(post(api.public, SUBMIT, body), 400)

    assert {(e["field"], e["code"]) for e in body_out["errors"]} == {
        ("contact.name", "REQUIRED"), ("contact.email", "INVALID"), ("event.title", "REQUIRED"),
        ("event.start", "INVALID"), ("event.end", "REQUIRED"), ("event.resourceIds", "REQUIRED"),
    }


def test_submit_with_a_body_that_is_not_json_is_a_400(api, setup):
    response = api.public.post(SUBMIT, "{not json", content_type="application/json")

    assert_error(response, 400, "PARSE_ERROR")


@pytest.mark.parametrize(
    "change",
    [
        lambda body, setup, other: body.update(bookingModuleId="0b9d7a58-3a4c-4a6e-9b1d-2f8f4f0e9a11"),
        lambda body, setup, other: body.update(orgId=str(other.org.pk)),  # module of another organization
        lambda body, setup, other: body.update(portalId=str(other.portal.pk)),
        lambda body, setup, other: body.update(portalId="0b9d7a58-3a4c-4a6e-9b1d-2f8f4f0e9a11"),
        lambda body, setup, other: body.update(portalId=str(PortalFactory(organization=setup.org).pk)),
        lambda body, setup, other: setup.portal.__class__.objects.filter(pk=setup.portal.pk).update(
            status=PortalStatus.DRAFT),
    ],
    ids=["unknown-module", "module-not-in-org", "portal-of-other-org", "unknown-portal", "portal-without-module",
         "draft-portal"],
)
def test_submit_to_a_form_that_is_not_published_is_a_404(api, other, setup, change):
    body = submit_body(setup)
    change(body, setup, other.setup)

    assert_error(post(api.public, SUBMIT, body), 404, "NOT_FOUND")
    assert not Booking.objects.exists()


def test_submit_into_a_held_slot_is_a_409_naming_the_resource_not_the_other_booking(api, setup):
    pending(setup)
    body = submit_body(setup)
    body["contact"]["email"] = "bob@example.com"
    response = post(api.public, SUBMIT, body)

    out = assert_error(response, 409, "BOOKING_CONFLICT", "event.resourceIds")
    (error,) = out["errors"]
    assert "conflictingEventIds" not in error  # the public never sees other people's bookings
    assert error["message"] == "Room is already booked at that time."
    assert error["resourceId"] == str(setup.room.pk)
    assert Booking.objects.count() == 1


def test_submit_over_a_shared_resources_capacity_is_a_409(api, setup):
    for _ in range(3):  # desks: capacity 3, not exclusive
        assert post(api.public, SUBMIT, submit_body(setup, setup.event(resources=[setup.desks]))).status_code == 201
    response = post(api.public, SUBMIT, submit_body(setup, setup.event(resources=[setup.desks])))

    body = assert_error(response, 409, "CAPACITY_EXCEEDED", "event.resourceIds")
    assert "conflictingEventIds" not in body["errors"][0]
    assert body["errors"][0]["message"] == "Desks is fully booked at that time."


def test_submit_with_a_bad_token_is_a_401_even_though_it_is_public(setup):
    response = post(bad_token_client(), SUBMIT, submit_body(setup))

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_staff_submit_without_a_token_is_a_401(api, setup):
    response = post(api.public, SUBMIT, submit_body(setup, submission=False))

    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert not Booking.objects.exists()


def test_staff_submit_as_a_viewer_is_a_403(api, setup):
    assert_error(post(api.viewer, SUBMIT, submit_body(setup, submission=False)), 403, "PERMISSION_DENIED")
    assert not Booking.objects.exists()


def test_staff_submit_acts_as_create(api, setup):
    response = post(api.manager, SUBMIT, submit_body(setup, submission=False, bookingStatus=1))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"booking", "event", "events"}
    booking = check_booking(body["booking"])
    assert (booking["status"], booking["submission"]) == (1, False)
    assert [check_event(e)["status"] for e in body["events"]] == [EventStatus.CONFIRMED]
    assert body["event"] == body["events"][0]
    assert booking["events"][0]["eventId"] == body["event"]["id"]


def test_public_submit_is_throttled_per_client_ip(api, setup, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "2/minute", raising=False)
    for day in (7, 8):
        assert post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(day)))).status_code == 201

    response = post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(9))))
    body = assert_error(response, 429, "THROTTLED", "")
    assert int(response["Retry-After"]) > 0
    assert "throttled" in body["error"].lower()
    assert Booking.objects.count() == 2
    # Another address has its own allowance.
    other_ip = post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(9))), REMOTE_ADDR="203.0.113.9")
    assert other_ip.status_code == 201, other_ip.json()


def test_a_forged_x_forwarded_for_does_not_escape_the_throttle(api, setup, monkeypatch):
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "2/minute", raising=False)
    codes = [post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(day))),
                  HTTP_X_FORWARDED_FOR=f"198.51.100.{day}").status_code for day in (7, 8, 9)]

    assert codes == [201, 201, 429]  # no proxy is configured: the header is the client's own word


def test_behind_a_proxy_the_throttle_counts_the_address_the_proxy_appended(api, setup, monkeypatch, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    monkeypatch.setattr(PublicSubmitThrottle, "rate", "1/minute", raising=False)

    def attempt(day, xff):
        return post(api.public, SUBMIT, submit_body(setup, setup.event(start=future(day))), REMOTE_ADDR="10.0.0.1",
                    HTTP_X_FORWARDED_FOR=xff).status_code

    assert attempt(7, "198.51.100.1") == 201
    assert attempt(8, "203.0.113.66, 198.51.100.1") == 429  # a forged first hop changes nothing
    assert attempt(8, "198.51.100.2") == 201  # another client behind the same proxy


# --- requestNote and internalNotes ------------------------------------------------------------------

NOTE = ('<p>Hello <b>team</b><script>alert("x")</script> <img src=x onerror="alert(1)">'
        '<a href="javascript:alert(2)" onclick="steal()">link</a> <svg onload="alert(3)"></svg></p>')


def test_request_note_comes_back_sanitized_and_internal_notes_only_to_staff(api, setup):
    response = post(api.public, SUBMIT, submit_body(setup, requestNote=NOTE))

    assert response.status_code == 201, response.json()
    booking = response.json()["booking"]
    assert "internalNotes" not in booking
    note = booking["requestNote"]
    assert note == sanitize_html(NOTE)
    assert "<b>team</b>" in note
    for dangerous in ("<script", "onerror", "onclick", "onload", "javascript:", "<svg"):
        assert dangerous not in note.lower(), dangerous

    Booking.objects.filter(pk=booking["id"]).update(internal_notes="Regular; invoice monthly")
    staff_view = api.viewer.get(booking_url(booking["id"])).json()["booking"]
    assert staff_view["internalNotes"] == "Regular; invoice monthly"
    assert staff_view["requestNote"] == note


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
    assert api.manager.get(BOOKINGS, {"returnEvents": "1"}).json() == {
        "bookings": {}, "associatedEvents": [], "nextCursor": None}


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


@pytest.mark.parametrize(("query", "field", "code"), LIST_400, ids=[f"{next(iter(q))}-{i}" for i, (q, *_) in
                                                                     enumerate(LIST_400)])
def test_list_rejects_bad_query_parameters(api, setup, query, field, code):
    pending(setup)
    assert_error(api.manager.get(BOOKINGS, {"limit": 5, **query} if "limit" not in query else query), 400, code, field)


@pytest.mark.parametrize(
    ("client", "status", "code"),
    [(lambda api: api.public, 401, "NOT_AUTHENTICATED"), (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
     (lambda api: outsider_client(), 403, "PERMISSION_DENIED")],
    ids=["no-token", "bad-token", "member-of-nothing"],
)
def test_list_needs_a_staff_token(api, setup, client, status, code):
    pending(setup)
    assert_error(client(api).get(BOOKINGS), status, code)


def make_bookings(setup, count: int, *, status: int = BookingStatus.APPROVED, day: int = 3) -> list[Booking]:
    """`count` bookings in a few bulk inserts, each with one BookingEvent on the room and its Event."""
    base = future(day, 0).astimezone(UTC)
    existing = Booking.objects.count()
    bookings = Booking.objects.bulk_create([
        Booking(organization=setup.org, module=setup.module, portal=setup.portal, status=status,
                title=f"Bulk {existing + i}", contact_answers={"name": "Ada", "email": BOOKER})
        for i in range(count)
    ])
    starts = [base + timedelta(hours=existing + i) for i in range(count)]
    events = Event.objects.bulk_create([
        Event(organization=setup.org, title=b.title, start=s, end=s + timedelta(minutes=45))
        for b, s in zip(bookings, starts, strict=True)
    ])
    Reservation.objects.bulk_create([
        Reservation(event=e, resource=setup.room, start=e.start, end=e.end) for e in events
    ])
    booking_events = BookingEvent.objects.bulk_create([
        BookingEvent(booking=b, title=b.title, start=e.start, end=e.end, event=e)
        for b, e in zip(bookings, events, strict=True)
    ])
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
    d = booking_submit(module=other_module, portal=other_portal, contact={"name": "Bo", "email": "b@x.org"},
                       events=[setup.event(start=future(10))], single_event=True).booking
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
    b = pending(setup, setup.event(start=at(1, 14), end=at(1, 15), resources=[setup.hall]),
                setup.event(start=at(3, 14), end=at(3, 15), resources=[setup.hall]))
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
    [(lambda api: api.public, 401, "NOT_AUTHENTICATED"), (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
     (lambda api: outsider_client(), 403, "PERMISSION_DENIED")],
    ids=["no-token", "bad-token", "member-of-nothing"],
)
def test_retrieve_needs_a_staff_token(api, setup, client, status, code):
    assert_error(client(api).get(booking_url(pending(setup).pk)), status, code)


def test_retrieve_of_an_unknown_id_is_a_404(api, setup):
    pending(setup)
    assert_error(api.manager.get(booking_url("3f2b8c1e-5d4a-4e6f-8a9b-0c1d2e3f4a5b")), 404, "NOT_FOUND")


# === POST /bookings (staff create) ==================================================================


def create_body(setup, status: int | None = None, *events, **extra) -> dict:
    body = submit_body(setup, *events, **extra)
    body.pop("submission")
    if status is not None:
        body["bookingStatus"] = status
    return body


@pytest.mark.parametrize(
    ("status", "event_statuses"),
    [(0, [EventStatus.TENTATIVE]), (1, [EventStatus.CONFIRMED]), (2, []), (3, [])],
    ids=["pending-holds", "approved-confirms", "denied", "canceled"],
)
def test_create_in_each_status(api, setup, status, event_statuses):
    response = post(api.manager, BOOKINGS, create_body(setup, status))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == ({"booking", "event", "events"} if event_statuses else {"booking", "events"})
    booking = check_booking(body["booking"])
    assert (booking["status"], booking["submission"]) == (status, False)
    assert [check_event(e)["status"] for e in body["events"]] == event_statuses
    assert [e["bookingId"] for e in body["events"]] == [booking["id"]] * len(event_statuses)
    if event_statuses:
        assert body["event"] == body["events"][0]
        assert booking["events"][0]["eventId"] == body["event"]["id"]
    else:
        assert booking["events"][0]["eventId"] is None


def test_create_approved_from_an_existing_event(api, setup):
    start = future(12, 9)
    (event,) = events_save(organization=setup.org, status=EventStatus.TENTATIVE, specs=[
        EventSpec(title="Board", start=start, end=start + timedelta(hours=2), resource_ids=[setup.hall.pk])])
    body = create_body(setup, 1, eventId=str(event.pk))
    body.pop("event")
    response = post(api.manager, BOOKINGS, body)

    assert response.status_code == 201, response.json()
    out = response.json()
    assert out["event"]["id"] == str(event.pk)
    assert out["event"]["status"] == EventStatus.CONFIRMED
    assert out["booking"]["events"][0]["start"] == utc(start)
    assert out["booking"]["events"][0]["resourceIds"] == [str(setup.hall.pk)]


def test_create_links_customer_and_contact_and_sends_the_asked_notification(
        api, setup, django_capture_on_commit_callbacks):
    customer, contact = CustomerFactory(organization=setup.org), ContactFactory(organization=setup.org)
    body = create_body(setup, 1, customerId=str(customer.pk), contactId=str(contact.pk),
                       notification={"subject": "See you soon", "message": "<p>Bring <b>slides</b></p>"})
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api.manager, BOOKINGS, body)

    assert response.status_code == 201, response.json()
    booking = response.json()["booking"]
    assert (booking["customerId"], booking["contactId"]) == (str(customer.pk), str(contact.pk))
    assert [(m.to, m.subject) for m in mail.outbox] == [([BOOKER], "See you soon")]


def test_create_sends_no_email_unless_asked(api, setup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert post(api.manager, BOOKINGS, create_body(setup, 1)).status_code == 201
    assert mail.outbox == []


def test_create_may_override_rules_but_not_conflicts(api, setup):
    past = setup.event(start=timezone.now() - timedelta(days=2))
    assert_error(post(api.manager, BOOKINGS, create_body(setup, 1, past)), 400, "IN_THE_PAST", "event.start")

    response = post(api.manager, BOOKINGS, create_body(setup, 1, past, overrideRules=True))
    assert response.status_code == 201, response.json()

    again = post(api.manager, BOOKINGS, create_body(setup, 1, past, overrideRules=True))
    body = assert_error(again, 409, "BOOKING_CONFLICT", "event.resourceIds")
    assert body["errors"][0]["conflictingEventIds"] == [response.json()["event"]["id"]]


CREATE_400 = [
    ("bookingStatus-unknown", {"bookingStatus": 7}, "bookingStatus", "INVALID_CHOICE"),
    ("bookingStatus-text", {"bookingStatus": "approved"}, "bookingStatus", "INVALID_CHOICE"),
    ("eventId-not-uuid", {"bookingStatus": 1, "eventId": "e1"}, "eventId", "INVALID"),
    ("eventId-unknown", {"bookingStatus": 1, "eventId": "7d1c9a0e-1111-4222-8333-444455556666"}, "eventId",
     "NOT_FOUND"),
    ("eventId-on-pending", {"bookingStatus": 0, "eventId": "7d1c9a0e-1111-4222-8333-444455556666"}, "eventId",
     "INVALID"),
    ("customerId-not-uuid", {"customerId": "acme"}, "customerId", "INVALID"),
    ("customerId-unknown", {"customerId": "7d1c9a0e-1111-4222-8333-444455556666"}, "customerId", "NOT_FOUND"),
    ("contactId-unknown", {"contactId": "7d1c9a0e-1111-4222-8333-444455556666"}, "contactId", "NOT_FOUND"),
    ("overrideRules-not-bool", {"overrideRules": "sure"}, "overrideRules", "INVALID"),
    ("notification-not-object", {"notification": "yes"}, "notification", "INVALID"),
    ("notification-subject-too-long", {"notification": {"subject": "s" * 301}}, "notification.subject",
     "MAX_LENGTH"),
    ("no-orgId", {"orgId": None}, "orgId", "REQUIRED"),
    ("event-start-invalid", {"event": {"title": "x", "start": "x", "end": "y", "resourceIds": []}}, "event.start",
     "INVALID"),
]


@pytest.mark.parametrize(("extra", "field", "code"), [c[1:] for c in CREATE_400], ids=[c[0] for c in CREATE_400])
def test_create_rejects_bad_input(api, setup, extra, field, code):
    body = create_body(setup, 1)
    for key, value in extra.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    assert_error(post(api.manager, BOOKINGS, body), 400, code, field)
    assert not Booking.objects.exists()


def test_create_with_a_customer_of_another_organization_is_refused(api, other, setup):
    foreign = CustomerFactory(organization=other.setup.org)
    response = post(api.manager, BOOKINGS, create_body(setup, 1, customerId=str(foreign.pk)))

    assert_error(response, 400, "NOT_FOUND", "customerId")


@pytest.mark.parametrize(
    ("client", "status", "code"),
    [(lambda api: api.public, 401, "NOT_AUTHENTICATED"), (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
     (lambda api: api.viewer, 403, "PERMISSION_DENIED"), (lambda api: outsider_client(), 403, "PERMISSION_DENIED")],
    ids=["no-token", "bad-token", "viewer", "member-of-nothing"],
)
def test_create_needs_a_manager(api, setup, client, status, code):
    assert_error(post(client(api), BOOKINGS, create_body(setup, 1)), status, code)
    assert not Booking.objects.exists()


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN, Role.OWNER])
def test_create_is_allowed_from_manager_up(api, setup, role):
    assert post(api[role], BOOKINGS, create_body(setup, 0)).status_code == 201


def test_create_of_an_unknown_module_is_a_404(api, setup):
    body = create_body(setup, 1, bookingModuleId="7d1c9a0e-1111-4222-8333-444455556666")
    assert_error(post(api.manager, BOOKINGS, body), 404, "NOT_FOUND")


def test_create_into_a_taken_slot_is_a_409(api, setup):
    held = pending(setup)
    response = post(api.manager, BOOKINGS, create_body(setup, 1))

    body = assert_error(response, 409, "BOOKING_CONFLICT", "event.resourceIds")
    assert body["errors"][0]["conflictingEventIds"] == [str(event_of(held).pk)]
    assert Booking.objects.count() == 1


# === PATCH /bookings/{id} ===========================================================================


def test_patch_links_and_clears_customer_and_contact(api, setup):
    booking = pending(setup)
    customer, contact = CustomerFactory(organization=setup.org), ContactFactory(organization=setup.org)

    response = api.manager.patch(booking_url(booking.pk), {"customerId": str(customer.pk),
                                                          "contactId": str(contact.pk)}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"booking"}
    item = check_booking(body["booking"])
    assert (item["customerId"], item["contactId"]) == (str(customer.pk), str(contact.pk))
    assert item["lastUpdatedAt"] != iso(booking.updated_at)
    assert response["ETag"] == etag_of(Booking.objects.get(pk=booking.pk))

    cleared = api.manager.patch(booking_url(booking.pk), {"customerId": ""}, format="json").json()["booking"]
    assert (cleared["customerId"], cleared["contactId"]) == (None, str(contact.pk))
    cleared = api.manager.patch(booking_url(booking.pk), {"contactId": None}, format="json").json()["booking"]
    assert cleared["contactId"] is None


def test_patch_with_the_current_etag_succeeds_and_with_a_stale_one_is_a_412(api, setup):
    booking = pending(setup)
    customer = CustomerFactory(organization=setup.org)
    etag = api.manager.get(booking_url(booking.pk))["ETag"]

    fresh = api.manager.patch(booking_url(booking.pk), {"customerId": str(customer.pk)}, format="json",
                              HTTP_IF_MATCH=etag)
    assert fresh.status_code == 200, fresh.json()
    assert fresh["ETag"] != etag

    stale = api.manager.patch(booking_url(booking.pk), {"customerId": ""}, format="json", HTTP_IF_MATCH=etag)
    assert_error(stale, 412, "PRECONDITION_FAILED", "If-Match")
    assert Booking.objects.get(pk=booking.pk).customer_id == customer.pk
    assert api.manager.patch(booking_url(booking.pk), {"customerId": ""}, format="json",
                             HTTP_IF_MATCH="*").status_code == 200


PATCH_400 = [
    ("title", {"title": "Renamed"}, "title", "IMMUTABLE_FIELD"),
    ("status", {"status": 1}, "status", "IMMUTABLE_FIELD"),
    ("events", {"events": []}, "events", "IMMUTABLE_FIELD"),
    ("internalNotes", {"internalNotes": "x", "customerId": ""}, "internalNotes", "IMMUTABLE_FIELD"),
    ("customer-unknown", {"customerId": "7d1c9a0e-1111-4222-8333-444455556666"}, "customerId", "NOT_FOUND"),
    ("customer-not-uuid", {"customerId": "acme"}, "customerId", "INVALID"),
    ("customer-a-list", {"customerId": ["x"]}, "customerId", "INVALID"),
    ("contact-an-object", {"contactId": {"id": 1}}, "contactId", "INVALID"),
    ("body-not-object", ["customerId"], "", "INVALID"),
]


@pytest.mark.parametrize(("body", "field", "code"), [c[1:] for c in PATCH_400], ids=[c[0] for c in PATCH_400])
def test_patch_rejects_anything_but_customer_and_contact(api, setup, body, field, code):
    booking = pending(setup)
    assert_error(api.manager.patch(booking_url(booking.pk), body, format="json"), 400, code, field)
    after = Booking.objects.get(pk=booking.pk)
    assert (after.title, after.status, after.updated_at) == (booking.title, booking.status, booking.updated_at)


def test_patch_with_a_customer_of_another_organization_is_refused(api, other, setup):
    booking = pending(setup)
    foreign = CustomerFactory(organization=other.setup.org)
    assert_error(api.manager.patch(booking_url(booking.pk), {"customerId": str(foreign.pk)}, format="json"),
                 400, "NOT_FOUND", "customerId")


@pytest.mark.parametrize(
    ("client", "status", "code"),
    [(lambda api: api.public, 401, "NOT_AUTHENTICATED"), (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
     (lambda api: api.viewer, 403, "PERMISSION_DENIED")],
    ids=["no-token", "bad-token", "viewer"],
)
def test_patch_needs_a_manager(api, setup, client, status, code):
    booking = pending(setup)
    assert_error(client(api).patch(booking_url(booking.pk), {"customerId": ""}, format="json"), status, code)
    assert Booking.objects.get(pk=booking.pk).updated_at == booking.updated_at


def test_patch_of_an_unknown_booking_is_a_404(api, setup):
    assert_error(api.manager.patch(booking_url("7d1c9a0e-1111-4222-8333-444455556666"), {"customerId": ""},
                                   format="json"), 404, "NOT_FOUND")


# === POST /bookings/{id}/approve ====================================================================


def test_approve_confirms_the_requested_time(api, setup, django_capture_on_commit_callbacks):
    booking = pending(setup)
    hold = event_of(booking)
    read = api.manager.get(booking_url(booking.pk)).json()["booking"]

    with django_capture_on_commit_callbacks(execute=True):
        response = post(api.manager, booking_url(booking.pk, "approve"),
                        {"clientBookingLastUpdatedAt": read["lastUpdatedAt"], "event": {}})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"booking", "event", "events"}
    item = check_booking(body["booking"])
    assert item["status"] == BookingStatus.APPROVED
    assert item["events"][0]["start"] == read["events"][0]["start"]
    event = check_event(body["event"])
    assert body["events"] == [event]
    assert (event["id"], event["status"], event["bookingId"]) == (str(hold.pk), EventStatus.CONFIRMED, str(booking.pk))
    assert (event["start"], event["end"], event["resourceIds"]) == (
        read["events"][0]["start"], read["events"][0]["end"], read["events"][0]["resourceIds"])
    assert item["events"][0]["eventId"] == event["id"]
    assert [(m.to, m.subject) for m in mail.outbox] == [([BOOKER], "Your booking is confirmed: Team meeting")]


def test_approve_applies_staff_edits_to_a_single_event(api, setup):
    booking = pending(setup)
    start = future(10, 16)
    edit = {"start": utc(start), "end": utc(start + timedelta(minutes=90)), "title": "Moved",
            "resourceIds": [str(setup.hall.pk)]}
    response = post(api.manager, booking_url(booking.pk, "approve"),
                    {"clientBookingLastUpdatedAt": stamp(booking), "event": edit})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["event"]["start"], body["event"]["end"], body["event"]["title"], body["event"]["resourceIds"]) == (
        edit["start"], edit["end"], "Moved", [str(setup.hall.pk)])
    assert body["event"]["startLocal"] == local(start)
    item = body["booking"]["events"][0]
    assert (item["start"], item["title"], item["resourceIds"]) == (edit["start"], "Moved", [str(setup.hall.pk)])
    assert Reservation.objects.get(event_id=body["event"]["id"]).resource_id == setup.hall.pk


def test_approve_edits_name_their_booking_event_in_a_multi_event_booking(api, setup):
    booking = pending(setup, setup.event(start=future(7, 9)), setup.event(start=future(8, 9)))
    first, second = BookingEvent.objects.filter(booking=booking).order_by("order")
    moved = future(8, 13)
    response = post(api.manager, booking_url(booking.pk, "approve"), {
        "clientBookingLastUpdatedAt": stamp(booking),
        "events": [{"bookingEventId": str(second.pk), "start": utc(moved), "end": utc(moved + timedelta(hours=1))}],
    })

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [e["start"] for e in body["events"]] == [utc(future(7, 9)), utc(moved)]
    assert body["event"] == body["events"][0]
    assert [e["start"] for e in body["booking"]["events"]] == [utc(future(7, 9)), utc(moved)]


def test_approve_links_customer_and_contact_and_may_override_rules(api, setup):
    booking = pending(setup)
    customer, contact = CustomerFactory(organization=setup.org), ContactFactory(organization=setup.org)
    setup.room.max_duration_minutes = 30
    setup.room.save()
    body = {"clientBookingLastUpdatedAt": stamp(booking), "customerId": str(customer.pk),
            "contactId": str(contact.pk), "notification": {"send": False}}

    assert_error(post(api.manager, booking_url(booking.pk, "approve"), body), 400, "TOO_LONG", "event.end")
    response = post(api.manager, booking_url(booking.pk, "approve"), {**body, "overrideRules": True})
    assert response.status_code == 200, response.json()
    item = response.json()["booking"]
    assert (item["customerId"], item["contactId"], item["status"]) == (str(customer.pk), str(contact.pk), 1)


def _two_event_booking(setup):
    return pending(setup, setup.event(start=future(7, 9)), setup.event(start=future(8, 9)))


APPROVE_400 = [
    ("no-timestamp", lambda b: {}, "clientBookingLastUpdatedAt", "REQUIRED"),
    ("timestamp-not-a-time", lambda b: {"clientBookingLastUpdatedAt": "yesterday"}, "clientBookingLastUpdatedAt",
     "INVALID"),
    ("both-event-and-events", lambda b: {"event": {}, "events": [{}]}, "events", "INVALID"),
    ("edit-start-invalid", lambda b: {"event": {"start": "noon"}}, "event.start", "INVALID"),
    ("edit-end-before-start", lambda b: {"event": {"end": utc(future(7, 8))}}, "event.end", "END_BEFORE_START"),
    ("edit-resource-not-offered", lambda b: {"event": {"resourceIds": ["7d1c9a0e-1111-4222-8333-444455556666"]}},
     "event.resourceIds", "RESOURCE_NOT_OFFERED"),
    ("edit-unknown-booking-event", lambda b: {"events": [{"bookingEventId": "7d1c9a0e-1111-4222-8333-444455556666"},
                                                         {"bookingEventId": "7d1c9a0e-1111-4222-8333-444455556667"}]},
     "events[0].bookingEventId", "NOT_FOUND"),
    ("customerId-not-uuid", lambda b: {"customerId": "acme"}, "customerId", "INVALID"),
    ("customerId-unknown", lambda b: {"customerId": "7d1c9a0e-1111-4222-8333-444455556666"}, "customerId",
     "NOT_FOUND"),
    ("overrideRules-not-bool", lambda b: {"overrideRules": "yes please"}, "overrideRules", "INVALID"),
    ("notification-send-not-bool", lambda b: {"notification": {"send": "loud"}}, "notification.send", "INVALID"),
]


@pytest.mark.parametrize(("extra", "field", "code"), [c[1:] for c in APPROVE_400], ids=[c[0] for c in APPROVE_400])
def test_approve_rejects_bad_input(api, setup, extra, field, code):
    booking = pending(setup)
    body = {"clientBookingLastUpdatedAt": stamp(booking), **extra(booking)}
    if field == "clientBookingLastUpdatedAt" and code == "REQUIRED":
        body.pop("clientBookingLastUpdatedAt")
    assert_error(post(api.manager, booking_url(booking.pk, "approve"), body), 400, code, field)
    after = Booking.objects.get(pk=booking.pk)
    assert (after.status, after.updated_at) == (BookingStatus.PENDING, booking.updated_at)


def test_approve_edit_errors_carry_the_events_index(api, setup):
    booking = _two_event_booking(setup)
    first, second = BookingEvent.objects.filter(booking=booking).order_by("order")
    response = post(api.manager, booking_url(booking.pk, "approve"), {
        "clientBookingLastUpdatedAt": stamp(booking),
        "events": [{"bookingEventId": str(first.pk)}, {"bookingEventId": str(second.pk), "start": "dawn"}],
    })
    assert_error(response, 400, "INVALID", "events[1].start")


def test_approve_of_a_booking_changed_since_it_was_read_is_a_409_stale_booking(api, setup):
    booking = pending(setup)
    read = api.manager.get(booking_url(booking.pk)).json()["booking"]
    change_request_submit(booking_id=booking.pk, actor=Actor.booker(BOOKER),
                          events=[{"title": "Renamed by the booker"}])

    response = post(api.manager, booking_url(booking.pk, "approve"),
                    {"clientBookingLastUpdatedAt": read["lastUpdatedAt"]})
    body = assert_error(response, 409, "STALE_BOOKING", "clientBookingLastUpdatedAt")
    assert body["errors"][0]["lastUpdatedAt"]
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING
    # Re-read, decide again: it goes through.
    again = post(api.manager, booking_url(booking.pk, "approve"),
                 {"clientBookingLastUpdatedAt": api.manager.get(booking_url(booking.pk)).json()["booking"]
                  ["lastUpdatedAt"]})
    assert again.status_code == 200, again.json()
    assert again.json()["event"]["title"] == "Renamed by the booker"


@pytest.mark.parametrize("status", [BookingStatus.APPROVED, BookingStatus.DENIED, BookingStatus.CANCELED])
def test_approve_of_a_decided_booking_is_a_409_invalid_transition(api, setup, status):
    booking = in_status(setup, status)
    response = post(api.manager, booking_url(booking.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(booking)})

    assert_error(response, 409, "INVALID_TRANSITION")
    assert Booking.objects.get(pk=booking.pk).status == status


def test_approve_into_a_taken_slot_is_a_409_naming_the_conflicting_event(setup_no_hold):
    setup = setup_no_hold
    api = Api(setup)
    first, second = pending(setup), pending(setup, email="bob@example.com")  # no holds: both pending
    ok = post(api.manager, booking_url(first.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(first)})
    assert ok.status_code == 200, ok.json()

    response = post(api.manager, booking_url(second.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(second)})
    body = assert_error(response, 409, "BOOKING_CONFLICT", "event.resourceIds")
    assert body["errors"][0]["conflictingEventIds"] == [ok.json()["event"]["id"]]
    assert Booking.objects.get(pk=second.pk).status == BookingStatus.PENDING
    assert not Event.objects.filter(booking_events__booking=second).exists()


def test_approve_with_an_edit_onto_another_bookings_time_is_a_409(api, setup):
    taken = approved(setup, setup.event(start=future(9, 10)))
    booking = pending(setup)
    edit = {"start": utc(future(9, 10)), "end": utc(future(9, 11))}
    response = post(api.manager, booking_url(booking.pk, "approve"),
                    {"clientBookingLastUpdatedAt": stamp(booking), "event": edit})

    body = assert_error(response, 409, "BOOKING_CONFLICT")
    assert body["errors"][0]["conflictingEventIds"] == [str(event_of(taken).pk)]


ROLE_ERRORS = [
    (lambda api: api.public, 401, "NOT_AUTHENTICATED"),
    (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
    (lambda api: api.viewer, 403, "PERMISSION_DENIED"),
    (lambda api: outsider_client(), 403, "PERMISSION_DENIED"),
]
ROLE_IDS = ["no-token", "bad-token", "viewer", "member-of-nothing"]


@pytest.mark.parametrize(("client", "status", "code"), ROLE_ERRORS, ids=ROLE_IDS)
@pytest.mark.parametrize("action", ["approve", "deny", "cancel"])
def test_decisions_need_a_manager(api, setup, client, status, code, action):
    booking = approved(setup) if action == "cancel" else pending(setup)
    body = {"eventProcedure": 0} if action == "cancel" else {"clientBookingLastUpdatedAt": stamp(booking)}
    assert_error(post(client(api), booking_url(booking.pk, action), body), status, code)
    assert Booking.objects.get(pk=booking.pk).updated_at == booking.updated_at


@pytest.mark.parametrize("action", ["approve", "deny", "cancel"])
def test_decisions_on_an_unknown_booking_are_a_404(api, setup, action):
    body = {"eventProcedure": 0} if action == "cancel" else {"clientBookingLastUpdatedAt": utc(timezone.now())}
    assert_error(post(api.manager, booking_url("7d1c9a0e-1111-4222-8333-444455556666", action), body), 404,
                 "NOT_FOUND")


# === POST /bookings/{id}/deny =======================================================================


def test_deny_releases_the_hold_and_emails_the_booker(api, setup, django_capture_on_commit_callbacks):
    booking = pending(setup)
    hold = event_of(booking)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api.manager, booking_url(booking.pk, "deny"), {
            "clientBookingLastUpdatedAt": stamp(booking),
            "notification": {"message": "<p>We are fully booked that week.</p>"}})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"booking"}
    item = check_booking(body["booking"])
    assert (item["status"], item["events"][0]["eventId"]) == (BookingStatus.DENIED, None)
    assert not Event.objects.filter(pk=hold.pk).exists()
    (message,) = mail.outbox
    assert message.to == [BOOKER] and "fully booked" in message.body


@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [({"clientBookingLastUpdatedAt": None}, "clientBookingLastUpdatedAt", "REQUIRED"),
     ({"clientBookingLastUpdatedAt": "last week"}, "clientBookingLastUpdatedAt", "INVALID"),
     ({"notification": {"send": "no thanks"}}, "notification.send", "INVALID"),
     ({"notification": {"message": 42 * "x" * 500}}, "notification.message", "MAX_LENGTH")],
    ids=["no-timestamp", "timestamp-not-a-time", "notification-send", "message-too-long"],
)
def test_deny_rejects_bad_input(api, setup, extra, field, code):
    booking = pending(setup)
    body = {"clientBookingLastUpdatedAt": stamp(booking), **extra}
    body = {k: v for k, v in body.items() if v is not None}
    assert_error(post(api.manager, booking_url(booking.pk, "deny"), body), 400, code, field)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING


def test_deny_of_a_booking_changed_since_it_was_read_is_a_409_stale_booking(api, setup):
    booking = pending(setup)
    read_at = stamp(booking)
    booking_update(booking_id=booking.pk, actor=setup.staff,
                   changes={"customerId": str(CustomerFactory(organization=setup.org).pk)})

    response = post(api.manager, booking_url(booking.pk, "deny"), {"clientBookingLastUpdatedAt": read_at})
    assert_error(response, 409, "STALE_BOOKING", "clientBookingLastUpdatedAt")
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING


@pytest.mark.parametrize("status", [BookingStatus.APPROVED, BookingStatus.DENIED, BookingStatus.CANCELED])
def test_deny_of_a_decided_booking_is_a_409_invalid_transition(api, setup, status):
    booking = in_status(setup, status)
    assert_error(post(api.manager, booking_url(booking.pk, "deny"), {"clientBookingLastUpdatedAt": stamp(booking)}),
                 409, "INVALID_TRANSITION")
    assert Booking.objects.get(pk=booking.pk).status == status


# === POST /bookings/{id}/cancel =====================================================================


def test_cancel_with_procedure_0_marks_the_events_canceled(api, setup, django_capture_on_commit_callbacks):
    booking = approved(setup)
    event = event_of(booking)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api.manager, booking_url(booking.pk, "cancel"), {"eventProcedure": 0})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"booking", "event", "events"}
    item = check_booking(body["booking"])
    assert item["status"] == BookingStatus.CANCELED
    assert item["events"][0]["eventId"] == str(event.pk)
    assert check_event(body["event"])["id"] == str(event.pk)
    assert body["event"]["status"] == EventStatus.CANCELED
    assert body["events"] == [body["event"]]
    assert not Reservation.objects.filter(event=event, active=True).exists()  # the room is free again
    assert [m.subject for m in mail.outbox] == ["Your booking was canceled: Team meeting"]


def test_cancel_with_procedure_1_deletes_the_events(api, setup):
    booking = approved(setup)
    event = event_of(booking)
    response = post(api.manager, booking_url(booking.pk, "cancel"), {"eventProcedure": 1, "notification":
                                                                     {"send": False}})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"booking", "events"}  # no event: it is gone
    assert body["events"] == []
    item = check_booking(body["booking"])
    assert (item["status"], item["events"][0]["eventId"]) == (BookingStatus.CANCELED, None)
    assert not Event.objects.filter(pk=event.pk).exists()
    # The freed slot can be requested again.
    assert post(api.public, SUBMIT, submit_body(setup)).status_code == 201


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [({}, "eventProcedure", "REQUIRED"), ({"eventProcedure": 2}, "eventProcedure", "INVALID_CHOICE"),
     ({"eventProcedure": "delete"}, "eventProcedure", "INVALID_CHOICE"),
     ({"eventProcedure": True}, "eventProcedure", "INVALID_CHOICE"),
     ({"eventProcedure": 0, "notification": []}, "notification", "INVALID")],
    ids=["missing", "unknown", "text", "boolean", "notification-a-list"],
)
def test_cancel_rejects_bad_input(api, setup, body, field, code):
    booking = approved(setup)
    assert_error(post(api.manager, booking_url(booking.pk, "cancel"), body), 400, code, field)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.APPROVED


@pytest.mark.parametrize("status", [BookingStatus.PENDING, BookingStatus.DENIED, BookingStatus.CANCELED])
def test_cancel_of_a_booking_that_is_not_approved_is_a_409_invalid_transition(api, setup, status):
    booking = in_status(setup, status)
    assert_error(post(api.manager, booking_url(booking.pk, "cancel"), {"eventProcedure": 1}), 409,
                 "INVALID_TRANSITION")
    assert Booking.objects.get(pk=booking.pk).status == status


# === tenant isolation ===============================================================================

FOREIGN_CALLS = [
    ("get", "", lambda b: None, BookingStatus.PENDING),
    ("patch", "", lambda b: {"customerId": ""}, BookingStatus.PENDING),
    ("post", "approve", lambda b: {"clientBookingLastUpdatedAt": stamp(b)}, BookingStatus.PENDING),
    ("post", "deny", lambda b: {"clientBookingLastUpdatedAt": stamp(b)}, BookingStatus.PENDING),
    ("post", "cancel", lambda b: {"eventProcedure": 1}, BookingStatus.APPROVED),
]


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER, Role.VIEWER])
@pytest.mark.parametrize(("method", "action", "body", "status"), FOREIGN_CALLS,
                         ids=[f"{m}-{a or 'detail'}" for m, a, *_ in FOREIGN_CALLS])
def test_another_organizations_token_gets_404_for_each_booking_endpoint(api, other, setup, role, method, action,
                                                                        body, status):
    booking = in_status(setup, status)
    client = other[role]
    data = body(booking)
    kwargs = {"format": "json"} if method != "get" else {}
    response = getattr(client, method)(booking_url(booking.pk, action), data, **kwargs)

    assert_error(response, 404, "NOT_FOUND")
    after = Booking.objects.get(pk=booking.pk)
    assert (after.status, after.updated_at) == (booking.status, booking.updated_at)
    # The same call from setup's own manager would have worked: the 404 is isolation, not a bad request.
    own = getattr(api.manager, method)(booking_url(booking.pk, action), data, **kwargs)
    assert own.status_code == 200, own.json()


@pytest.mark.parametrize(
    ("url", "extra"),
    [(BOOKINGS, {}), (SUBMIT, {"submission": False})],
    ids=["post-bookings", "submit-submission-false"],
)
@pytest.mark.parametrize("org", ["setup", "own"], ids=["orgId-of-A", "orgId-of-B"])
def test_another_organizations_token_cannot_create_inside_it(api, other, setup, url, extra, org):
    body = {**create_body(setup, 1), **extra}
    if org == "own":  # B names its own organization but A's module and portal
        body["orgId"] = str(other.setup.org.pk)
    response = post(other[Role.OWNER], url, body)

    assert_error(response, 404, "NOT_FOUND")
    assert not Booking.objects.exists()


def test_another_organizations_list_holds_none_of_its_bookings(api, other, setup):
    mine = [approved(setup).pk, pending(setup, setup.event(start=future(8))).pk]
    theirs = approved(other.setup).pk

    for role in (Role.OWNER, Role.VIEWER):
        body = other[role].get(BOOKINGS, {"returnEvents": "true"}).json()
        assert list(body["bookings"]) == [str(theirs)]
        assert {e["bookingId"] for e in body["associatedEvents"]} == {str(theirs)}
        # Filtering by A's module or portal finds nothing either.
        for query in ({"bookingModuleId": str(setup.module.pk)}, {"portalId": str(setup.portal.pk)}):
            assert other[role].get(BOOKINGS, query).json()["bookings"] == {}
    assert set(api.viewer.get(BOOKINGS).json()["bookings"]) == {str(pk) for pk in mine}
