"""The booking endpoints over HTTP (docs/architecture.md#http-api-conventions): exact response shapes, every
error status each endpoint can give (with the error body), tenant isolation, paging and filters, and the
query budget of the list.

This module: POST /bookings (staff create) and PATCH /bookings/{id}."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from bookings.models import Booking
from core.api.etags import etag_of
from core.time import iso
from events.models import EventStatus
from events.services.saving import events_save
from events.services.scheduling import EventSpec
from resources.models import Role
from tests.api.booking_helpers import (
    BOOKER,
    BOOKINGS,
    bad_token_client,
    booking_url,
    check_booking,
    check_event,
    create_body,
    event_of,
    outsider_client,
    pending,
    post,
    utc,
)
from tests.api.conftest import assert_error
from tests.conftest import future
from tests.factories import ContactFactory, CustomerFactory

# === POST /bookings (staff create) ==================================================================


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
    (event,) = events_save(
        organization=setup.org,
        status=EventStatus.TENTATIVE,
        specs=[EventSpec(title="Board", start=start, end=start + timedelta(hours=2), resource_ids=[setup.hall.pk])],
    )
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
    api, setup, django_capture_on_commit_callbacks
):
    customer, contact = CustomerFactory(organization=setup.org), ContactFactory(organization=setup.org)
    body = create_body(
        setup,
        1,
        customerId=str(customer.pk),
        contactId=str(contact.pk),
        notification={"subject": "See you soon", "message": "<p>Bring <b>slides</b></p>"},
    )
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
    (
        "eventId-unknown",
        {"bookingStatus": 1, "eventId": "7d1c9a0e-1111-4222-8333-444455556666"},
        "eventId",
        "NOT_FOUND",
    ),
    (
        "eventId-on-pending",
        {"bookingStatus": 0, "eventId": "7d1c9a0e-1111-4222-8333-444455556666"},
        "eventId",
        "INVALID",
    ),
    ("customerId-not-uuid", {"customerId": "acme"}, "customerId", "INVALID"),
    ("customerId-unknown", {"customerId": "7d1c9a0e-1111-4222-8333-444455556666"}, "customerId", "NOT_FOUND"),
    ("contactId-unknown", {"contactId": "7d1c9a0e-1111-4222-8333-444455556666"}, "contactId", "NOT_FOUND"),
    ("overrideRules-not-bool", {"overrideRules": "sure"}, "overrideRules", "INVALID"),
    ("notification-not-object", {"notification": "yes"}, "notification", "INVALID"),
    ("notification-subject-too-long", {"notification": {"subject": "s" * 301}}, "notification.subject", "MAX_LENGTH"),
    ("no-orgId", {"orgId": None}, "orgId", "REQUIRED"),
    (
        "event-start-invalid",
        {"event": {"title": "x", "start": "x", "end": "y", "resourceIds": []}},
        "event.start",
        "INVALID",
    ),
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
    [
        (lambda api: api.public, 401, "NOT_AUTHENTICATED"),
        (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
        (lambda api: api.viewer, 403, "PERMISSION_DENIED"),
        (lambda api: outsider_client(), 403, "PERMISSION_DENIED"),
    ],
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

    response = api.manager.patch(
        booking_url(booking.pk), {"customerId": str(customer.pk), "contactId": str(contact.pk)}, format="json"
    )
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

    fresh = api.manager.patch(
        booking_url(booking.pk), {"customerId": str(customer.pk)}, format="json", HTTP_IF_MATCH=etag
    )
    assert fresh.status_code == 200, fresh.json()
    assert fresh["ETag"] != etag

    stale = api.manager.patch(booking_url(booking.pk), {"customerId": ""}, format="json", HTTP_IF_MATCH=etag)
    assert_error(stale, 412, "PRECONDITION_FAILED", "If-Match")
    assert Booking.objects.get(pk=booking.pk).customer_id == customer.pk
    assert (
        api.manager.patch(booking_url(booking.pk), {"customerId": ""}, format="json", HTTP_IF_MATCH="*").status_code
        == 200
    )


PATCH_400 = [
    ("title", {"title": "Renamed"}, "title", "IMMUTABLE_FIELD"),
    ("status", {"status": 1}, "status", "IMMUTABLE_FIELD"),
    ("events", {"events": []}, "events", "IMMUTABLE_FIELD"),
    ("internalNotes-a-list", {"internalNotes": ["x"], "customerId": ""}, "internalNotes", "INVALID"),
    ("internalNotes-null", {"internalNotes": None}, "internalNotes", "REQUIRED"),
    ("internalNotes-too-long", {"internalNotes": "x" * 20001}, "internalNotes", "MAX_LENGTH"),
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
    assert_error(
        api.manager.patch(booking_url(booking.pk), {"customerId": str(foreign.pk)}, format="json"),
        400,
        "NOT_FOUND",
        "customerId",
    )


@pytest.mark.parametrize(
    ("client", "status", "code"),
    [
        (lambda api: api.public, 401, "NOT_AUTHENTICATED"),
        (lambda api: bad_token_client(), 401, "NOT_AUTHENTICATED"),
        (lambda api: api.viewer, 403, "PERMISSION_DENIED"),
    ],
    ids=["no-token", "bad-token", "viewer"],
)
def test_patch_needs_a_manager(api, setup, client, status, code):
    booking = pending(setup)
    assert_error(client(api).patch(booking_url(booking.pk), {"customerId": ""}, format="json"), status, code)
    assert Booking.objects.get(pk=booking.pk).updated_at == booking.updated_at


def test_patch_of_an_unknown_booking_is_a_404(api, setup):
    assert_error(
        api.manager.patch(booking_url("7d1c9a0e-1111-4222-8333-444455556666"), {"customerId": ""}, format="json"),
        404,
        "NOT_FOUND",
    )
