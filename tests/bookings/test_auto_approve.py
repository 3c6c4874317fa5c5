"""Instant confirmation (docs/architecture.md#instant-confirmation): a module with `auto_approve` approves at once a
public request whose resources all do not require approval and that passes every rule (CONFIRMED events, the approval
email with the private link, the module admin's notice, a log row by the system); anything else keeps the pending
flow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache

from bookings.lifecycle.submit import AUTO_APPROVED_NOTE
from bookings.models import Booking, BookingLog, BookingStatus
from core.actor import ActorKind
from core.errors import BookingConflict, ValidationFailed
from events.models import Event, EventStatus
from notifications.models import Notification
from notifications.rendering import notification_bodies
from tests.api.conftest import Api, assert_error
from tests.conftest import Setup, future

BOOKER = "ada@example.com"
ADMIN = "admin@example.org"


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


def instant(setup: Setup, *resources) -> Setup:
    setup.module.auto_approve = True
    setup.module.save()
    for resource in resources or (setup.desks,):
        resource.requires_approval = False
        resource.save()
    return setup


def sent() -> list[tuple[str, tuple[str, ...]]]:
    return sorted((n.kind, tuple(n.recipients)) for n in Notification.objects.all())


@pytest.mark.django_db
@pytest.mark.parametrize("hold", [True, False])
def test_approved_at_once_when_allowed(hold):
    setup = instant(Setup(hold=hold))
    result = setup.submit(setup.event(resources=[setup.desks]))
    booking = Booking.objects.get(pk=result.booking.pk)
    assert booking.status == BookingStatus.APPROVED and result.booking.status == BookingStatus.APPROVED
    assert booking.decided_by is None and booking.decided_at is not None
    [event] = result.events
    assert Event.objects.get(pk=event.pk).status == EventStatus.CONFIRMED
    assert booking.requested_times.get().event_id == event.pk
    assert result.access_token
    assert sent() == [("admin_booking_auto_approved", (ADMIN,)), ("booking_approved", (BOOKER,))]
    approval = notification_bodies(Notification.objects.get(kind="booking_approved"))
    assert f"/b/{result.access_token}/" in approval.body_text  # the only email: it carries the private link
    log = list(BookingLog.objects.filter(booking=booking).values_list("action", "actor_kind", "note"))
    assert log == [("submit", ActorKind.BOOKER, ""), ("approve", ActorKind.SYSTEM, AUTO_APPROVED_NOTE)]


def test_pending_when_the_resource_requires_approval(setup):
    setup.module.auto_approve = True
    setup.module.save()  # desks still require approval (the default)
    result = setup.submit(setup.event(resources=[setup.desks]))
    assert result.booking.status == BookingStatus.PENDING
    assert [e.status for e in result.events] == [EventStatus.TENTATIVE]
    assert sent() == [("admin_new_request", (ADMIN,)), ("booking_received", (BOOKER,))]


def test_pending_when_the_module_does_not_auto_approve(setup):
    instant(setup)
    setup.module.auto_approve = False
    setup.module.save()
    assert setup.submit(setup.event(resources=[setup.desks])).booking.status == BookingStatus.PENDING


def test_a_request_mixing_both_stays_pending(setup):
    instant(setup, setup.desks)  # the room still requires approval
    result = setup.submit(setup.event(resources=[setup.desks]), setup.event(future(days=9), resources=[setup.room]))
    assert result.booking.status == BookingStatus.PENDING
    assert {e.status for e in result.events} == {EventStatus.TENTATIVE}
    # One time with both resources, too.
    both = setup.submit(setup.event(future(days=10), resources=[setup.desks, setup.room]), email="g@example.com")
    assert both.booking.status == BookingStatus.PENDING


def test_a_rule_failure_still_gives_the_normal_error(setup):
    instant(setup)
    setup.desks.max_duration_minutes = 60
    setup.desks.save()
    start = future()
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(setup.event(start, start + timedelta(hours=2), resources=[setup.desks]))
    assert [e.code for e in caught.value.errors] == ["TOO_LONG"]
    assert Booking.objects.count() == 0 and Notification.objects.count() == 0


def test_a_conflict_still_gives_the_normal_error(setup):
    instant(setup, setup.room)
    first = setup.submit(setup.event())
    assert first.booking.status == BookingStatus.APPROVED
    with pytest.raises(BookingConflict) as caught:
        setup.submit(setup.event(), email="grace@example.com")
    assert caught.value.errors[0].meta["conflictingEventIds"] == [str(first.events[0].pk)]
    assert Booking.objects.count() == 1


def test_staff_create_pending_is_not_auto_approved(setup):
    from bookings.lifecycle.submit import booking_create

    instant(setup)
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        contact={"name": "Ada", "email": BOOKER},
        events=[setup.event(resources=[setup.desks])],
    )
    assert result.booking.status == BookingStatus.PENDING


def submit_body(setup: Setup, **event) -> dict:
    return {
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "contact": {"name": "Ada", "email": BOOKER},
        "event": setup.event(**event),
    }


def test_api_returns_the_approved_booking(setup):
    instant(setup)
    api = Api(setup)
    response = api.public.post("/api/v1/bookings/submit", submit_body(setup, resources=[setup.desks]), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["booking"]["status"] == BookingStatus.APPROVED and body["accessToken"]
    assert body["booking"]["events"][0]["eventId"]
    pending = api.public.post("/api/v1/bookings/submit", submit_body(setup, resources=[setup.room]), format="json")
    assert pending.json()["booking"]["status"] == BookingStatus.PENDING


def test_api_refuses_a_rule_failure_on_an_auto_approving_module(setup):
    instant(setup)
    setup.desks.min_notice_minutes = 60 * 24 * 30
    setup.desks.save()
    response = Api(setup).public.post(
        "/api/v1/bookings/submit", submit_body(setup, resources=[setup.desks]), format="json"
    )
    assert_error(response, 400, "START_TIME_TOO_LATE")


def test_module_api_reads_and_writes_auto_approve(setup):
    api = Api(setup)
    url = f"/api/v1/booking-modules/{setup.module.pk}"
    assert api.admin.get(url).json()["config"]["autoApprove"] is False
    response = api.admin.patch(url, {"config": {"autoApprove": True}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["config"]["autoApprove"] is True
    setup.module.refresh_from_db()
    assert setup.module.auto_approve is True
    public = api.public.get(f"/api/v1/public/booking-modules/{setup.module.pk}").json()
    assert public["config"]["autoApprove"] is True


def test_public_form_confirms_at_once(setup, client):
    instant(setup)
    start = future()
    url = f"/p/{setup.portal.slug}/{setup.module.slug}/book/"
    response = client.post(
        url,
        {
            "contact-name": "Ada",
            "contact-email": BOOKER,
            "event_count": "1",
            "events-0-title": "Desk day",
            "events-0-resourceIds": str(setup.desks.pk),
            "events-0-start": start.strftime("%Y-%m-%dT%H:%M"),
            "events-0-end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "action": "submit",
        },
        follow=True,
    )
    assert response.status_code == 200
    booking = Booking.objects.get()
    assert booking.status == BookingStatus.APPROVED
    assert "your booking is confirmed" in response.content.decode()
    assert sent() == [("admin_booking_auto_approved", (ADMIN,)), ("booking_approved", (BOOKER,))]
