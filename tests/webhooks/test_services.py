"""Outbound webhooks (docs/architecture.md#webhooks): what each transition emits, the outbox (nothing without a commit),
the signature, retries at 1 minute / 1 hour / 6 hours against a real HTTP server, timeouts, FAILED, and disabling an
endpoint that keeps failing (its organization's owners and admins are emailed)."""

from __future__ import annotations

import socket
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from bookings.lifecycle.change_requests import (
    booking_cancel_by_booker,
    change_request_approve,
    change_request_deny,
    change_request_submit,
)
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny
from bookings.lifecycle.submit import booking_create
from bookings.models import BookingChangeRequest, BookingStatus
from bookings.selectors import booking_payload, change_requests_payload
from core.actor import Actor
from core.errors import BookingConflict, InvalidTransition
from core.time import iso
from events.models import Event, EventStatus
from events.selectors import events_payload
from events.services.single import event_create, event_delete, event_update
from notifications.models import Notification
from resources.models import Role
from tests.conftest import future, postgres_only, race
from tests.factories import MembershipFactory, UserFactory, WebhookDeliveryFactory, WebhookEndpointFactory
from webhooks.delivery import webhook_deliveries_send_due, webhook_delivery_send
from webhooks.models import EVENT_TYPES, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_emit, webhook_endpoint_update

pytestmark = pytest.mark.django_db


def emitted(event_type: str | None = None) -> list[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.order_by("created_at", "id")
    return list(deliveries.filter(event_type=event_type) if event_type else deliveries)


def the_one(event_type: str) -> dict:
    """The payload of the one delivery of this type, checked for the envelope every payload has."""
    [delivery] = emitted(event_type)
    payload = delivery.payload
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["type"] == event_type
    assert payload["timestamp"] == iso(delivery.event_at) and payload["timestamp"].endswith("Z")
    return payload["data"]


def cr_payload(change_request) -> dict:
    [item] = change_requests_payload(BookingChangeRequest.objects.filter(pk=change_request.pk))
    return item


def later_times(days: int) -> list[dict]:
    start = future(days, 15)
    return [{"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}]


# === what each transition emits =========================================================================


def test_booking_lifecycle_emits_each_event_with_the_booking_as_the_staff_api_shows_it(setup, endpoint):
    booking = setup.submit(setup.event(future(7, 10))).booking
    data = the_one("booking.submitted")
    assert data == {"booking": booking_payload(booking, staff=True)}
    assert data["booking"]["status"] == BookingStatus.PENDING and "internalNotes" in data["booking"]

    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    data = the_one("booking.approved")
    assert data == {"booking": booking_payload(booking, staff=True)}
    assert data["booking"]["status"] == BookingStatus.APPROVED and data["booking"]["events"][0]["eventId"]

    booking_cancel(booking_id=booking.pk, actor=setup.staff, event_procedure=0)
    data = the_one("booking.canceled")
    assert data["booking"]["status"] == BookingStatus.CANCELED
    assert data == {"booking": booking_payload(booking, staff=True)}

    denied = setup.submit(setup.event(future(8, 10))).booking
    booking_deny(booking_id=denied.pk, actor=setup.staff, client_last_updated_at=None)
    data = the_one("booking.denied")
    assert data["booking"]["id"] == str(denied.pk) and data["booking"]["status"] == BookingStatus.DENIED
    assert [d.event_type for d in emitted()] == [
        "booking.submitted",
        "booking.approved",
        "booking.canceled",
        "booking.submitted",
        "booking.denied",
    ]


def test_a_bookers_cancellation_of_a_pending_booking_emits_booking_canceled(setup, endpoint):
    booking = setup.submit().booking
    booking_cancel_by_booker(booking_id=booking.pk, actor=Actor.booker("ada@example.com"))
    data = the_one("booking.canceled")
    assert data["booking"]["id"] == str(booking.pk) and data["booking"]["status"] == BookingStatus.CANCELED


def test_change_requests_emit_submitted_approved_and_denied_with_the_request_and_the_booking(setup, endpoint):
    booking = setup.submit(setup.event(future(7, 10))).booking
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    booker = Actor.booker("ada@example.com")

    first = change_request_submit(
        booking_id=booking.pk, actor=booker, events=later_times(7), request_note="Later, please"
    ).change_request
    data = the_one("change_request.submitted")
    assert data["changeRequest"]["id"] == str(first.pk) and data["changeRequest"]["bookingId"] == str(booking.pk)
    assert data["changeRequest"]["requestNote"] == "Later, please"
    assert data["booking"]["id"] == str(booking.pk)
    assert data == {"changeRequest": cr_payload(first), "booking": booking_payload(booking, staff=True)}

    change_request_deny(change_request_id=first.pk, actor=setup.staff)
    data = the_one("change_request.denied")
    assert data == {"changeRequest": cr_payload(first), "booking": booking_payload(booking, staff=True)}

    second = change_request_submit(booking_id=booking.pk, actor=booker, events=later_times(7)).change_request
    change_request_approve(change_request_id=second.pk, actor=setup.staff)
    data = the_one("change_request.approved")
    assert data["changeRequest"]["id"] == str(second.pk)
    # The booking as approved: moved to the requested time.
    assert data["booking"]["events"][0]["start"] == booking_payload(booking, staff=True)["events"][0]["start"]
    assert not emitted("booking.canceled")


def test_an_approved_cancellation_request_emits_the_decision_and_booking_canceled(setup, endpoint):
    booking = setup.submit().booking
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    result = booking_cancel_by_booker(booking_id=booking.pk, actor=Actor.booker("ada@example.com"))
    data = the_one("change_request.submitted")
    assert data["changeRequest"]["cancellation"] is True and data["booking"]["status"] == BookingStatus.APPROVED

    change_request_approve(change_request_id=result.change_request.pk, actor=setup.staff, event_procedure=1)
    assert the_one("change_request.approved")["booking"]["status"] == BookingStatus.CANCELED
    assert the_one("booking.canceled")["booking"]["status"] == BookingStatus.CANCELED


@pytest.mark.parametrize(
    ("status", "event_type"),
    [
        (BookingStatus.PENDING, "booking.submitted"),
        (BookingStatus.APPROVED, "booking.approved"),
        (BookingStatus.DENIED, "booking.denied"),
        (BookingStatus.CANCELED, "booking.canceled"),
    ],
)
def test_a_staff_created_booking_emits_the_event_of_the_status_it_starts_in(setup, endpoint, status, event_type):
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=status,
        contact={"name": "Grace", "email": "grace@example.com"},
        events=[setup.event(future(10, 10))],
        single_event=True,
    )
    assert [d.event_type for d in emitted()] == [event_type]
    assert the_one(event_type) == {"booking": booking_payload(result.booking, staff=True)}


def test_the_events_api_services_emit_event_created_updated_and_deleted(setup, endpoint):
    event = event_create(
        organization=setup.org,
        title="Board meeting",
        start=future(9, 10),
        end=future(9, 11),
        resource_ids=[setup.desks.pk],
    )
    data = the_one("event.created")
    assert data == {"event": events_payload(Event.objects.filter(pk=event.pk))[0]}
    assert data["event"]["title"] == "Board meeting" and data["event"]["resourceIds"] == [str(setup.desks.pk)]

    event_update(event=event, title="Board meeting (moved)", start=future(9, 14), end=future(9, 15))
    event_update(event=event, status=EventStatus.CANCELED)
    first, second = [d.payload["data"]["event"] for d in emitted("event.updated")]
    assert first["title"] == "Board meeting (moved)" and first["status"] == EventStatus.CONFIRMED
    assert second["status"] == EventStatus.CANCELED
    assert second == events_payload(Event.objects.filter(pk=event.pk))[0]

    event_delete(event=Event.objects.get(pk=event.pk))
    data = the_one("event.deleted")
    assert data["event"]["id"] == str(event.pk) and data["event"]["title"] == "Board meeting (moved)"
    assert not Event.objects.filter(pk=event.pk).exists()


def test_every_documented_event_type_is_emitted_somewhere():
    # The list is the API's contract; the tests above cover each entry.
    assert set(EVENT_TYPES) == {
        "booking.submitted",
        "booking.approved",
        "booking.denied",
        "booking.canceled",
        "change_request.submitted",
        "change_request.approved",
        "change_request.denied",
        "event.created",
        "event.updated",
        "event.deleted",
    }


# === the outbox =========================================================================================


def test_a_rolled_back_transition_emits_nothing(setup, endpoint, receiver, django_capture_on_commit_callbacks):
    booking = setup.submit().booking
    WebhookDelivery.objects.all().delete()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
        assert emitted("booking.approved"), "written inside the transaction"
        raise RuntimeError("the surrounding work failed")
    assert emitted() == [] and callbacks == [] and receiver.requests == []
    booking.refresh_from_db()
    assert booking.status == BookingStatus.PENDING


def test_a_refused_transition_emits_nothing(setup, endpoint, receiver, django_capture_on_commit_callbacks):
    first = setup.submit(setup.event(future(7, 10))).booking
    booking_deny(booking_id=first.pk, actor=setup.staff, client_last_updated_at=None)
    before = len(emitted())
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(InvalidTransition):
            booking_approve(booking_id=first.pk, actor=setup.staff, client_last_updated_at=None)
        taken = event_create(
            organization=setup.org,
            title="Taken",
            start=future(12, 10),
            end=future(12, 11),
            resource_ids=[setup.room.pk],
        )
        with pytest.raises(BookingConflict):
            event_create(
                organization=setup.org,
                title="Clash",
                start=future(12, 10),
                end=future(12, 11),
                resource_ids=[setup.room.pk],
            )
    assert [d.event_type for d in emitted()[before:]] == ["event.created"]
    assert [r.json["data"]["event"]["id"] for r in receiver.requests] == [str(taken.pk)]


def test_unsubscribed_types_inactive_endpoints_and_other_organizations_get_nothing(setup, receiver, other_setup):
    approvals = WebhookEndpointFactory(organization=setup.org, url=receiver.url, event_types=["booking.approved"])
    WebhookEndpointFactory(organization=setup.org, url=receiver.url, active=False)
    WebhookEndpointFactory(organization=other_setup.org, url=receiver.url)
    booking = setup.submit().booking
    assert emitted() == []
    booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=None)
    assert [(d.endpoint_id, d.event_type) for d in emitted()] == [(approvals.pk, "booking.approved")]


def test_one_event_goes_to_every_subscribed_endpoint_with_one_event_id(setup, receiver):
    one = WebhookEndpointFactory(organization=setup.org, url=receiver.url)
    two = WebhookEndpointFactory(organization=setup.org, url=receiver.url, event_types=["booking.submitted"])
    setup.submit()
    deliveries = emitted("booking.submitted")
    assert {d.endpoint_id for d in deliveries} == {one.pk, two.pk}
    assert len({d.event_id for d in deliveries}) == 1 and deliveries[0].payload == deliveries[1].payload


def test_without_endpoints_the_payload_is_never_computed(setup):
    def payload():
        raise AssertionError("computed for nobody")

    assert webhook_emit(organization=setup.org, event_type="booking.approved", payload=payload) == []
    with pytest.raises(ValueError):
        webhook_emit(organization=setup.org, event_type="booking.exploded", payload={})


# === sending ============================================================================================


def test_the_post_carries_the_payload_and_the_standard_headers(
    setup, endpoint, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = setup.submit().booking
    [request] = receiver.requests
    headers = request.headers
    # Signed: tests/webhooks/test_signing.py verifies it as receivers do.
    Webhook(endpoint.secret).verify(request.body, headers)
    assert request.path == "/hooks?source=allot"
    assert headers["Content-Type"] == "application/json"
    body = request.json
    delivery = WebhookDelivery.objects.get()
    assert body == delivery.payload and body["type"] == "booking.submitted"
    assert body["data"]["booking"]["id"] == str(booking.pk)
    assert headers["webhook-id"] == str(delivery.event_id)
    assert headers["Allot-Delivery-Id"] == str(delivery.pk) and headers["Allot-Delivery-Attempt"] == "1"
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1 and delivery.delivered_at
    [attempt] = delivery.attempt_log.all()
    assert (attempt.number, attempt.response_status, attempt.error) == (1, 200, "")
    assert 0 <= attempt.duration_ms < 5000


def test_a_500_is_retried_after_1_minute_1_hour_and_6_hours_then_failed(
    setup, endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.status = 500
    with django_capture_on_commit_callbacks(execute=True):
        setup.submit()
    delivery = WebhookDelivery.objects.get()
    [first] = delivery.attempt_log.all()
    assert (delivery.status, delivery.attempts, delivery.last_result) == (DeliveryStatus.PENDING, 1, "HTTP 500")
    assert timedelta(seconds=60) <= delivery.next_attempt_at - first.attempted_at < timedelta(seconds=65)

    moments = []
    for wait in (timedelta(hours=1), timedelta(hours=6)):
        due = delivery.next_attempt_at
        assert webhook_deliveries_send_due(now=due - timedelta(seconds=1)) == {}, "not due yet"
        assert webhook_deliveries_send_due(now=due) == {"retry": 1}
        moments.append(due)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at == due + wait

    due = delivery.next_attempt_at
    assert webhook_deliveries_send_due(now=due) == {"failed": 1}
    moments.append(due)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.FAILED, 4, None)
    assert webhook_deliveries_send_due(now=due + timedelta(days=30)) == {}

    log = list(delivery.attempt_log.order_by("number"))
    assert [(a.number, a.response_status) for a in log] == [(1, 500), (2, 500), (3, 500), (4, 500)]
    assert [a.attempted_at for a in log[1:]] == moments
    assert len(receiver.requests) == 4
    assert len({r.body for r in receiver.requests}) == 1, "every retry sends the same bytes"
    assert [r.headers["Allot-Delivery-Attempt"] for r in receiver.requests] == ["1", "2", "3", "4"]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {str(delivery.event_id)}
    for request in receiver.requests:  # each retry signed afresh
        Webhook(endpoint.secret).verify(request.body, request.headers)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1 and endpoint.active


def test_a_retry_that_succeeds_ends_the_delivery(setup, endpoint, receiver):
    receiver.status = 502
    setup.submit()
    assert webhook_deliveries_send_due() == {"retry": 1}
    receiver.status = 204
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliveries_send_due(now=delivery.next_attempt_at) == {"sent": 1}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2 and delivery.last_result == "HTTP 204"
    assert [a.response_status for a in delivery.attempt_log.order_by("number")] == [502, 204]


def test_a_timeout_counts_as_a_failed_attempt(setup, endpoint, receiver, settings):
    settings.WEBHOOKS_TIMEOUT = 0.5
    receiver.delay = 2.0
    setup.submit()
    started = time.monotonic()
    assert webhook_deliveries_send_due() == {"retry": 1}
    assert time.monotonic() - started < 1.8
    delivery = WebhookDelivery.objects.get()
    [attempt] = delivery.attempt_log.all()
    assert attempt.response_status is None and attempt.error == "timeout after 0.5 s"
    assert 400 <= attempt.duration_ms < 1800
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_result == "timeout after 0.5 s"


def test_redirects_and_unreachable_servers_are_failures(setup, receiver):
    redirecting = WebhookEndpointFactory(organization=setup.org, url=receiver.url)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    WebhookEndpointFactory(organization=setup.org, url=f"http://127.0.0.1:{closed_port}/hooks")
    receiver.status = 302
    setup.submit()
    assert webhook_deliveries_send_due() == {"retry": 2}
    results = {d.endpoint_id == redirecting.pk: d.last_result for d in WebhookDelivery.objects.all()}
    assert results == {True: "HTTP 302", False: "connection refused"}
    assert len(receiver.requests) == 1, "the redirect is not followed"


def test_private_addresses_are_refused_at_send_time_too(setup, endpoint, receiver, settings):
    setup.submit()
    settings.WEBHOOKS_ALLOW_PRIVATE = False  # e.g. the name now resolves to 127.0.0.1 (DNS rebinding)
    assert webhook_deliveries_send_due() == {"retry": 1}
    [attempt] = WebhookAttempt.objects.all()
    assert attempt.error.startswith("refused:") and attempt.response_status is None
    assert receiver.requests == []


def test_an_inactive_endpoints_pending_deliveries_wait_until_it_is_back_on(setup, endpoint, receiver):
    setup.submit()
    webhook_endpoint_update(endpoint_id=endpoint.pk, changes={"active": False})
    assert webhook_deliveries_send_due() == {}
    assert webhook_delivery_send(delivery_id=WebhookDelivery.objects.get().pk) == "skipped"
    webhook_endpoint_update(endpoint_id=endpoint.pk, changes={"active": True})
    assert webhook_deliveries_send_due() == {"sent": 1}
    assert len(receiver.requests) == 1


def test_a_delivery_is_sent_once_and_a_worker_that_died_is_taken_over(setup, receiver):
    endpoint = WebhookEndpointFactory(organization=setup.org, url=receiver.url)
    delivery = WebhookDeliveryFactory(endpoint=endpoint)
    assert webhook_delivery_send(delivery_id=delivery.pk) == "sent"
    assert webhook_delivery_send(delivery_id=delivery.pk) == "skipped"
    now = timezone.now()
    held = WebhookDeliveryFactory(
        endpoint=endpoint, status=DeliveryStatus.SENDING, attempts=1, lease_until=now + timedelta(seconds=30)
    )
    assert webhook_deliveries_send_due(now=now) == {}, "another worker holds it"
    assert webhook_deliveries_send_due(now=now + timedelta(seconds=31)) == {"sent": 1}
    held.refresh_from_db()
    assert held.status == DeliveryStatus.SUCCEEDED and held.attempts == 2
    assert len(receiver.requests) == 2


def test_the_sweeper_command_sends_what_is_due(setup, endpoint, receiver, capsys):
    setup.submit()
    call_command("send_webhooks")
    assert "sent: 1" in capsys.readouterr().out
    assert len(receiver.requests) == 1


# === disabling ==========================================================================================


def fail_deliveries(org, count: int) -> None:
    """`count` deliveries that end FAILED: four attempts each, an hour apart and more."""
    for i in range(count):
        webhook_emit(organization=org, event_type="booking.submitted", payload={"n": i})
    now = timezone.now()
    for step in (timedelta(0), timedelta(minutes=2), timedelta(hours=2), timedelta(hours=9)):
        webhook_deliveries_send_due(now=now + step)


def test_an_endpoint_that_keeps_failing_is_disabled_and_owners_and_admins_are_emailed(
    setup, endpoint, receiver, mailoutbox, django_capture_on_commit_callbacks
):
    owner, admin, viewer = (UserFactory(email=f"{n}@example.org") for n in ("owner", "admin", "viewer"))
    MembershipFactory(user=owner, organization=setup.org, role=Role.OWNER)
    MembershipFactory(user=admin, organization=setup.org, role=Role.ADMIN)
    MembershipFactory(user=viewer, organization=setup.org, role=Role.VIEWER)
    receiver.status = 503
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        fail_deliveries(setup.org, 4)
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 4 and mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        fail_deliveries(setup.org, 1)
    endpoint.refresh_from_db()
    assert not endpoint.active and endpoint.consecutive_failures == 5 and endpoint.disabled_at
    assert "5 deliveries in a row failed" in endpoint.disabled_reason and "HTTP 503" in endpoint.disabled_reason
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).count() == 5

    [notification] = Notification.objects.filter(kind="webhook_endpoint_disabled")
    assert sorted(notification.recipients) == ["admin@example.org", "owner@example.org"]
    [mail] = mailoutbox
    assert sorted(mail.to) == ["admin@example.org", "owner@example.org"]
    assert "Webhook endpoint disabled" in mail.subject
    assert endpoint.url in mail.body and "HTTP 503" in mail.body and endpoint.secret not in mail.body
    [(html_body, mimetype)] = mail.alternatives
    assert mimetype == "text/html" and endpoint.url in html_body and endpoint.secret not in html_body

    # Off: new events are not written for it, and re-enabling starts over.
    requests = len(receiver.requests)
    setup.submit()
    assert not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()
    assert len(receiver.requests) == requests
    webhook_endpoint_update(endpoint_id=endpoint.pk, changes={"active": True})
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 0 and endpoint.disabled_at is None


def test_a_success_resets_the_failure_count(setup, endpoint, receiver):
    receiver.status = 500
    fail_deliveries(setup.org, 3)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 3
    receiver.status = 200
    setup.submit()
    assert webhook_deliveries_send_due() == {"sent": 1}
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.active


# === two senders ========================================================================================


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_senders_in_parallel_never_deliver_the_same_row_twice(receiver):
    endpoint = WebhookEndpointFactory(url=receiver.url)
    deliveries = WebhookDeliveryFactory.create_batch(40, endpoint=endpoint)
    receiver.delay = 0.01
    outcomes = race(2, lambda i: webhook_deliveries_send_due(limit=100))
    results = [value for _, value in outcomes]
    assert all(isinstance(r, dict) for r in results), results
    sent_ids = [r.headers["Allot-Delivery-Id"] for r in receiver.requests]
    assert Counter(sent_ids).most_common(1)[0][1] == 1, "a row was sent twice"
    assert sorted(sent_ids) == sorted(str(d.pk) for d in deliveries)
    assert sum(r.get("sent", 0) for r in results) == 40
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {(DeliveryStatus.SUCCEEDED, 1)}
    assert WebhookAttempt.objects.count() == 40
    assert WebhookEndpoint.objects.get().consecutive_failures == 0
