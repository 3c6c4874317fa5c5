"""GET /b/<token>/events.ics: the booker's own events, from their private page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import resolve, reverse
from icalendar import Calendar

from bookings.ics import booking_event_uid
from bookings.lifecycle.change_requests import booking_cancel_by_booker
from bookings.lifecycle.decide import booking_approve, booking_cancel, booking_deny
from bookings.models import BookingEvent
from core.actor import Actor
from events.services.single import event_update

from ..conftest import future

pytestmark = pytest.mark.django_db


def ics_url(token: str) -> str:
    return reverse("feeds:booking_events", kwargs={"token": token})


def fetch(token: str) -> dict:
    response = Client().get(ics_url(token))
    assert response.status_code == 200, response.content[:300]
    return {str(v["uid"]): v for v in Calendar.from_ical(response.content).walk("VEVENT")}


def approve(setup, booking):
    booking.refresh_from_db()
    return booking_approve(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=booking.updated_at)


def test_the_url_is_beside_the_private_page_and_does_not_shadow_it(setup):
    token = setup.submit().access_token

    assert ics_url(token) == f"/b/{token}/events.ics"
    assert resolve(f"/b/{token}/").view_name == "public:private"
    assert resolve(f"/b/{token}/events.ics").view_name == "feeds:booking_events"


def test_a_pending_request_is_tentative_at_the_requested_times(setup):
    first, second = future(5, 9), future(6, 14)
    result = setup.submit(
        setup.event(start=first, title="Rehearsal"), setup.event(start=second, resources=[setup.hall], title="Concert")
    )
    booking_events = list(BookingEvent.objects.filter(booking=result.booking).order_by("order"))

    events = fetch(result.access_token)

    # The same UIDs as the confirmation email's attachment, so a later copy updates those entries.
    assert list(events) == [booking_event_uid(be) for be in booking_events]
    rehearsal, concert = events.values()
    assert [str(v["status"]) for v in events.values()] == ["TENTATIVE", "TENTATIVE"]
    assert (rehearsal.decoded("dtstart"), rehearsal.decoded("dtend")) == (first, first + timedelta(hours=1))
    assert concert.decoded("dtstart") == second
    assert str(concert["summary"]) == "Concert" and "Hall" in str(concert["location"])


def test_a_module_that_does_not_hold_slots_still_lists_the_request(setup_no_hold):
    result = setup_no_hold.submit()

    [vevent] = fetch(result.access_token).values()

    assert str(vevent["status"]) == "TENTATIVE"


def test_approved_events_are_confirmed_and_follow_the_events_times(setup):
    result = setup.submit(setup.event(start=future(5, 9)))
    [be] = BookingEvent.objects.filter(booking=result.booking)
    [event] = approve(setup, result.booking).events
    before = fetch(result.access_token)[booking_event_uid(be)]
    assert str(before["status"]) == "CONFIRMED"

    # Staff move the event: the booker's file shows the event's new times, under the same UID.
    event_update(
        event=event,
        start=event.start + timedelta(hours=3),
        end=event.end + timedelta(hours=3),
        resource_ids=[setup.hall.pk],
    )
    after = fetch(result.access_token)[booking_event_uid(be)]

    assert after.decoded("dtstart") == event.start + timedelta(hours=3)
    assert "Hall" in str(after["location"])
    assert int(after["sequence"]) >= int(before["sequence"])


@pytest.mark.parametrize("ending", ["deny", "cancel", "cancel_delete", "booker_cancels_pending"])
def test_a_denied_or_canceled_booking_cancels_the_entries(setup, ending):
    result = setup.submit()
    booking = result.booking
    if ending == "deny":
        booking_deny(booking_id=booking.pk, actor=setup.staff, client_last_updated_at=booking.updated_at)
    elif ending == "booker_cancels_pending":
        booking_cancel_by_booker(booking_id=booking.pk, actor=Actor.booker(booking.booker_email))
    else:
        approve(setup, booking)
        booking_cancel(booking_id=booking.pk, actor=setup.staff, event_procedure=1 if ending == "cancel_delete" else 0)

    [(uid, vevent)] = fetch(result.access_token).items()

    assert uid == booking_event_uid(BookingEvent.objects.get(booking=booking))
    assert str(vevent["status"]) == "CANCELLED"


def test_only_the_booking_behind_the_token_and_nothing_private(setup):
    mine = setup.submit(setup.event(start=future(5, 9), title="Mine"))
    theirs = setup.submit(setup.event(start=future(5, 13), title="Theirs"), email="bob@example.com", name="Bob")
    mine.booking.internal_notes = "Staff only: difficult customer"
    mine.booking.save()

    response = Client().get(ics_url(mine.access_token))

    body = response.content.decode()
    assert "Mine" in body and "Theirs" not in body and "Bob" not in body
    assert "difficult customer" not in body
    assert mine.access_token not in body and "/b/" not in body  # never the private link
    assert theirs.access_token


def test_headers_keep_the_private_link_out_of_caches_and_referers(setup):
    result = setup.submit(setup.event(title="Team meeting"))

    response = Client().get(ics_url(result.access_token))

    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="team-meeting.ics"'
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]


def test_a_wrong_token_is_a_plain_404(setup, org_feed):
    result = setup.submit()
    booking = result.booking
    for bad in ("not-the-token", result.access_token[:-1] + "x", booking.access_token_hash, org_feed.token):
        response = Client().get(ics_url(bad))
        assert response.status_code == 404, bad
        assert response.content == b"Not found.\n"
        assert response["Cache-Control"] == "no-store"
    # Nor is a booker's token a feed token.
    assert Client().get(reverse("feeds:feed", kwargs={"token": result.access_token})).status_code == 404


def test_a_constant_number_of_queries(setup, django_assert_num_queries):
    one = setup.submit(setup.event(start=future(4, 9)))
    many = setup.submit(*[setup.event(start=future(5 + i, 9), resources=[setup.room, setup.hall]) for i in range(6)])
    approve(setup, many.booking)
    # The booking, its events with their Events, their resources, the Events' reservations, the module's admin.
    with django_assert_num_queries(5):
        assert len(fetch(one.access_token)) == 1
    with django_assert_num_queries(5):
        assert len(fetch(many.access_token)) == 6
