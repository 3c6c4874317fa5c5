"""The booking endpoints over HTTP (docs/architecture.md#http-api-conventions): exact response shapes, every
error status each endpoint can give (with the error body), tenant isolation, paging and filters, and the
query budget of the list.

This module: approve, deny and cancel, and tenant isolation across every booking endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from bookings.lifecycle.change_requests import change_request_submit
from bookings.lifecycle.decide import booking_update
from bookings.models import Booking, BookingEvent, BookingStatus
from core.actor import Actor
from events.models import Event, EventStatus, Reservation
from resources.models import Role
from tests.api.booking_helpers import (
    BOOKER,
    BOOKINGS,
    ROLE_ERRORS,
    ROLE_IDS,
    SUBMIT,
    approved,
    booking_url,
    check_booking,
    check_event,
    create_body,
    event_of,
    in_status,
    local,
    pending,
    post,
    stamp,
    submit_body,
    utc,
)
from tests.api.conftest import Api, assert_error
from tests.conftest import future
from tests.factories import ContactFactory, CustomerFactory

# === POST /bookings/{id}/approve ====================================================================


def test_approve_confirms_the_requested_time(api, setup, django_capture_on_commit_callbacks):
    booking = pending(setup)
    hold = event_of(booking)
    read = api.manager.get(booking_url(booking.pk)).json()["booking"]

    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            api.manager,
            booking_url(booking.pk, "approve"),
            {"clientBookingLastUpdatedAt": read["lastUpdatedAt"], "event": {}},
        )

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
        read["events"][0]["start"],
        read["events"][0]["end"],
        read["events"][0]["resourceIds"],
    )
    assert item["events"][0]["eventId"] == event["id"]
    assert [(m.to, m.subject) for m in mail.outbox] == [([BOOKER], "Your booking is confirmed: Team meeting")]


def test_approve_applies_staff_edits_to_a_single_event(api, setup):
    booking = pending(setup)
    start = future(10, 16)
    edit = {
        "start": utc(start),
        "end": utc(start + timedelta(minutes=90)),
        "title": "Moved",
        "resourceIds": [str(setup.hall.pk)],
    }
    response = post(
        api.manager, booking_url(booking.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(booking), "event": edit}
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["event"]["start"], body["event"]["end"], body["event"]["title"], body["event"]["resourceIds"]) == (
        edit["start"],
        edit["end"],
        "Moved",
        [str(setup.hall.pk)],
    )
    assert body["event"]["startLocal"] == local(start)
    item = body["booking"]["events"][0]
    assert (item["start"], item["title"], item["resourceIds"]) == (edit["start"], "Moved", [str(setup.hall.pk)])
    assert Reservation.objects.get(event_id=body["event"]["id"]).resource_id == setup.hall.pk


def test_approve_edits_name_their_booking_event_in_a_multi_event_booking(api, setup):
    booking = pending(setup, setup.event(start=future(7, 9)), setup.event(start=future(8, 9)))
    first, second = BookingEvent.objects.filter(booking=booking).order_by("order")
    moved = future(8, 13)
    response = post(
        api.manager,
        booking_url(booking.pk, "approve"),
        {
            "clientBookingLastUpdatedAt": stamp(booking),
            "events": [{"bookingEventId": str(second.pk), "start": utc(moved), "end": utc(moved + timedelta(hours=1))}],
        },
    )

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
    body = {
        "clientBookingLastUpdatedAt": stamp(booking),
        "customerId": str(customer.pk),
        "contactId": str(contact.pk),
        "notification": {"send": False},
    }

    assert_error(post(api.manager, booking_url(booking.pk, "approve"), body), 400, "TOO_LONG", "event.end")
    response = post(api.manager, booking_url(booking.pk, "approve"), {**body, "overrideRules": True})
    assert response.status_code == 200, response.json()
    item = response.json()["booking"]
    assert (item["customerId"], item["contactId"], item["status"]) == (str(customer.pk), str(contact.pk), 1)


def _two_event_booking(setup):
    return pending(setup, setup.event(start=future(7, 9)), setup.event(start=future(8, 9)))


APPROVE_400 = [
    ("no-timestamp", lambda b: {}, "clientBookingLastUpdatedAt", "REQUIRED"),
    (
        "timestamp-not-a-time",
        lambda b: {"clientBookingLastUpdatedAt": "yesterday"},
        "clientBookingLastUpdatedAt",
        "INVALID",
    ),
    ("both-event-and-events", lambda b: {"event": {}, "events": [{}]}, "events", "INVALID"),
    ("edit-start-invalid", lambda b: {"event": {"start": "noon"}}, "event.start", "INVALID"),
    ("edit-end-before-start", lambda b: {"event": {"end": utc(future(7, 8))}}, "event.end", "END_BEFORE_START"),
    (
        "edit-resource-not-offered",
        lambda b: {"event": {"resourceIds": ["7d1c9a0e-1111-4222-8333-444455556666"]}},
        "event.resourceIds",
        "RESOURCE_NOT_OFFERED",
    ),
    (
        "edit-unknown-booking-event",
        lambda b: {
            "events": [
                {"bookingEventId": "7d1c9a0e-1111-4222-8333-444455556666"},
                {"bookingEventId": "7d1c9a0e-1111-4222-8333-444455556667"},
            ]
        },
        "events[0].bookingEventId",
        "NOT_FOUND",
    ),
    ("customerId-not-uuid", lambda b: {"customerId": "acme"}, "customerId", "INVALID"),
    ("customerId-unknown", lambda b: {"customerId": "7d1c9a0e-1111-4222-8333-444455556666"}, "customerId", "NOT_FOUND"),
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
    response = post(
        api.manager,
        booking_url(booking.pk, "approve"),
        {
            "clientBookingLastUpdatedAt": stamp(booking),
            "events": [{"bookingEventId": str(first.pk)}, {"bookingEventId": str(second.pk), "start": "dawn"}],
        },
    )
    assert_error(response, 400, "INVALID", "events[1].start")


def test_approve_of_a_booking_changed_since_it_was_read_is_a_409_stale_booking(api, setup):
    booking = pending(setup)
    read = api.manager.get(booking_url(booking.pk)).json()["booking"]
    change_request_submit(
        booking_id=booking.pk, actor=Actor.booker(BOOKER), events=[{"title": "Renamed by the booker"}]
    )

    response = post(
        api.manager, booking_url(booking.pk, "approve"), {"clientBookingLastUpdatedAt": read["lastUpdatedAt"]}
    )
    body = assert_error(response, 409, "STALE_BOOKING", "clientBookingLastUpdatedAt")
    assert body["errors"][0]["lastUpdatedAt"]
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING
    # Re-read, decide again: it goes through.
    again = post(
        api.manager,
        booking_url(booking.pk, "approve"),
        {"clientBookingLastUpdatedAt": api.manager.get(booking_url(booking.pk)).json()["booking"]["lastUpdatedAt"]},
    )
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
    response = post(
        api.manager, booking_url(booking.pk, "approve"), {"clientBookingLastUpdatedAt": stamp(booking), "event": edit}
    )

    body = assert_error(response, 409, "BOOKING_CONFLICT")
    assert body["errors"][0]["conflictingEventIds"] == [str(event_of(taken).pk)]


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
    assert_error(post(api.manager, booking_url("7d1c9a0e-1111-4222-8333-444455556666", action), body), 404, "NOT_FOUND")


# === POST /bookings/{id}/deny =======================================================================


def test_deny_releases_the_hold_and_emails_the_booker(api, setup, django_capture_on_commit_callbacks):
    booking = pending(setup)
    hold = event_of(booking)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            api.manager,
            booking_url(booking.pk, "deny"),
            {
                "clientBookingLastUpdatedAt": stamp(booking),
                "notification": {"message": "<p>We are fully booked that week.</p>"},
            },
        )

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
    [
        ({"clientBookingLastUpdatedAt": None}, "clientBookingLastUpdatedAt", "REQUIRED"),
        ({"clientBookingLastUpdatedAt": "last week"}, "clientBookingLastUpdatedAt", "INVALID"),
        ({"notification": {"send": "no thanks"}}, "notification.send", "INVALID"),
        ({"notification": {"message": 42 * "x" * 500}}, "notification.message", "MAX_LENGTH"),
    ],
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
    booking_update(
        booking_id=booking.pk,
        actor=setup.staff,
        changes={"customerId": str(CustomerFactory(organization=setup.org).pk)},
    )

    response = post(api.manager, booking_url(booking.pk, "deny"), {"clientBookingLastUpdatedAt": read_at})
    assert_error(response, 409, "STALE_BOOKING", "clientBookingLastUpdatedAt")
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.PENDING


@pytest.mark.parametrize("status", [BookingStatus.APPROVED, BookingStatus.DENIED, BookingStatus.CANCELED])
def test_deny_of_a_decided_booking_is_a_409_invalid_transition(api, setup, status):
    booking = in_status(setup, status)
    assert_error(
        post(api.manager, booking_url(booking.pk, "deny"), {"clientBookingLastUpdatedAt": stamp(booking)}),
        409,
        "INVALID_TRANSITION",
    )
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
    response = post(
        api.manager, booking_url(booking.pk, "cancel"), {"eventProcedure": 1, "notification": {"send": False}}
    )

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
    [
        ({}, "eventProcedure", "REQUIRED"),
        ({"eventProcedure": 2}, "eventProcedure", "INVALID_CHOICE"),
        ({"eventProcedure": "delete"}, "eventProcedure", "INVALID_CHOICE"),
        ({"eventProcedure": True}, "eventProcedure", "INVALID_CHOICE"),
        ({"eventProcedure": 0, "notification": []}, "notification", "INVALID"),
    ],
    ids=["missing", "unknown", "text", "boolean", "notification-a-list"],
)
def test_cancel_rejects_bad_input(api, setup, body, field, code):
    booking = approved(setup)
    assert_error(post(api.manager, booking_url(booking.pk, "cancel"), body), 400, code, field)
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.APPROVED


@pytest.mark.parametrize("status", [BookingStatus.PENDING, BookingStatus.DENIED, BookingStatus.CANCELED])
def test_cancel_of_a_booking_that_is_not_approved_is_a_409_invalid_transition(api, setup, status):
    booking = in_status(setup, status)
    assert_error(post(api.manager, booking_url(booking.pk, "cancel"), {"eventProcedure": 1}), 409, "INVALID_TRANSITION")
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
@pytest.mark.parametrize(
    ("method", "action", "body", "status"), FOREIGN_CALLS, ids=[f"{m}-{a or 'detail'}" for m, a, *_ in FOREIGN_CALLS]
)
def test_another_organizations_token_gets_404_for_each_booking_endpoint(
    api, other, setup, role, method, action, body, status
):
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
