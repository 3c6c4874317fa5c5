"""POST /bookings with `submission: true` (docs/architecture.md#booking-lifecycle): staff record a request on a
booker's behalf. It is PENDING, stored as a submission, and the booker gets the "received" email with the
private link, as after a public submit; any other bookingStatus is 400 INVALID."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from bookings.lifecycle.submit import ON_BEHALF_NOTE
from bookings.models import Booking, BookingLog, BookingStatus
from events.models import Event, EventStatus
from notifications.models import Notification
from tests.api.booking_helpers import (
    BOOKER,
    BOOKINGS,
    ROLE_ERRORS,
    ROLE_IDS,
    SUBMIT,
    check_booking,
    check_event,
    create_body,
    post,
    submit_body,
)
from tests.api.conftest import assert_error
from tests.factories import WebhookEndpointFactory
from webhooks.models import WebhookDelivery

LINK = re.compile(r"/b/([A-Za-z0-9_-]{20,})/")


def _on_behalf(setup, status: int | None = None, **extra) -> dict:
    return {**create_body(setup, status, **extra), "submission": True}


def test_a_request_recorded_on_the_bookers_behalf(api, setup, django_capture_on_commit_callbacks):
    WebhookEndpointFactory(organization=setup.org)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api.manager, BOOKINGS, _on_behalf(setup))

    assert response.status_code == 201, response.json()
    body = response.json()
    booking = check_booking(body["booking"])
    assert (booking["status"], booking["submission"]) == (BookingStatus.PENDING, True)
    stored = Booking.objects.get(pk=booking["id"])
    assert (stored.status, stored.submission, stored.decided_by) == (BookingStatus.PENDING, True, None)
    assert [check_event(e)["status"] for e in body["events"]] == [EventStatus.TENTATIVE]  # the module holds
    assert "accessToken" not in body  # the link is the booker's: it goes to them only
    log = BookingLog.objects.get(booking=stored)
    assert (log.action, log.note, log.actor_user) == ("create", ON_BEHALF_NOTE, setup.manager)
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == ["booking.submitted"]

    received = [m for m in mail.outbox if m.to == [BOOKER]]
    assert len(received) == 1 and "received" in received[0].subject.lower()
    token = LINK.search(received[0].body).group(1)
    assert Client().get(f"/b/{token}/").status_code == 200  # the private link works
    assert [m.to for m in mail.outbox if m.to != [BOOKER]] == [[setup.admin.email]]  # the module admin's


def test_notification_does_not_apply_the_booker_gets_the_link(api, setup, django_capture_on_commit_callbacks):
    """As in the reference: with submission true, notification is ignored; without the email the booker would
    have no private link."""
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api.manager, BOOKINGS, _on_behalf(setup, notification={"send": False}))
    assert response.status_code == 201, response.json()
    assert [m.to for m in mail.outbox if LINK.search(m.body)] == [[BOOKER]]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(None, 201), (0, 201), (1, 400), (2, 400), (3, 400)],
    ids=["status-left-out", "pending", "approved", "denied", "canceled"],
)
def test_each_booking_status_with_submission_true(api, setup, status, outcome):
    response = post(api.manager, BOOKINGS, _on_behalf(setup, status))
    if outcome == 201:
        assert response.status_code == 201, response.json()
        assert (response.json()["booking"]["status"], response.json()["booking"]["submission"]) == (0, True)
    else:
        assert_error(response, 400, "INVALID", "bookingStatus")
        assert not Booking.objects.exists() and not Event.objects.exists() and not Notification.objects.exists()


@pytest.mark.parametrize(
    ("submission", "status", "stored"),
    [(None, 1, (1, False)), (False, 1, (1, False)), (False, 0, (0, False)), (True, 0, (0, True))],
    ids=["left-out-is-staff", "false-approved", "false-pending", "true-pending"],
)
def test_submission_is_stored_as_sent(api, setup, submission, status, stored):
    body = create_body(setup, status)
    if submission is not None:
        body["submission"] = submission
    response = post(api.manager, BOOKINGS, body)
    assert response.status_code == 201, response.json()
    assert tuple(Booking.objects.values_list("status", "submission").get()) == stored


@pytest.mark.parametrize(("client", "status", "code"), ROLE_ERRORS, ids=ROLE_IDS)
def test_recording_a_request_needs_a_manager(api, setup, client, status, code):
    assert_error(post(client(api), BOOKINGS, _on_behalf(setup)), status, code)
    assert not Booking.objects.exists() and not Notification.objects.exists()


def test_a_module_of_another_organization_is_a_404(api, other, setup):
    body = _on_behalf(setup, bookingModuleId=str(other.setup.module.pk), orgId=str(other.setup.org.pk))
    assert_error(post(api.manager, BOOKINGS, body), 404)
    assert not Booking.objects.exists()


def test_the_submit_endpoint_with_submission_true_stays_the_public_submit(api, setup):
    """POST /bookings/submit with submission true is a booker's request whoever sends it; staff's is POST
    /bookings."""
    response = post(api.manager, SUBMIT, submit_body(setup))
    assert response.status_code == 201, response.json()
    assert "accessToken" in response.json() and "internalNotes" not in response.json()["booking"]


def test_query_budget(api, setup, django_assert_max_num_queries):
    post(api.manager, BOOKINGS, _on_behalf(setup))  # warms the configuration cache
    body = _on_behalf(setup, event=setup.event(resources=[setup.hall]))
    with django_assert_max_num_queries(25):  # 24 on SQLite; as a staff pending create that emails
        response = post(api.manager, BOOKINGS, body)
    assert response.status_code == 201, response.json()
