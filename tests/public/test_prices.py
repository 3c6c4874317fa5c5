"""The price on the public pages, without JavaScript: "Check availability" gives the estimate of free times,
and the confirmation page and the private page show it after submitting (the fixed price once approved).
Credit never shows: anyone may submit with any email address. Free resources have no price line."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from bookings.lifecycle.decide import booking_approve
from bookings.models import Booking
from resources.models import RateUnit
from tests.conftest import future
from tests.factories import BookingCreditFactory, ContactFactory, DiscountCodeFactory, RateFactory

from .test_book import private_path

pytestmark = pytest.mark.django_db


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


@pytest.fixture
def priced(site):
    return RateFactory(resource=site.room, name="Standard", unit=RateUnit.HOUR, price=Decimal("20.00"))


def test_check_availability_shows_the_estimate(client, site, priced):
    start = future(7, 10)
    page = text(client.post(site.url("book"), site.post_data(start, start + timedelta(minutes=90), check="1")))
    assert "Estimated price: 30.00 GBP (fixed when your request is approved)." in page
    assert not Booking.objects.exists()


def test_the_confirmation_and_private_pages_show_the_price_but_never_credit(
    client, site, priced, mailoutbox, django_capture_on_commit_callbacks
):
    ada = ContactFactory(organization=site.org, name="Ada", email="ada@example.com")
    BookingCreditFactory(organization=site.org, contact=ada, amount=Decimal("100"), balance=Decimal("100"))
    start = future(7, 10)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(site.url("book"), site.post_data(start, start + timedelta(minutes=90)))
    assert response.status_code == 302
    sent = text(client.get(response["Location"]))
    assert "Estimated price: 30.00 GBP. The price is fixed when your request is approved" in sent
    booking = Booking.objects.get()
    assert booking.requested_times.get().price["creditUsed"] == "30.00"  # staff see it; the booker does not
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


# --- the discount code ----------------------------------------------------------------------------------


@pytest.fixture
def spring(site):
    return DiscountCodeFactory(organization=site.org, code="SPRING10", percentage=Decimal("10"))


def discount_input(response) -> str | None:
    """The discount code's <input> as sent, or None when the form has none."""
    match = re.search(r'<input[^>]*name="discountCode"[^>]*>', response.content.decode())
    return match.group(0) if match else None


def test_the_discount_code_input_shows_only_when_something_has_a_price(client, site):
    assert discount_input(client.get(site.url("book"))) is None
    RateFactory(resource=site.room, name="Standard", unit=RateUnit.HOUR, price=Decimal("20.00"))
    shown = discount_input(client.get(site.url("book")))
    assert shown is not None and 'id="id_discountCode"' in shown
    assert '<label class="label" for="id_discountCode">Discount code' in client.get(site.url("book")).content.decode()


def test_a_valid_code_comes_off_the_estimate_and_the_booking(
    client, site, priced, spring, django_capture_on_commit_callbacks
):
    start = future(7, 10)
    checked = text(
        client.post(
            site.url("book"), site.post_data(start, start + timedelta(minutes=90), check="1", discountCode=" spring10 ")
        )
    )
    # 90 minutes at 20.00 an hour is 30.00; 10 % off is 3.00.
    assert "Estimated price: 27.00 GBP (fixed when your request is approved)." in checked
    assert "30.00" not in checked
    assert not Booking.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            site.url("book"), site.post_data(start, start + timedelta(minutes=90), discountCode="spring10")
        )
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert booking.discount_code == spring
    sent = text(client.get(response["Location"]))
    assert "Estimated price: 27.00 GBP (discount 3.00 GBP included)." in sent


def test_an_invalid_code_is_said_at_its_input_and_keeps_the_answers(client, site, priced, spring):
    start = future(7, 10)
    data = site.post_data(
        start, start + timedelta(minutes=90), discountCode="WINTER99", requestNote="We bring our own chairs."
    )
    response = client.post(site.url("book"), data)
    assert response.status_code == 200
    assert not Booking.objects.exists()
    html = response.content.decode()
    field_error = re.search(r'<p class="field-error" id="id_discountCode-error">(.*?)</p>', html)
    assert field_error is not None and "There is no such discount code." in field_error.group(1)
    assert '<a href="#id_discountCode">There is no such discount code.</a>' in html
    assert 'aria-describedby="id_discountCode-error id_discountCode-help"' in discount_input(response)
    assert 'value="WINTER99"' in discount_input(response)
    assert 'value="Ada Lovelace"' in html and 'value="Choir rehearsal"' in html
    assert f'value="{data["events-0-start"]}"' in html and "We bring our own chairs.</textarea>" in html
    # "Check availability" says it too, and gives no estimate that would look discounted.
    checked = client.post(site.url("book"), {**data, "check": "1"})
    assert '<a href="#id_discountCode">There is no such discount code.</a>' in checked.content.decode()
    assert "Estimated price" not in text(checked)
    assert not Booking.objects.exists()
