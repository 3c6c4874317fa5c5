"""Staff's internal notes on a booking (docs/architecture.md#booking-lifecycle): set on POST /bookings and
changed by PATCH /bookings/{id} (manager and above), logged before/after, shown to staff (the API, the admin,
the organization's webhooks) and never in anything a booker or the public sees."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client

from bookings.lifecycle.decide import booking_approve
from bookings.lifecycle.submit import booking_create
from bookings.models import Booking, BookingLog, BookingStatus
from feeds.services import feed_create
from notifications.models import Notification
from resources.models import Role
from tests.api.booking_helpers import (
    BOOKINGS,
    CR_SUBMIT,
    ROLE_ERRORS,
    ROLE_IDS,
    SUBMIT,
    booking_url,
    check_booking,
    create_body,
    pending,
    post,
    submit_body,
)
from tests.api.conftest import assert_error
from tests.conftest import future
from tests.factories import WebhookEndpointFactory
from tests.notifications import test_golden
from tests.notifications.test_golden import CASE_KINDS, CASES, send_all
from webhooks.models import WebhookDelivery

SECRET = "ZEBRA-7741 staff only: slow payer"


def _log(booking_id, action: str) -> BookingLog:
    return BookingLog.objects.filter(booking_id=booking_id, action=action).get()


# === setting them ===================================================================================


def test_a_staff_create_stores_shows_and_logs_the_notes(api, setup):
    response = post(api.manager, BOOKINGS, create_body(setup, 1, internalNotes=SECRET))

    assert response.status_code == 201, response.json()
    booking = check_booking(response.json()["booking"])
    assert booking["internalNotes"] == SECRET
    assert Booking.objects.get(pk=booking["id"]).internal_notes == SECRET
    assert _log(booking["id"], "create").after["internalNotes"] == SECRET
    assert api.viewer.get(booking_url(booking["id"])).json()["booking"]["internalNotes"] == SECRET


def test_a_create_without_notes_logs_none(api, setup):
    booking = post(api.manager, BOOKINGS, create_body(setup, 1)).json()["booking"]
    assert booking["internalNotes"] == ""
    assert "internalNotes" not in _log(booking["id"], "create").after


def test_patch_changes_the_notes_and_logs_before_and_after(api, setup, django_assert_max_num_queries):
    booking = pending(setup)
    first = api.manager.patch(booking_url(booking.pk), {"internalNotes": "Call first"}, format="json")
    assert first.status_code == 200, first.json()

    with django_assert_max_num_queries(15):  # as a customer change, less its lookup
        response = api.manager.patch(booking_url(booking.pk), {"internalNotes": SECRET}, format="json")

    assert response.status_code == 200, response.json()
    assert check_booking(response.json()["booking"])["internalNotes"] == SECRET
    logs = list(BookingLog.objects.filter(booking=booking, action="update").order_by("created_at"))
    assert [(log.before, log.after, log.note) for log in logs] == [
        ({"internalNotes": None}, {"internalNotes": "Call first"}, "internal notes edited"),
        ({"internalNotes": "Call first"}, {"internalNotes": SECRET}, "internal notes edited"),
    ]
    cleared = api.manager.patch(booking_url(booking.pk), {"internalNotes": ""}, format="json")
    assert cleared.json()["booking"]["internalNotes"] == ""


def test_patch_with_the_same_notes_logs_no_change(api, setup):
    booking = pending(setup)
    api.manager.patch(booking_url(booking.pk), {"internalNotes": SECRET}, format="json")
    api.manager.patch(booking_url(booking.pk), {"internalNotes": SECRET}, format="json")
    notes_logs = [log for log in BookingLog.objects.filter(booking=booking, action="update") if log.after]
    assert len(notes_logs) == 1


@pytest.mark.parametrize(("client", "status", "code"), ROLE_ERRORS, ids=ROLE_IDS)
@pytest.mark.parametrize("how", ["create", "patch"])
def test_setting_notes_needs_a_manager(api, setup, client, status, code, how):
    if how == "create":
        assert_error(post(client(api), BOOKINGS, create_body(setup, 1, internalNotes=SECRET)), status, code)
        assert not Booking.objects.exists()
    else:
        booking = pending(setup)
        response = client(api).patch(booking_url(booking.pk), {"internalNotes": SECRET}, format="json")
        assert_error(response, status, code)
        assert Booking.objects.get(pk=booking.pk).internal_notes == ""


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN, Role.OWNER])
@pytest.mark.parametrize("how", ["create", "patch"])
def test_managers_and_above_set_notes(api, setup, role, how):
    if how == "create":
        response = post(api[role], BOOKINGS, create_body(setup, 0, internalNotes=SECRET))
        assert response.status_code == 201, response.json()
    else:
        response = api[role].patch(booking_url(pending(setup).pk), {"internalNotes": SECRET}, format="json")
        assert response.status_code == 200, response.json()
    assert Booking.objects.get().internal_notes == SECRET


def test_another_organizations_booking_is_a_404(api, other, setup):
    theirs = pending(other.setup)
    assert_error(api.manager.patch(booking_url(theirs.pk), {"internalNotes": SECRET}, format="json"), 404)
    assert Booking.objects.get(pk=theirs.pk).internal_notes == ""


def test_the_public_cannot_send_notes(api, setup):
    response = post(api.public, SUBMIT, submit_body(setup, internalNotes=SECRET))
    assert_error(response, 400, "NOT_ALLOWED", "internalNotes")
    assert not Booking.objects.exists()


def test_staff_create_through_the_submit_endpoint_takes_notes(api, setup):
    body = submit_body(setup, submission=False, bookingStatus=1, internalNotes=SECRET)
    response = post(api.manager, SUBMIT, body)
    assert response.status_code == 201, response.json()
    assert response.json()["booking"]["internalNotes"] == SECRET


# === the organization's webhooks carry them ============================================================


def test_webhooks_carry_the_notes(api, setup):
    """Webhooks go to the organization's own systems, with the staff representation
    (docs/architecture.md#webhooks)."""
    WebhookEndpointFactory(organization=setup.org)
    post(api.manager, BOOKINGS, create_body(setup, 1, internalNotes=SECRET))
    delivery = WebhookDelivery.objects.get(event_type="booking.approved")
    assert delivery.data["booking"]["internalNotes"] == SECRET


# === never where a booker or the public looks ===========================================================


@pytest.fixture
def noted(setup):
    """A request staff recorded on the booker's behalf with notes, approved; its private link."""
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        contact={"name": "Ada Lovelace", "email": "ada@example.com"},
        events=[setup.event(start=future(5, 10), title="Choir")],
        single_event=True,
        portal=setup.portal,
        submission=True,
        internal_notes=SECRET,
    )
    booking_approve(booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=None)
    return result.booking, result.access_token


def _private_page(setup, booking, token):
    return Client().get(f"/b/{token}/")


def _private_ics(setup, booking, token):
    return Client().get(f"/b/{token}/events.ics")


def _private_change_form(setup, booking, token):
    return Client().get(f"/b/{token}/change/")


def _private_cancel_form(setup, booking, token):
    return Client().get(f"/b/{token}/cancel/")


def _org_feed(setup, booking, token):
    feed = feed_create(organization=setup.org, name="Everything", created_by=setup.manager)
    return Client().get(feed.get_path())


def _public_module(setup, booking, token):
    return Client().get(f"/api/v1/public/booking-modules/{setup.module.pk}")


def _public_availability(setup, booking, token):
    start = future(5, 0)
    query = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    return Client().get(f"/api/v1/public/booking-modules/{setup.module.pk}/availability", query)


def _public_calendar(setup, booking, token):
    return Client().get(f"/p/{setup.portal.slug}/{setup.module.slug}/calendar/", {"date": future(5).date()})


def _change_request_answer(setup, booking, token):
    """The booker's change request (the private page's API): its answer shows the booking as the booker may."""
    body = {"bookingId": str(booking.pk), "accessToken": token, "cancellation": True}
    response = Client().post(CR_SUBMIT, json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return response


BOOKER_OUTPUTS = [
    _private_page,
    _private_ics,
    _private_change_form,
    _private_cancel_form,
    _org_feed,
    _public_module,
    _public_availability,
    _public_calendar,
    _change_request_answer,
]


@pytest.mark.parametrize("output", BOOKER_OUTPUTS, ids=[f.__name__.strip("_") for f in BOOKER_OUTPUTS])
def test_notes_never_reach_what_a_booker_or_the_public_sees(setup, noted, output):
    booking, token = noted
    response = output(setup, booking, token)
    assert response.status_code in (200, 201), response.status_code
    text = response.content.decode()
    assert "ZEBRA-7741" not in text and "internalNotes" not in text


def test_notes_never_reach_the_emails_of_a_staff_recorded_request(setup, noted, django_capture_on_commit_callbacks):
    """The emails this booking's life wrote (received, new request, approved), as the worker sends them."""
    kinds = list(Notification.objects.order_by("pk").values_list("kind", flat=True))
    assert sorted(kinds) == ["admin_new_request", "booking_approved", "booking_received"]
    for message in send_all():
        assert "ZEBRA-7741" not in test_golden.message_text(message)
    for snapshot in Notification.objects.values_list("snapshot", flat=True):
        assert "ZEBRA-7741" not in json.dumps(snapshot)


@pytest.mark.parametrize("case", sorted(CASES))
def test_notes_never_reach_any_email_kind(db, monkeypatch, case):
    """Every email kind (the golden cases of tests/notifications/test_golden.py), written for a booking with
    notes and rendered by the worker."""
    made = test_golden.booking_with_events

    def with_notes(world, **kwargs):
        booking, events = made(world, **kwargs)
        Booking.objects.filter(pk=booking.pk).update(internal_notes=SECRET)
        booking.internal_notes = SECRET
        return booking, events

    monkeypatch.setattr(test_golden, "booking_with_events", with_notes)
    with test_golden.frozen_world():
        world = test_golden.build_world()
        CASES[case](world)
        messages = send_all()
    assert len(messages) == len(CASE_KINDS[case])
    for message in messages:
        assert "ZEBRA-7741" not in test_golden.message_text(message), message.subject
    if case != "webhook_endpoint_disabled":
        assert Booking.objects.filter(internal_notes=SECRET).exists()  # the case did write for a noted booking


def test_a_booker_cancellation_answer_has_no_notes(api, setup):
    result = setup.submit(setup.event())
    Booking.objects.filter(pk=result.booking.pk).update(internal_notes=SECRET)
    body = {"bookingId": str(result.booking.pk), "accessToken": result.access_token, "cancellation": True}
    response = post(api.public, CR_SUBMIT, body)
    assert response.status_code == 200, response.json()  # a pending booking: canceled at once
    assert "ZEBRA-7741" not in response.content.decode()
    assert Booking.objects.get(pk=result.booking.pk).status == BookingStatus.CANCELED
    assert not mail.outbox or all("ZEBRA-7741" not in m.body for m in mail.outbox)
