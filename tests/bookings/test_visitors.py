"""Visitors of a booking (docs/architecture.md#visitors): stored with the request, at most the smallest capacity of its
resources, one-line names (they reach email headers), invited by email when the booking is approved and not before."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from icalendar import Calendar

from bookings.lifecycle.decide import booking_approve, booking_deny
from bookings.lifecycle.submit import booking_create
from bookings.models import BookingStatus, BookingVisitor
from core.errors import ValidationFailed
from notifications.models import Notification
from notifications.rendering import notification_bodies
from notifications.services import NotificationSpec
from tests.api.conftest import Api, assert_error
from tests.conftest import future

NEW_YORK = ZoneInfo("America/New_York")
GUESTS = [{"name": "Grace Hopper", "email": "Grace@Example.com"}, {"name": "Alan Turing", "email": "alan@example.com"}]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()
    yield
    cache.clear()


def invitations() -> list[Notification]:
    return list(Notification.objects.filter(kind="visitor_invitation").order_by("created_at"))


def test_visitors_are_stored_and_shown(setup):
    result = setup.submit(setup.event(), visitors=GUESTS)
    assert list(result.booking.visitors.values_list("name", "email")) == [
        ("Grace Hopper", "grace@example.com"),
        ("Alan Turing", "alan@example.com"),
    ]
    from bookings.selectors import booking_payload

    assert booking_payload(result.booking, staff=False)["visitors"] == [
        {"name": "Grace Hopper", "email": "grace@example.com"},
        {"name": "Alan Turing", "email": "alan@example.com"},
    ]


def test_at_most_the_smallest_capacity(setup):
    setup.room.capacity = 2
    setup.room.save()
    three = [*GUESTS, {"name": "Ada", "email": "ada2@example.com"}]
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(setup.event(resources=[setup.room, setup.hall]), visitors=three)
    assert [(e.field, e.code) for e in caught.value.errors] == [("visitors", "CAPACITY_EXCEEDED")]
    assert BookingVisitor.objects.count() == 0
    assert setup.submit(setup.event(resources=[setup.room, setup.hall]), visitors=GUESTS)


@pytest.mark.parametrize(
    ("visitor", "field", "code"),
    [
        ({"name": "Eve\r\nBcc: victim@example.com", "email": "eve@example.com"}, "visitors[0].name", "INVALID"),
        ({"name": "Eve\u2028Bcc: victim@example.com", "email": "eve@example.com"}, "visitors[0].name", "INVALID"),
        ({"name": "Eve", "email": "eve@example.com\nBcc: victim@example.com"}, "visitors[0].email", "INVALID"),
        ({"name": "Eve", "email": "not an email"}, "visitors[0].email", "INVALID"),
        ({"name": "", "email": "eve@example.com"}, "visitors[0].name", "REQUIRED"),
        ({"name": "Eve"}, "visitors[0].email", "REQUIRED"),
        ({"name": "Eve", "email": "eve@example.com", "phone": "1"}, "visitors[0].phone", "UNKNOWN_FIELD"),
        ("Eve", "visitors[0]", "INVALID"),
    ],
)
def test_bad_visitors_are_refused(setup, visitor, field, code):
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(setup.event(), visitors=[visitor])
    assert (field, code) in [(e.field, e.code) for e in caught.value.errors]
    assert BookingVisitor.objects.count() == 0 and Notification.objects.count() == 0


def test_one_email_once_per_booking(setup):
    with pytest.raises(ValidationFailed) as caught:
        setup.submit(setup.event(), visitors=[*GUESTS, {"name": "G. Hopper", "email": "grace@EXAMPLE.com"}])
    assert [(e.field, e.code) for e in caught.value.errors] == [("visitors[2].email", "DUPLICATE")]


def test_invited_on_approval_and_not_before(setup):
    setup.venue.timezone = "America/New_York"
    setup.venue.save()
    start = future(days=10, hour=10, tz=NEW_YORK)
    result = setup.submit(setup.event(start), visitors=GUESTS)
    assert invitations() == []  # pending: no invitation yet
    booking_approve(booking_id=result.booking.pk, actor=setup.staff, client_last_updated_at=None)
    sent = invitations()
    assert [n.recipients for n in sent] == [["grace@example.com"], ["alan@example.com"]]
    assert sent[0].subject == "You are invited: Team meeting"
    grace = notification_bodies(sent[0])
    assert "Hello Grace Hopper" in grace.body_text and "Ada Lovelace invited you" in grace.body_text
    assert f"{start:%a %d %b %Y, %H:%M}" in grace.body_text and "America/New_York" in grace.body_text
    assert "/b/" not in grace.body_text and "/b/" not in grace.body_html  # never the booker's private link
    [attachment] = grace.attachments
    calendar = Calendar.from_ical(attachment["content"])
    [vevent] = calendar.walk("VEVENT")
    assert vevent.decoded("dtstart") == start
    assert all(v.invited_at is not None for v in result.booking.visitors.all())


def test_not_invited_when_denied_or_when_staff_send_no_email(setup):
    denied = setup.submit(setup.event(), visitors=GUESTS)
    booking_deny(booking_id=denied.booking.pk, actor=setup.staff, client_last_updated_at=None)
    quiet = setup.submit(setup.event(future(days=12)), visitors=GUESTS, email="other@example.com")
    booking_approve(
        booking_id=quiet.booking.pk,
        actor=setup.staff,
        client_last_updated_at=None,
        notification=NotificationSpec(send=False),
    )
    assert invitations() == []


def test_staff_create_approved_invites_when_notifying(setup):
    result = booking_create(
        module=setup.module,
        actor=setup.staff,
        status=BookingStatus.APPROVED,
        contact={"name": "Ada", "email": "ada@example.com"},
        events=[setup.event()],
        visitors=GUESTS[:1],
        notification=NotificationSpec(),
    )
    assert [n.recipients for n in invitations()] == [["grace@example.com"]]
    assert result.booking.visitors.get().invited_at is not None


def test_auto_approval_invites_at_once(setup):
    setup.module.auto_approve = True
    setup.module.save()
    setup.room.requires_approval = False
    setup.room.save()
    setup.submit(setup.event(), visitors=GUESTS)
    assert len(invitations()) == 2


def submit_body(setup, **extra) -> dict:
    return {
        "orgId": str(setup.org.pk),
        "bookingModuleId": str(setup.module.pk),
        "portalId": str(setup.portal.pk),
        "contact": {"name": "Ada", "email": "ada@example.com"},
        "event": setup.event(),
        **extra,
    }


def test_api_takes_and_shows_visitors(setup):
    api = Api(setup)
    response = api.public.post("/api/v1/bookings/submit", submit_body(setup, visitors=GUESTS), format="json")
    assert response.status_code == 201, response.json()
    assert [v["email"] for v in response.json()["booking"]["visitors"]] == ["grace@example.com", "alan@example.com"]
    booking_id = response.json()["booking"]["id"]
    shown = api.viewer.get(f"/api/v1/bookings/{booking_id}").json()["booking"]
    assert shown["visitors"] == response.json()["booking"]["visitors"]
    bad = api.public.post(
        "/api/v1/bookings/submit",
        submit_body(setup, visitors=[{"name": "A\u2029B", "email": "x@example.com"}]),
        format="json",
    )
    assert_error(bad, 400, "INVALID", "visitors[0].name")
    setup.room.capacity = 1
    setup.room.save()
    over = api.public.post("/api/v1/bookings/submit", submit_body(setup, visitors=GUESTS), format="json")
    assert_error(over, 400, "CAPACITY_EXCEEDED", "visitors")


def test_public_form_takes_visitors(setup, client):
    start = future()
    url = f"/p/{setup.portal.slug}/{setup.module.slug}/book/"
    page = client.get(url).content.decode()
    assert page.count('name="visitor-') == 6  # three blank rows of name and email
    data = {
        "contact-name": "Ada",
        "contact-email": "ada@example.com",
        "event_count": "1",
        "events-0-title": "Choir",
        "events-0-resourceIds": str(setup.room.pk),
        "events-0-start": start.strftime("%Y-%m-%dT%H:%M"),
        "events-0-end": start.replace(hour=11).strftime("%Y-%m-%dT%H:%M"),
        "action": "submit",
        "visitor-0-name": "Grace Hopper",
        "visitor-0-email": "grace@example.com",
        "visitor-2-name": "Alan",
        "visitor-2-email": "not-an-email",
    }
    refused = client.post(url, data)
    assert refused.status_code == 200 and BookingVisitor.objects.count() == 0
    assert 'value="Grace Hopper"' in refused.content.decode()  # nothing typed is lost
    assert "Email must be an email address." in refused.content.decode()
    data["visitor-2-email"] = "alan@example.com"
    assert client.post(url, data).status_code == 302
    assert sorted(BookingVisitor.objects.values_list("email", flat=True)) == ["alan@example.com", "grace@example.com"]


VISITOR_LIMIT = "Too many visitors: the chosen resources take at most 1."


def test_a_public_caller_with_too_many_visitors_is_told_about_visitors(setup):
    """The limit is the request's own, not other bookings in the way: never "fully booked"."""
    setup.room.capacity = 1
    setup.room.save()
    response = Api(setup).public.post("/api/v1/bookings/submit", submit_body(setup, visitors=GUESTS), format="json")
    body = assert_error(response, 400, "CAPACITY_EXCEEDED", "visitors")
    assert [(e["field"], e["message"]) for e in body["errors"]] == [("visitors", VISITOR_LIMIT)]


def test_the_public_form_names_visitors_when_there_are_too_many(setup, client):
    setup.room.capacity = 1
    setup.room.save()
    start = future()
    url = f"/p/{setup.portal.slug}/{setup.module.slug}/book/"
    data = {
        "contact-name": "Ada",
        "contact-email": "ada@example.com",
        "event_count": "1",
        "events-0-title": "Choir",
        "events-0-resourceIds": str(setup.room.pk),
        "events-0-start": start.strftime("%Y-%m-%dT%H:%M"),
        "events-0-end": start.replace(hour=11).strftime("%Y-%m-%dT%H:%M"),
        "action": "submit",
        "visitor-0-name": "Grace Hopper",
        "visitor-0-email": "grace@example.com",
        "visitor-1-name": "Alan Turing",
        "visitor-1-email": "alan@example.com",
    }
    refused = client.post(url, data)
    page = refused.content.decode()
    assert refused.status_code == 200 and BookingVisitor.objects.count() == 0
    assert VISITOR_LIMIT in page and "fully booked" not in page
