"""The Event admin's Delete occurrence page on a booking's events (docs/architecture.md#series): it says what
happens to the booking, and whether the booker is emailed when the deletion cancels their booking."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.models import Booking, BookingLog, BookingStatus
from notifications.models import Notification
from tests.series import make_booked_series, make_series


def url(pk) -> str:
    return reverse("admin:events_event_delete_occurrence", args=[pk])


def test_the_page_of_a_booked_event_offers_to_email_the_booker(setup, manager_client):
    _, _, events = make_booked_series(setup, count=2)
    html = manager_client.get(url(events[0].pk)).content.decode()
    assert 'name="notify_booker"' in html and "checked" in html.split('name="notify_booker"')[1].split(">")[0]
    assert "the booking is canceled and the booker emailed" in html


def test_the_page_of_an_event_without_a_booking_does_not(setup, manager_client):
    _, events = make_series(setup, count=2)
    html = manager_client.get(url(events[0].pk)).content.decode()
    assert 'name="notify_booker"' not in html


@pytest.mark.parametrize(("ticked", "emails"), [(True, ["booking_canceled"]), (False, [])], ids=["email", "no-email"])
def test_deleting_every_event_cancels_the_booking(setup, manager_client, ticked, emails):
    booking, _, events = make_booked_series(setup, count=2)
    data = {"which": "5", **({"notify_booker": "on"} if ticked else {})}
    response = manager_client.post(url(events[0].pk), data)
    assert response.status_code == 302
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELED
    assert list(Notification.objects.values_list("kind", flat=True)) == emails
    log = BookingLog.objects.filter(booking=booking).order_by("created_at").last()
    assert (log.action, log.actor_user, log.after["status"]) == ("events_deleted", setup.manager, 3)
