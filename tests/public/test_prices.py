"""The price on the public pages, without JavaScript: "Check availability" gives the estimate of free times,
and the confirmation page and the private page show it after submitting (the fixed price once approved).
Credit never shows: anyone may submit with any email address. Free resources have no price line."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from bookings.models import Booking, BookingCredit
from bookings.services import booking_approve
from resources.models import Rate, RateUnit
from tests.conftest import future

from .test_book import private_path

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


@pytest.fixture
def priced(site):
    return Rate.objects.create(resource=site.room, name="Standard", unit=RateUnit.HOUR, price=Decimal("20.00"))


def test_check_availability_shows_the_estimate(client, site, priced):
    start = future(7, 10)
    page = text(client.post(site.url("book"), site.post_data(start, start + timedelta(minutes=90), check="1")))
    assert "Estimated price: 30.00 GBP (fixed when your request is approved)." in page
    assert not Booking.objects.exists()


def test_the_confirmation_and_private_pages_show_the_price_but_never_credit(client, site, priced, mailoutbox,
                                                                             django_capture_on_commit_callbacks):
    BookingCredit.objects.create(organization=site.org, contact=site.org.contacts.create(
        name="Ada", email="ada@example.com"), amount=Decimal("100"), balance=Decimal("100"))
    start = future(7, 10)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(site.url("book"), site.post_data(start, start + timedelta(minutes=90)))
    assert response.status_code == 302
    sent = text(client.get(response["Location"]))
    assert "Estimated price: 30.00 GBP. The price is fixed when your request is approved" in sent
    booking = Booking.objects.get()
    assert booking.events.get().price["creditUsed"] == "30.00"  # staff see it; the booker does not
    [link] = {private_path(mail) for mail in mailoutbox if mail.to == ["ada@example.com"]}
    assert "Estimated price: 30.00 GBP" in text(client.get(link))
    booking_approve(booking_id=booking.pk, actor=site.staff, client_last_updated_at=None)
    private = text(client.get(link))
    assert "Price: 30.00 GBP" in private and "Estimated" not in private and "credit used" not in private.lower()


def test_free_resources_have_no_price_line(client, site):
    start = future(7, 10)
    response = client.post(site.url("book"), site.post_data(start, start + timedelta(hours=1)))
    assert "price" not in text(client.get(response["Location"])).lower()
    assert "Estimated price" not in text(client.post(site.url("book"), site.post_data(start, check="1")))
